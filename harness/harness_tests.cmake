# The harness's tests, included from tests/CMakeLists.txt (so enable_testing() applies):
# the simulated seams' own tests, the scheduler, the RapidCheck properties of every
# degradation row, the mutants (each must be caught), and the two campaigns.
find_package(rapidcheck REQUIRED)

set(HOTRELOAD_HARNESS_TEST_SOURCES
  ${PROJECT_SOURCE_DIR}/tests/main_test.cc
  ${PROJECT_SOURCE_DIR}/tests/sim_filesystem_test.cc
  ${PROJECT_SOURCE_DIR}/tests/harness_scheduler_test.cc
  ${PROJECT_SOURCE_DIR}/tests/harness_properties_test.cc
  ${PROJECT_SOURCE_DIR}/tests/sim_differential_test.cc
)
add_executable(hotreload_harness_tests ${HOTRELOAD_HARNESS_TEST_SOURCES})
target_link_libraries(hotreload_harness_tests PRIVATE hotreload_harness rapidcheck
                      rapidcheck_boost_test Boost::unit_test_framework)
target_compile_definitions(hotreload_harness_tests PRIVATE BOOST_TEST_DYN_LINK)

hotreload_add_suites(hotreload_harness_tests ${HOTRELOAD_HARNESS_TEST_SOURCES})
# RapidCheck: 2,000 cases per row property (the mutants' properties run as many: a control
# that ran fewer could pass where its mutant's search was longer), fixed seed in CI so a
# red run replays. A
# sanitizer build looks for memory and thread errors, not for new interleavings: it runs
# fewer cases and a shorter campaign (each is ~100x slower there).
if(HOTRELOAD_SANITIZE)
  set(HOTRELOAD_PROPERTY_CASES 100)
  set(HOTRELOAD_DIFFERENTIAL_CASES 50)
  set(HOTRELOAD_CAMPAIGN_OPS 100000)
else()
  set(HOTRELOAD_PROPERTY_CASES 2000)
  set(HOTRELOAD_DIFFERENTIAL_CASES 300)
  set(HOTRELOAD_CAMPAIGN_OPS 1000000)
endif()
foreach(row file_deleted dir_deleted unreadable bad_symlink swap_mid_read rejected
        partial_write too_large no_events lost_events inotify_limits initial_load
        torn_publish keys_added_removed one_key_invalid ancestor_renamed hung mixed
        relinked_key)
  set_tests_properties(property_${row} PROPERTIES ENVIRONMENT "RC_PARAMS=seed=20261126 max_success=${HOTRELOAD_PROPERTY_CASES}")
endforeach()

# The simulation against the kernel (tmpfs, real inotify): generated sequences at a fixed
# seed; `RC_PARAMS=max_success=5000` for a longer search.
set_tests_properties(sim_differential PROPERTIES
                     ENVIRONMENT "RC_PARAMS=seed=20261129 max_success=${HOTRELOAD_DIFFERENTIAL_CASES}")

if(HOTRELOAD_BUILD_MUTANTS)
# Each mutant breaks one row's decision. Two tests per mutant, each passing only if the
# mutant is CAUGHT by the invariant it breaks (another violation, or an error, is a harness
# fault, not a catch): the seeded campaign of that row, and that row's RapidCheck property
# (which then counts only that invariant as a failure, and must report it falsified).
add_library(hotreload_property_objects OBJECT ${PROJECT_SOURCE_DIR}/tests/main_test.cc
            ${PROJECT_SOURCE_DIR}/tests/harness_properties_test.cc)
target_link_libraries(hotreload_property_objects PUBLIC hotreload_harness rapidcheck
                      rapidcheck_boost_test Boost::unit_test_framework)
target_compile_definitions(hotreload_property_objects PUBLIC BOOST_TEST_DYN_LINK)
foreach(mutant ${HOTRELOAD_MUTANTS})
  string(REPLACE ":" ";" _fields "${mutant}")
  list(GET _fields 0 _name)
  list(GET _fields 2 _row)
  list(GET _fields 3 _invariant)
  add_test(NAME mutant_${_name}
           COMMAND hotreload_mutant_${_name} --row ${_row} --seed 1 --expect ${_invariant})
  set_tests_properties(mutant_${_name} PROPERTIES TIMEOUT 300)
  add_executable(hotreload_mutant_${_name}_properties
                 $<TARGET_OBJECTS:hotreload_mutant_core_${_name}>
                 $<TARGET_OBJECTS:hotreload_property_objects>)
  target_link_libraries(hotreload_mutant_${_name}_properties PRIVATE hotreload_harness
                        rapidcheck Boost::unit_test_framework OpenSSL::Crypto)
  add_test(NAME mutant_${_name}_property
           COMMAND hotreload_mutant_${_name}_properties --run_test=property_${_row})
  set_tests_properties(mutant_${_name}_property PROPERTIES TIMEOUT 300
                       ENVIRONMENT "RC_PARAMS=seed=20261126 max_success=${HOTRELOAD_PROPERTY_CASES};HOTRELOAD_EXPECT_INVARIANT=${_invariant}"
                       PASS_REGULAR_EXPRESSION "Falsifiable after [0-9]+ tests.*\n${_invariant}: ")
endforeach()
endif()

if(TARGET hotreload_cli)
  # At least 100,000 simulated ops on every CI run, bounded in wall time.
  add_test(NAME harness_campaign
           COMMAND hotreload_cli harness --seed 20261126 --ops ${HOTRELOAD_CAMPAIGN_OPS} --time-budget 150s)
  set_tests_properties(harness_campaign PROPERTIES TIMEOUT 300)
  # The mixed writer on real volumes: tmpfs, ext4 on a loop device, bindfs, the NFS-like
  # FUSE mount, and unreadable files as nobody; each named volume must run (CI is root).
  # 100 actions each here; `--real-actions 1000` is the full campaign (a few minutes).
  if(TARGET nfs_like)
    set(_nfs_like $<TARGET_FILE:nfs_like>)
  else()
    set(_nfs_like nfs_like)  # not built (no libfuse3-dev): the test fails, and says why
  endif()
  add_test(NAME harness_real_campaign
           COMMAND hotreload_cli harness --seed 7 --ops 0 --real /tmp --real-actions 100
                   --real-only tmpfs,ext4,bindfs,nfs_like,unreadable --nfs-like ${_nfs_like})
  set_tests_properties(harness_real_campaign PROPERTIES TIMEOUT 300)
  # A bad flag is a clear sentence and exit code 2.
  add_test(NAME harness_bad_flags COMMAND sh -c
           "out=$(\"$0\" harness --ops banana 2>&1); rc=$?; echo \"$out\"; test $rc -eq 2 && echo \"$out\" | grep -q 'ops wants a non-negative integer'"
           $<TARGET_FILE:hotreload_cli>)
endif()
