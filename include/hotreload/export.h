// HOTRELOAD_EXPORT marks the public API: libhotreload.so is built with hidden visibility
// (-fvisibility=hidden), so these classes and functions are the only symbols it exports.
// In a static library the mark changes nothing.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define HOTRELOAD_EXPORT __attribute__((visibility("default")))
#else
#define HOTRELOAD_EXPORT
#endif
