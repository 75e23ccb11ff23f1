// Error values for untrusted input and environment failures.
// Exceptions stay off the data plane: parsers and sessions return Result<T>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sluice {

enum class Errc {
  kMalformed,      // bytes that violate the format
  kLimitExceeded,  // a configured limit (size, depth, count) was hit
  kUnsupported,    // valid but not handled (codec, AMF type, version)
  kRejected,       // refused by policy (auth, duplicate publish)
  kTimeout,
  kIo,
  kNotFound,
};

const char* to_string(Errc code);

struct Error {
  Errc code;
  std::string message;  // says what and where, e.g. "amf0: string length 70000 > limit 65535"
};

// A value or an Error. Deliberately tiny: std::expected needs C++23 and clang 14
// (used for fuzzing) cannot compile libstdc++'s <expected>.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace sluice
