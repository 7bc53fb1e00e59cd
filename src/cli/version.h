// What `hotreload --version` prints: the version from CMake's project(VERSION) and the git
// revision the binary was built from (generated at build time by cmake/version.cmake).
#pragma once

namespace hotreload::cli {

extern const char* const kVersionText;  // "hotreload 0.1.0 (git 1a2b3c4d5e6f)"

}  // namespace hotreload::cli
