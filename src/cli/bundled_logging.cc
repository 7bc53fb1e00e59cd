// spdlog and fmt, compiled into the tool (HOTRELOAD_STATIC_RUNTIME).
//
// Debian ships both only as shared libraries, and a shared spdlog or fmt brings the shared
// libstdc++ with it: 1.6 MB of a sidecar's resident set, most of it pages relocated at
// load. So the tool compiles their implementations here, from the headers of the same
// Debian packages, in their compiled-library mode (SPDLOG_COMPILED_LIB, as the rest of the
// build sees them), links libstdc++ statically, and lets the linker drop the shared
// libraries nobody needs (--as-needed). The library, the tests and the benchmarks link the
// shared spdlog and fmt as before.
//
// The headers define every non-template function. A template the tool instantiates with
// arguments of its own is instantiated below: a new sink type, or a fmt function the
// headers only declare, shows up as an undefined reference when the tool links.
#ifndef SPDLOG_COMPILED_LIB
#error "bundled_logging.cc provides spdlog's compiled library; build it with SPDLOG_COMPILED_LIB"
#endif

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/sinks/stdout_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

#include <fmt/format-inl.h>

// The sinks the tool makes: the colour console (the default logger, watch.cc), the null
// sink (watch_command.cc), and what they derive from.
template class spdlog::sinks::base_sink<spdlog::details::null_mutex>;
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_mutex>;

// What fmt's headers declare for char and leave to its library.
namespace fmt::detail {
template auto decimal_point_impl<char>(locale_ref) -> char;
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
}  // namespace fmt::detail
