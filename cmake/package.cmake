# Debian packages through CPack (ci/package builds them):
#   hotreload          the tool (linked with libhotreload statically), hotreload(1), bash
#                      completion
#   libhotreload-dev   headers, libhotreload.a and libhotreload.so.0, the CMake package and
#                      hotreload.pc
# Depends come from dpkg-shlibdeps, plus the -dev packages a user's build needs (spdlog's
# headers; libcrypto for the static library). A shared build of the library can be added
# to the -dev package with -DHOTRELOAD_PACKAGE_SHARED_BUILD=<its build directory>.
set(HOTRELOAD_PACKAGE_SHARED_BUILD "" CACHE PATH
    "A BUILD_SHARED_LIBS=ON build of hotreload whose library goes into libhotreload-dev too")
set(HOTRELOAD_PACKAGE_MAINTAINER "hotreload developers <dev@hotreload.invalid>" CACHE STRING
    "The Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME hotreload)
set(CPACK_PACKAGE_VENDOR hotreload)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "keeps a process's configuration in step with a file (Kubernetes ConfigMap volumes first)")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL tool dev)
if(HOTRELOAD_PACKAGE_SHARED_BUILD)
  set(CPACK_INSTALL_CMAKE_PROJECTS
      "${PROJECT_BINARY_DIR};hotreload;ALL;/"
      "${HOTRELOAD_PACKAGE_SHARED_BUILD};hotreload;ALL;/")
endif()

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${HOTRELOAD_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME hotreload)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION admin)
set(CPACK_COMPONENT_TOOL_DESCRIPTION
    "keeps a process's configuration in step with a file (Kubernetes ConfigMap first)
 hotreload watch validates every new content of the files it watches (JSON or YAML
 syntax, or a command of yours) and only then runs a command, sends a signal or POSTs a
 webhook, so that a bad or vanished file never reaches the service; it serves Prometheus
 metrics and logs JSON lines. hotreload probe measures how a volume behaves (inotify
 events or not, subPath mounts, stat cost) before you trust it.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libhotreload-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libspdlog-dev, libssl-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "C++20 library that keeps a configuration in step with a file
 FileWatcher calls back with each new content of a file (a Kubernetes ConfigMap key
 first: the kubelet's symlink swap is understood); Reloadable<T> parses and validates
 it into an immutable T that any thread reads without locks. A bad, vanished or
 unreadable file never replaces the last good one. Headers, static and shared library,
 CMake package (find_package(hotreload)) and pkg-config file.")

include(CPack)
