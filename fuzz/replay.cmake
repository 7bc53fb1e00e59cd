# The fuzz corpus as ctest tests: each fuzzer's entry point linked with fuzz/replay_main.cc
# instead of libFuzzer, built by the normal compiler, run over fuzz/corpus/<name>. Every
# regression seed there guards its fix in every build, not only in the clang fuzz build.
# Included from tests/CMakeLists.txt.

# FuzzedDataProvider.h is a header-only part of clang's libFuzzer; g++ can use it as is,
# copied alone (clang's include directory holds its own <stddef.h>, not for g++).
file(GLOB _hotreload_fdp_dirs /usr/lib/llvm-*/lib/clang/*/include/fuzzer)
find_file(HOTRELOAD_FUZZED_DATA_PROVIDER FuzzedDataProvider.h HINTS ${_hotreload_fdp_dirs})
if(HOTRELOAD_FUZZED_DATA_PROVIDER)
  set(HOTRELOAD_FUZZED_DATA_PROVIDER_DIR ${CMAKE_CURRENT_BINARY_DIR}/fuzzed_data_provider)
  configure_file(${HOTRELOAD_FUZZED_DATA_PROVIDER}
                 ${HOTRELOAD_FUZZED_DATA_PROVIDER_DIR}/fuzzer/FuzzedDataProvider.h COPYONLY)
endif()

set(_hotreload_fuzz_dir ${PROJECT_SOURCE_DIR}/fuzz)

# hotreload_fuzz_replay(<corpus name> <libraries>...)
function(hotreload_fuzz_replay name)
  add_executable(replay_${name} ${_hotreload_fuzz_dir}/${name}_fuzz.cc
                                ${_hotreload_fuzz_dir}/replay_main.cc)
  target_link_libraries(replay_${name} PRIVATE ${ARGN})
  if(HOTRELOAD_FUZZED_DATA_PROVIDER_DIR)
    target_include_directories(replay_${name} SYSTEM PRIVATE ${HOTRELOAD_FUZZED_DATA_PROVIDER_DIR})
  endif()
  add_test(NAME fuzz_corpus_${name}
           COMMAND replay_${name} ${_hotreload_fuzz_dir}/corpus/${name})
  set_tests_properties(fuzz_corpus_${name} PROPERTIES TIMEOUT 600)
endfunction()

hotreload_fuzz_replay(inotify_records hotreload_internal)
if(HOTRELOAD_FUZZED_DATA_PROVIDER_DIR)
  hotreload_fuzz_replay(consistent_read hotreload_internal hotreload_harness)
  hotreload_fuzz_replay(sim_ops hotreload_internal hotreload_harness)
else()
  message(WARNING "fuzz_corpus_sim_ops and fuzz_corpus_consistent_read not built: "
                  "fuzzer/FuzzedDataProvider.h not found (Debian: apt install libclang-rt-14-dev)")
endif()
if(TARGET hotreload_cli_core)
  hotreload_fuzz_replay(cli_validators hotreload_cli_core)
endif()
find_package(yaml-cpp QUIET)
find_package(nlohmann_json 3 QUIET)
if(yaml-cpp_FOUND AND nlohmann_json_FOUND AND TARGET hotreload_command_line)
  hotreload_fuzz_replay(example_parsers hotreload hotreload_command_line yaml-cpp
                        nlohmann_json::nlohmann_json)
  target_include_directories(replay_example_parsers PRIVATE ${PROJECT_SOURCE_DIR}/examples)
endif()
