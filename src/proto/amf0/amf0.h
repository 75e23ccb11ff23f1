// AMF0 (Action Message Format 0) values, decoder and encoder. Sans-I/O: bytes in, values out.
// Only the types RTMP clients send are decoded; any other marker is an error (kUnsupported),
// never a guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "media/result.h"

namespace sluice::amf0 {

struct Value;
// Objects and ECMA arrays keep key order (clients and tests compare encoded bytes).
using Properties = std::vector<std::pair<std::string, Value>>;

struct Null {};
struct Undefined {};
struct Object {
  Properties properties;
};
struct EcmaArray {
  Properties properties;
};
struct StrictArray {
  std::vector<Value> items;
};
struct Date {
  double ms_since_epoch = 0;
  std::int16_t timezone = 0;
};

struct Value {
  std::variant<double, bool, std::string, Object, Null, Undefined, EcmaArray, StrictArray, Date> v;

  Value() : v(Null{}) {}
  Value(double d) : v(d) {}                    // NOLINT
  Value(bool b) : v(b) {}                      // NOLINT
  Value(std::string s) : v(std::move(s)) {}    // NOLINT
  Value(const char* s) : v(std::string(s)) {}  // NOLINT
  Value(Object o) : v(std::move(o)) {}         // NOLINT
  Value(Null n) : v(n) {}                      // NOLINT
  Value(Undefined u) : v(u) {}                 // NOLINT
  Value(EcmaArray a) : v(std::move(a)) {}      // NOLINT
  Value(StrictArray a) : v(std::move(a)) {}    // NOLINT
  Value(Date d) : v(d) {}                      // NOLINT

  const double* as_number() const { return std::get_if<double>(&v); }
  const bool* as_bool() const { return std::get_if<bool>(&v); }
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  bool is_null() const {
    return std::holds_alternative<Null>(v) || std::holds_alternative<Undefined>(v);
  }
  // Properties of an Object or EcmaArray, else nullptr.
  const Properties* properties() const;
  // Looks up a property of an Object or EcmaArray; nullptr if absent or not an object.
  const Value* get(std::string_view key) const;
  // Convenience for command objects: the string/number at key, or nullopt-like empty/NaN.
  std::string get_string(std::string_view key) const;  // "" if absent or not a string
  double get_number(std::string_view key, double fallback) const;

  friend bool operator==(const Value&, const Value&) = default;
};
bool operator==(const Object&, const Object&);
bool operator==(const EcmaArray&, const EcmaArray&);
bool operator==(const StrictArray&, const StrictArray&);
inline bool operator==(const Null&, const Null&) {
  return true;
}
inline bool operator==(const Undefined&, const Undefined&) {
  return true;
}
inline bool operator==(const Date& a, const Date& b) {
  return a.ms_since_epoch == b.ms_since_epoch && a.timezone == b.timezone;
}

struct Limits {
  std::size_t max_depth = 16;        // nesting of objects/arrays
  std::size_t max_items = 4096;      // properties or items in one object/array
  std::size_t max_string = 1 << 20;  // bytes of one string (long strings included)
};

// Decodes every value in buf (an RTMP command or data message body is a sequence of values).
// Errors carry the byte offset, e.g. "amf0: unknown marker 0x0d at offset 17".
Result<std::vector<Value>> decode_all(std::span<const std::uint8_t> buf, const Limits& limits = {});

// Appends the encoding of v to out. Strings longer than 65535 bytes become long strings.
void encode(const Value& v, std::vector<std::uint8_t>& out);
inline void encode_all(std::initializer_list<Value> values, std::vector<std::uint8_t>& out) {
  for (const auto& v : values)
    encode(v, out);
}

// Human-readable form for logs and test failure messages.
std::string to_debug_string(const Value& v);

}  // namespace sluice::amf0
