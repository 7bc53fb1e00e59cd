// Result<T>: a value or the std::error_code that explains why there is none.
//
// The seams (Filesystem, EventSource) answer with Result so that exact errno values
// reach the watcher's decisions without exceptions or allocation.
#pragma once

#include <cassert>
#include <system_error>
#include <utility>
#include <variant>

namespace hotreload {

template <class T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(std::error_code error) : state_(error) {  // NOLINT(google-explicit-constructor)
    assert(error && "a Result error must be a real error");
  }

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  std::error_code error() const noexcept {
    return ok() ? std::error_code{} : std::get<1>(state_);
  }

 private:
  std::variant<T, std::error_code> state_;
};

inline std::error_code errno_code(int e) { return {e, std::generic_category()}; }

}  // namespace hotreload
