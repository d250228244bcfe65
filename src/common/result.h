#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/error.h"

namespace berth {

// Result<T> holds either a value or an Error. Fallible functions return it
// instead of throwing; see STYLE.md.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}
  template <class U, class = std::enable_if_t<std::is_convertible_v<U, T> &&
                                              !std::is_same_v<std::decay_t<U>, Error> &&
                                              !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() { return Status(); }

}  // namespace berth

// Propagates an error from an expression returning Result<...>.
#define BERTH_RETURN_IF_ERROR(expr)                \
  do {                                             \
    auto berth_status_ = (expr);                   \
    if (!berth_status_.ok()) return std::move(berth_status_).error(); \
  } while (0)

#define BERTH_CONCAT_INNER_(a, b) a##b
#define BERTH_CONCAT_(a, b) BERTH_CONCAT_INNER_(a, b)
// BERTH_ASSIGN_OR_RETURN(auto x, fallible()) declares x from the value or
// returns the error.
#define BERTH_ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto BERTH_CONCAT_(berth_result_, __LINE__) = (expr);                    \
  if (!BERTH_CONCAT_(berth_result_, __LINE__).ok())                        \
    return std::move(BERTH_CONCAT_(berth_result_, __LINE__)).error();      \
  lhs = std::move(BERTH_CONCAT_(berth_result_, __LINE__)).value()
