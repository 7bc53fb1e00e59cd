# Installing hotreload the way C++ users consume it (included from the top CMakeLists.txt
# when HOTRELOAD_INSTALL is ON):
#   find_package(hotreload CONFIG REQUIRED)  ->  target hotreload::hotreload
#   pkg-config --cflags --libs hotreload
# Headers go to include/hotreload/. A shared and a static build may be installed into one
# prefix (the Debian package does): the CMake package then uses the shared library unless
# hotreload_USE_STATIC_LIBS is ON; pkg-config's -lhotreload finds the shared one, and
# `pkg-config --static` adds what the static one needs.
include(CMakePackageConfigHelpers)

set(HOTRELOAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hotreload)
if(BUILD_SHARED_LIBS)
  set(_kind shared)
else()
  set(_kind static)
endif()

install(TARGETS hotreload EXPORT hotreload-${_kind}-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/hotreload
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(EXPORT hotreload-${_kind}-targets NAMESPACE hotreload::
  DESTINATION ${HOTRELOAD_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hotreload-config.cmake.in
  ${PROJECT_BINARY_DIR}/hotreload-config.cmake INSTALL_DESTINATION ${HOTRELOAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hotreload-config-version.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hotreload-config.cmake
              ${PROJECT_BINARY_DIR}/hotreload-config-version.cmake
  DESTINATION ${HOTRELOAD_CMAKE_DIR} COMPONENT dev)

# pkg-config: relative to where the .pc file lands, so that any prefix works (a
# temporary one in the tests, /usr in the package).
file(RELATIVE_PATH HOTRELOAD_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" HOTRELOAD_PC_TO_PREFIX "${HOTRELOAD_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/hotreload.pc.in ${PROJECT_BINARY_DIR}/hotreload.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hotreload.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

include(${PROJECT_SOURCE_DIR}/cmake/package.cmake)
