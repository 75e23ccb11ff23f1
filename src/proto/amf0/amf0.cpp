#include "proto/amf0/amf0.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <limits>

namespace sluice::amf0 {

namespace {

enum Marker : std::uint8_t {
  kNumber = 0x00,
  kBoolean = 0x01,
  kString = 0x02,
  kObject = 0x03,
  kMovieClip = 0x04,
  kNull = 0x05,
  kUndefined = 0x06,
  kReference = 0x07,
  kEcmaArray = 0x08,
  kObjectEnd = 0x09,
  kStrictArray = 0x0a,
  kDate = 0x0b,
  kLongString = 0x0c,
  kUnsupportedMarker = 0x0d,
  kRecordSet = 0x0e,
  kXmlDocument = 0x0f,
  kTypedObject = 0x10,
  kAvmPlus = 0x11,
};

const char* unsupported_name(std::uint8_t marker) {
  switch (marker) {
    case kMovieClip:
      return "movieclip";
    case kReference:
      return "reference";
    case kUnsupportedMarker:
      return "unsupported";
    case kRecordSet:
      return "recordset";
    case kXmlDocument:
      return "xml document";
    case kTypedObject:
      return "typed object";
    case kAvmPlus:
      return "AMF3 switch";
    default:
      return nullptr;
  }
}

std::string hex2(std::uint8_t b) {
  char s[8];
  std::snprintf(s, sizeof s, "0x%02x", b);
  return s;
}

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> buf, const Limits& limits) : buf_(buf), limits_(limits) {
    // A decoded value takes ~40x the memory of its 1-byte encoding, so without a total a
    // 16 MiB message of nulls would expand to ~1 GiB. The budget follows from the declared
    // limits: at most max_items values per nesting level.
    const std::size_t depth = std::max<std::size_t>(limits.max_depth, 1);
    budget_ = limits.max_items > std::numeric_limits<std::size_t>::max() / depth
                  ? std::numeric_limits<std::size_t>::max()
                  : limits.max_items * depth;
  }

  bool at_end() const { return pos_ == buf_.size(); }

  // `depth` counts the objects/arrays enclosing this value.
  Result<Value> value(std::size_t depth) {
    const std::size_t at = pos_;
    if (at_end()) return truncated("marker");
    if (++decoded_ > budget_) {
      return make_error(Errc::kLimitExceeded, "amf0: more than " + std::to_string(budget_) +
                                                  " values in one message at offset " +
                                                  std::to_string(at));
    }
    const std::uint8_t marker = buf_[pos_++];
    switch (marker) {
      case kNumber: {
        double d;
        if (!read_double(d)) return truncated("number");
        return Value(d);
      }
      case kBoolean: {
        if (remaining() < 1) return truncated("boolean");
        return Value(buf_[pos_++] != 0);
      }
      case kString:
      case kLongString: {
        std::string s;
        if (auto st = read_string(marker == kLongString ? 4 : 2, s); !st) return st.error();
        return Value(std::move(s));
      }
      case kObject:
      case kEcmaArray: {
        if (depth + 1 > limits_.max_depth) return too_deep(at);
        if (marker == kEcmaArray) {
          // The declared count is only a hint: some encoders send a wrong one, so the array
          // ends at its end marker like an object.
          std::uint32_t ignored;
          if (!read_u32(ignored)) return truncated("ecma array count");
        }
        Properties props;
        if (auto st = properties(depth + 1, props); !st) return st.error();
        if (marker == kObject) return Value(Object{std::move(props)});
        return Value(EcmaArray{std::move(props)});
      }
      case kNull:
        return Value(Null{});
      case kUndefined:
        return Value(Undefined{});
      case kObjectEnd:
        return make_error(Errc::kMalformed, "amf0: object end marker outside an object at offset " +
                                                std::to_string(at));
      case kStrictArray: {
        if (depth + 1 > limits_.max_depth) return too_deep(at);
        std::uint32_t count;
        if (!read_u32(count)) return truncated("strict array count");
        if (count > limits_.max_items) {
          return make_error(Errc::kLimitExceeded, "amf0: strict array of " + std::to_string(count) +
                                                      " items > limit " +
                                                      std::to_string(limits_.max_items) +
                                                      " at offset " + std::to_string(at));
        }
        // Every value takes at least one byte, so a count beyond the remaining bytes is a lie;
        // checking it first keeps the reservation bounded by the input.
        if (count > remaining()) return truncated("strict array items");
        StrictArray arr;
        arr.items.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
          auto item = value(depth + 1);
          if (!item) return item.error();
          arr.items.push_back(std::move(item).value());
        }
        return Value(std::move(arr));
      }
      case kDate: {
        Date d;
        std::uint16_t tz;
        if (!read_double(d.ms_since_epoch) || !read_u16(tz)) return truncated("date");
        d.timezone = static_cast<std::int16_t>(tz);
        return Value(d);
      }
      default:
        break;
    }
    if (const char* name = unsupported_name(marker)) {
      return make_error(Errc::kUnsupported, "amf0: unsupported marker " + hex2(marker) + " (" +
                                                name + ") at offset " + std::to_string(at));
    }
    return make_error(Errc::kUnsupported,
                      "amf0: unknown marker " + hex2(marker) + " at offset " + std::to_string(at));
  }

 private:
  std::size_t remaining() const { return buf_.size() - pos_; }

  Error truncated(const char* what) const {
    return make_error(Errc::kMalformed, std::string("amf0: truncated ") + what + " at offset " +
                                            std::to_string(pos_));
  }
  Error too_deep(std::size_t at) const {
    return make_error(Errc::kLimitExceeded, "amf0: nesting deeper than " +
                                                std::to_string(limits_.max_depth) + " at offset " +
                                                std::to_string(at));
  }

  bool read_u16(std::uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<std::uint16_t>((buf_[pos_] << 8) | buf_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool read_u32(std::uint32_t& out) {
    if (remaining() < 4) return false;
    out = (std::uint32_t{buf_[pos_]} << 24) | (std::uint32_t{buf_[pos_ + 1]} << 16) |
          (std::uint32_t{buf_[pos_ + 2]} << 8) | buf_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  bool read_double(double& out) {
    if (remaining() < 8) return false;
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits = (bits << 8) | buf_[pos_ + i];
    pos_ += 8;
    out = std::bit_cast<double>(bits);
    return true;
  }

  // Reads a string with a `len_bytes`-byte length prefix. The length is checked against the
  // limit and the buffer before anything is allocated.
  Status read_string(int len_bytes, std::string& out) {
    const std::size_t at = pos_;
    std::uint32_t len = 0;
    if (len_bytes == 2) {
      std::uint16_t l16;
      if (!read_u16(l16)) return truncated("string length");
      len = l16;
    } else if (!read_u32(len)) {
      return truncated("long string length");
    }
    if (len > limits_.max_string) {
      return make_error(Errc::kLimitExceeded, "amf0: string length " + std::to_string(len) +
                                                  " > limit " + std::to_string(limits_.max_string) +
                                                  " at offset " + std::to_string(at));
    }
    if (len > remaining()) {
      return make_error(Errc::kMalformed, "amf0: string length " + std::to_string(len) +
                                              " runs past the end (" + std::to_string(remaining()) +
                                              " bytes left) at offset " + std::to_string(at));
    }
    out.assign(reinterpret_cast<const char*>(buf_.data() + pos_), len);
    pos_ += len;
    return Ok{};
  }

  // Reads key/value pairs up to the 00 00 09 end marker.
  Status properties(std::size_t depth, Properties& out) {
    for (;;) {
      // Envivio (documented in nginx-rtmp) ends a message with an object that lacks its end
      // marker. Accept that only for a top-level value that ends exactly at the buffer's end.
      if (depth == 1 && at_end()) return Ok{};
      const std::size_t at = pos_;
      std::string key;
      if (auto st = read_string(2, key); !st) return st;
      if (key.empty()) {
        if (remaining() < 1) return truncated("object end marker");
        if (buf_[pos_] == kObjectEnd) {
          ++pos_;
          return Ok{};
        }
      }
      if (out.size() >= limits_.max_items) {
        return make_error(Errc::kLimitExceeded, "amf0: more than " +
                                                    std::to_string(limits_.max_items) +
                                                    " properties at offset " + std::to_string(at));
      }
      auto v = value(depth);
      if (!v) return v.error();
      out.emplace_back(std::move(key), std::move(v).value());
    }
  }

  std::span<const std::uint8_t> buf_;
  const Limits& limits_;
  std::size_t pos_ = 0;
  std::size_t decoded_ = 0;
  std::size_t budget_ = 0;
};

void put_u16(std::uint16_t v, std::vector<std::uint8_t>& out) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(std::uint32_t v, std::vector<std::uint8_t>& out) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_double(double d, std::vector<std::uint8_t>& out) {
  const auto bits = std::bit_cast<std::uint64_t>(d);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(bits >> shift));
}
void put_key(const std::string& key, std::vector<std::uint8_t>& out) {
  // A key has a 16-bit length; a longer one (never produced by the decoder) is cut.
  const std::size_t len = std::min<std::size_t>(key.size(), 0xffff);
  put_u16(static_cast<std::uint16_t>(len), out);
  out.insert(out.end(), key.begin(), key.begin() + static_cast<std::ptrdiff_t>(len));
}
void put_properties(const Properties& props, std::vector<std::uint8_t>& out) {
  for (const auto& [key, value] : props) {
    put_key(key, out);
    encode(value, out);
  }
  out.insert(out.end(), {0x00, 0x00, kObjectEnd});
}

void append_quoted(const std::string& s, std::string& out) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string number_to_string(double d) {
  char s[32];
  std::snprintf(s, sizeof s, "%.17g", d);
  return s;
}

void debug(const Value& v, std::string& out);

void debug_properties(const Properties& props, std::string& out) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : props) {
    if (!first) out += ", ";
    first = false;
    append_quoted(key, out);
    out += ": ";
    debug(value, out);
  }
  out += '}';
}

void debug(const Value& v, std::string& out) {
  struct Visitor {
    std::string& out;
    void operator()(double d) { out += number_to_string(d); }
    void operator()(bool b) { out += b ? "true" : "false"; }
    void operator()(const std::string& s) { append_quoted(s, out); }
    void operator()(const Object& o) { debug_properties(o.properties, out); }
    void operator()(Null) { out += "null"; }
    void operator()(Undefined) { out += "undefined"; }
    void operator()(const EcmaArray& a) {
      out += "ecma";
      debug_properties(a.properties, out);
    }
    void operator()(const StrictArray& a) {
      out += '[';
      for (std::size_t i = 0; i < a.items.size(); ++i) {
        if (i) out += ", ";
        debug(a.items[i], out);
      }
      out += ']';
    }
    void operator()(const Date& d) {
      out +=
          "date(" + number_to_string(d.ms_since_epoch) + ", tz " + std::to_string(d.timezone) + ")";
    }
  };
  std::visit(Visitor{out}, v.v);
}

}  // namespace

bool operator==(const Object& a, const Object& b) {
  return a.properties == b.properties;
}
bool operator==(const EcmaArray& a, const EcmaArray& b) {
  return a.properties == b.properties;
}
bool operator==(const StrictArray& a, const StrictArray& b) {
  return a.items == b.items;
}

const Properties* Value::properties() const {
  if (const auto* o = std::get_if<Object>(&v)) return &o->properties;
  if (const auto* a = std::get_if<EcmaArray>(&v)) return &a->properties;
  return nullptr;
}

const Value* Value::get(std::string_view key) const {
  const Properties* props = properties();
  if (!props) return nullptr;
  for (const auto& [k, value] : *props) {
    if (k == key) return &value;
  }
  return nullptr;
}

std::string Value::get_string(std::string_view key) const {
  const Value* value = get(key);
  const std::string* s = value ? value->as_string() : nullptr;
  return s ? *s : std::string();
}

double Value::get_number(std::string_view key, double fallback) const {
  const Value* value = get(key);
  const double* d = value ? value->as_number() : nullptr;
  return d ? *d : fallback;
}

Result<std::vector<Value>> decode_all(std::span<const std::uint8_t> buf, const Limits& limits) {
  Decoder decoder(buf, limits);
  std::vector<Value> values;
  while (!decoder.at_end()) {
    auto v = decoder.value(0);
    if (!v) return v.error();
    values.push_back(std::move(v).value());
  }
  return values;
}

void encode(const Value& v, std::vector<std::uint8_t>& out) {
  struct Visitor {
    std::vector<std::uint8_t>& out;
    void operator()(double d) {
      out.push_back(kNumber);
      put_double(d, out);
    }
    void operator()(bool b) {
      out.push_back(kBoolean);
      out.push_back(b ? 1 : 0);
    }
    void operator()(const std::string& s) {
      if (s.size() > 0xffff) {
        out.push_back(kLongString);
        put_u32(static_cast<std::uint32_t>(s.size()), out);
      } else {
        out.push_back(kString);
        put_u16(static_cast<std::uint16_t>(s.size()), out);
      }
      out.insert(out.end(), s.begin(), s.end());
    }
    void operator()(const Object& o) {
      out.push_back(kObject);
      put_properties(o.properties, out);
    }
    void operator()(Null) { out.push_back(kNull); }
    void operator()(Undefined) { out.push_back(kUndefined); }
    void operator()(const EcmaArray& a) {
      out.push_back(kEcmaArray);
      put_u32(static_cast<std::uint32_t>(a.properties.size()), out);
      put_properties(a.properties, out);
    }
    void operator()(const StrictArray& a) {
      out.push_back(kStrictArray);
      put_u32(static_cast<std::uint32_t>(a.items.size()), out);
      for (const auto& item : a.items)
        encode(item, out);
    }
    void operator()(const Date& d) {
      out.push_back(kDate);
      put_double(d.ms_since_epoch, out);
      put_u16(static_cast<std::uint16_t>(d.timezone), out);
    }
  };
  std::visit(Visitor{out}, v.v);
}

std::string to_debug_string(const Value& v) {
  std::string out;
  debug(v, out);
  return out;
}

}  // namespace sluice::amf0
