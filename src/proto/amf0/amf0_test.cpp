#include "proto/amf0/amf0.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace sluice::amf0 {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

// u16 length + UTF-8 bytes: the form of both string values (after 0x02) and property keys.
Bytes str(const std::string& s) {
  Bytes out(2 + s.size());
  out[0] = static_cast<std::uint8_t>(s.size() >> 8);
  out[1] = static_cast<std::uint8_t>(s.size());
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

Bytes encoded(std::initializer_list<Value> values) {
  Bytes out;
  encode_all(values, out);
  return out;
}

Errc decode_error(const Bytes& in, const Limits& limits = {}) {
  auto r = decode_all(in, limits);
  EXPECT_FALSE(r) << "decoded: " << (r ? std::to_string(r->size()) + " values" : "");
  return r ? Errc::kRejected : r.error().code;
}

// The `connect` command as sent by OBS (librtmp, FMLE mode) and ffmpeg, trimmed to the
// fields servers read.
const Bytes kConnect = cat({
    {0x02},
    str("connect"),                                          // command name
    {0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // transaction id 1.0
    {0x03},                                                  // command object
    str("app"),
    {0x02},
    str("stream"),  //   app
    str("type"),
    {0x02},
    str("nonprivate"),  //   type
    str("flashVer"),
    {0x02},
    str("FMLE/3.0 (compatible; FMSc/1.0)"),  //   flashVer
    str("tcUrl"),
    {0x02},
    str("rtmp://127.0.0.1:1935/stream"),  //   tcUrl
    {0x00, 0x00, 0x09},                   // object end
});

TEST(Amf0, ConnectCommandRoundTripsByteExact) {
  auto values = decode_all(kConnect);
  ASSERT_TRUE(values) << values.error().message;
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ(*(*values)[0].as_string(), "connect");
  EXPECT_EQ(*(*values)[1].as_number(), 1.0);
  const Value& cmd = (*values)[2];
  EXPECT_EQ(cmd.get_string("app"), "stream");
  EXPECT_EQ(cmd.get_string("type"), "nonprivate");
  EXPECT_EQ(cmd.get_string("flashVer"), "FMLE/3.0 (compatible; FMSc/1.0)");
  EXPECT_EQ(cmd.get_string("tcUrl"), "rtmp://127.0.0.1:1935/stream");
  EXPECT_EQ(cmd.get_string("missing"), "");
  EXPECT_EQ(cmd.get_number("app", -1), -1);  // not a number
  EXPECT_EQ(cmd.get("missing"), nullptr);
  ASSERT_NE(cmd.properties(), nullptr);
  EXPECT_EQ((*cmd.properties())[1].first, "type");  // key order kept

  Bytes out;
  for (const auto& v : *values)
    encode(v, out);
  EXPECT_EQ(out, kConnect);

  const Value expected = Object{{{"app", "stream"},
                                 {"type", "nonprivate"},
                                 {"flashVer", "FMLE/3.0 (compatible; FMSc/1.0)"},
                                 {"tcUrl", "rtmp://127.0.0.1:1935/stream"}}};
  EXPECT_EQ(encoded({"connect", 1.0, expected}), kConnect);
  EXPECT_EQ(cmd, expected);
}

// Every strict prefix is either a shorter valid sequence or malformed, never anything else.
TEST(Amf0, ConnectTruncatedAtEveryByte) {
  for (std::size_t n = 0; n < kConnect.size(); ++n) {
    SCOPED_TRACE("prefix " + std::to_string(n));
    Bytes prefix(kConnect.begin(), kConnect.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = decode_all(prefix);
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kMalformed) << r.error().message;
    }
  }
}

// OBS and ffmpeg send metadata as @setDataFrame, "onMetaData", ECMA array.
const Bytes kSetDataFrame = cat({
    {0x02},
    str("@setDataFrame"),  // handler
    {0x02},
    str("onMetaData"),               // event
    {0x08, 0x00, 0x00, 0x00, 0x04},  // ecma array, 4 entries
    str("width"),
    {0x00, 0x40, 0x94, 0x00, 0, 0, 0, 0, 0},  //   1280.0
    str("height"),
    {0x00, 0x40, 0x86, 0x80, 0, 0, 0, 0, 0},  //   720.0
    str("videocodecid"),
    {0x00, 0x40, 0x1c, 0, 0, 0, 0, 0, 0},  //   7.0 (AVC)
    str("stereo"),
    {0x01, 0x01},        //   true
    {0x00, 0x00, 0x09},  // end
});

TEST(Amf0, SetDataFrameWithEcmaArray) {
  auto values = decode_all(kSetDataFrame);
  ASSERT_TRUE(values) << values.error().message;
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ(*(*values)[1].as_string(), "onMetaData");
  const Value& meta = (*values)[2];
  ASSERT_TRUE(std::holds_alternative<EcmaArray>(meta.v));
  EXPECT_EQ(meta.get_number("width", 0), 1280);
  EXPECT_EQ(meta.get_number("height", 0), 720);
  EXPECT_EQ(meta.get_number("videocodecid", 0), 7);
  EXPECT_EQ(*meta.get("stereo")->as_bool(), true);
  Bytes out;
  for (const auto& v : *values)
    encode(v, out);
  EXPECT_EQ(out, kSetDataFrame);
}

TEST(Amf0, EcmaArrayCountIsOnlyAHint) {
  const Bytes wrong_count = cat({
      {0x08, 0x00, 0x00, 0x00, 0x00},  // ecma array claiming 0 entries
      str("duration"),
      {0x00, 0, 0, 0, 0, 0, 0, 0, 0},
      str("a"),
      {0x05},
      {0x00, 0x00, 0x09},
      {0x05},  // a value after the array
  });
  auto values = decode_all(wrong_count);
  ASSERT_TRUE(values) << values.error().message;
  ASSERT_EQ(values->size(), 2u);
  EXPECT_EQ((*values)[0].properties()->size(), 2u);
  EXPECT_TRUE((*values)[1].is_null());
  // Re-encoding writes the true count.
  Bytes out;
  encode((*values)[0], out);
  EXPECT_EQ(out[4], 2);
}

TEST(Amf0, EachTypeRoundTrips) {
  struct Case {
    const char* name;
    Value value;
    Bytes bytes;
  };
  const std::vector<Case> cases = {
      {"number", -2.5, {0x00, 0xc0, 0x04, 0, 0, 0, 0, 0, 0}},
      {"false", false, {0x01, 0x00}},
      {"true", true, {0x01, 0x01}},
      {"empty string", "", {0x02, 0x00, 0x00}},
      {"string", "ab", {0x02, 0x00, 0x02, 'a', 'b'}},
      {"empty object", Object{}, {0x03, 0x00, 0x00, 0x09}},
      {"null", Null{}, {0x05}},
      {"undefined", Undefined{}, {0x06}},
      {"empty ecma array", EcmaArray{}, {0x08, 0, 0, 0, 0, 0x00, 0x00, 0x09}},
      {"strict array",
       StrictArray{{1.0, "x"}},
       {
           0x0a, 0, 0, 0, 2,                    // 2 items
           0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,  //   1.0
           0x02, 0x00, 0x01, 'x',               //   "x"
       }},
      {"date",
       Date{1.0, -60},
       {
           0x0b,                          // date
           0x3f, 0xf0, 0, 0, 0, 0, 0, 0,  //   1.0 ms
           0xff, 0xc4,                    //   timezone -60
       }},
      {"nested",
       Object{{{"o", Object{{{"k", Null{}}}}}}},
       {
           0x03,                   // object
           0x00, 0x01, 'o', 0x03,  //   "o": object
           0x00, 0x01, 'k', 0x05,  //     "k": null
           0x00, 0x00, 0x09,       //   end
           0x00, 0x00, 0x09,       // end
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes out;
    encode(c.value, out);
    EXPECT_EQ(out, c.bytes);
    auto back = decode_all(c.bytes);
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0], c.value) << to_debug_string((*back)[0]);
  }
}

TEST(Amf0, NonZeroBooleanIsTrue) {
  auto v = decode_all(Bytes{0x01, 0x7f});
  ASSERT_TRUE(v);
  EXPECT_EQ(*(*v)[0].as_bool(), true);
}

TEST(Amf0, LongStrings) {
  const std::string big(70000, 'z');
  Bytes out;
  encode(big, out);
  ASSERT_EQ(out.size(), 1u + 4 + big.size());
  EXPECT_EQ(out[0], 0x0c);  // long string marker
  EXPECT_EQ((Bytes{out.begin() + 1, out.begin() + 5}), (Bytes{0x00, 0x01, 0x11, 0x70}));
  auto back = decode_all(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*(*back)[0].as_string(), big);
  // A short long-string decodes to the same value as a string.
  auto small = decode_all(Bytes{0x0c, 0, 0, 0, 2, 'h', 'i'});
  ASSERT_TRUE(small);
  EXPECT_EQ(*(*small)[0].as_string(), "hi");
}

TEST(Amf0, EmptyInputIsNoValues) {
  auto v = decode_all(Bytes{});
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->empty());
}

TEST(Amf0, UnsupportedMarkersNameTheOffset) {
  for (std::uint8_t marker : {0x04, 0x07, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0xff}) {
    SCOPED_TRACE(static_cast<int>(marker));
    auto r = decode_all(Bytes{0x05, 0x05, marker, 0, 0, 0, 0});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUnsupported);
    EXPECT_NE(r.error().message.find("at offset 2"), std::string::npos) << r.error().message;
  }
  auto r = decode_all(cat({{0x05, 0x05}, {0x02}, str("abcdefghijklmn"), {0x0d}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "amf0: unsupported marker 0x0d (unsupported) at offset 19");
  // Inside an object the offset is still absolute.
  r = decode_all(cat({{0x03}, str("k"), {0x07, 0x00, 0x01}, {0x00, 0x00, 0x09}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_NE(r.error().message.find("reference"), std::string::npos);
  EXPECT_NE(r.error().message.find("at offset 4"), std::string::npos);
}

TEST(Amf0, MalformedInput) {
  EXPECT_EQ(decode_error({0x00, 0x3f, 0xf0}), Errc::kMalformed);              // short number
  EXPECT_EQ(decode_error({0x01}), Errc::kMalformed);                          // short boolean
  EXPECT_EQ(decode_error({0x02, 0x00}), Errc::kMalformed);                    // short length
  EXPECT_EQ(decode_error({0x02, 0x00, 0x03, 'a'}), Errc::kMalformed);         // short string
  EXPECT_EQ(decode_error({0x0c, 0x00, 0x00, 0x00, 0x05}), Errc::kMalformed);  // short long str
  EXPECT_EQ(decode_error({0x08, 0x00, 0x00}), Errc::kMalformed);              // short ecma count
  EXPECT_EQ(decode_error({0x0a, 0x00, 0x00, 0x00, 0x02, 0x05}), Errc::kMalformed);  // 1 of 2
  EXPECT_EQ(decode_error({0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0}), Errc::kMalformed);     // short date
  EXPECT_EQ(decode_error({0x09}), Errc::kMalformed);                    // object end at top level
  EXPECT_EQ(decode_error({0x0a, 0, 0, 0, 1, 0x09}), Errc::kMalformed);  // object end as item
  EXPECT_EQ(decode_error(cat({{0x03}, str("k"), {0x09}})), Errc::kMalformed);  // end as value
  EXPECT_EQ(decode_error(cat({{0x03}, str("k")})), Errc::kMalformed);          // key without value
  EXPECT_EQ(decode_error({0x03, 0x00, 0x00}), Errc::kMalformed);               // half an end marker
  EXPECT_EQ(decode_error({0x03, 0x00}), Errc::kMalformed);                     // half a key length
  auto r = decode_all(Bytes{0x05, 0x09});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "amf0: object end marker outside an object at offset 1");
}

// Envivio ends a message with an object that lacks its end marker (see nginx-rtmp).
TEST(Amf0, UnterminatedTopLevelObjectAtEndOfMessage) {
  const Bytes unterminated = cat({{0x02}, str("onMetaData"), {0x03}, str("w"), {0x01, 0x01}});
  auto v = decode_all(unterminated);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ(*(*v)[1].get("w")->as_bool(), true);
  const Bytes ecma = cat({{0x08, 0, 0, 0, 1}, str("w"), {0x05}});
  EXPECT_TRUE(decode_all(ecma));
  // Not for a nested object: that one really is cut short.
  EXPECT_EQ(decode_error(cat({{0x03}, str("o"), {0x03}, str("w"), {0x05}})), Errc::kMalformed);
  EXPECT_EQ(decode_error(cat({{0x0a, 0, 0, 0, 1}, {0x03}, str("w"), {0x05}})), Errc::kMalformed);
}

TEST(Amf0, EmptyKeyThatIsNotAnEndMarkerIsAProperty) {
  const Bytes in = {0x03, 0x00, 0x00, 0x05, 0x00, 0x00, 0x09};  // {"": null}
  auto v = decode_all(in);
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ((*v)[0].properties()->size(), 1u);
  EXPECT_TRUE((*v)[0].get("")->is_null());
  Bytes out;
  encode((*v)[0], out);
  EXPECT_EQ(out, in);
}

TEST(Amf0, DepthBombIsRefused) {
  // 100000 nested strict arrays of one item each: must stop at the depth limit without
  // recursing through the whole input.
  Bytes bomb;
  for (int i = 0; i < 100000; ++i)
    bomb.insert(bomb.end(), {0x0a, 0, 0, 0, 1});
  bomb.push_back(0x05);
  EXPECT_EQ(decode_error(bomb), Errc::kLimitExceeded);

  Bytes objects;
  for (int i = 0; i < 100000; ++i)
    objects.insert(objects.end(), {0x03, 0x00, 0x01, 'k'});
  EXPECT_EQ(decode_error(objects), Errc::kLimitExceeded);

  // Exactly at the limit is fine; one more level is not.
  Limits limits;
  limits.max_depth = 3;
  Bytes three = {0x0a, 0, 0, 0, 1, 0x0a, 0, 0, 0, 1, 0x08, 0, 0, 0, 0, 0x00, 0x00, 0x09};
  EXPECT_TRUE(decode_all(three, limits));
  Bytes four = {0x0a, 0, 0, 0, 1, 0x0a, 0, 0, 0, 1, 0x0a, 0, 0, 0, 1, 0x03, 0x00, 0x00, 0x09};
  EXPECT_EQ(decode_error(four, limits), Errc::kLimitExceeded);
}

TEST(Amf0, HugeDeclaredLengthsAreNotAllocated) {
  // 4 GiB long string in a 9-byte buffer: over the limit, so refused before any allocation.
  EXPECT_EQ(decode_error({0x0c, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'}), Errc::kLimitExceeded);
  // Within the limit but past the end of the buffer: malformed.
  EXPECT_EQ(decode_error({0x0c, 0x00, 0x0f, 0xff, 0xff, 'a'}), Errc::kMalformed);
  // 4 billion array items claimed: over the item limit.
  EXPECT_EQ(decode_error({0x0a, 0xff, 0xff, 0xff, 0xff, 0x05}), Errc::kLimitExceeded);
  // 4000 items claimed (under the limit) with 1 byte left: malformed, nothing reserved.
  EXPECT_EQ(decode_error({0x0a, 0x00, 0x00, 0x0f, 0xa0, 0x05}), Errc::kMalformed);
  // The ECMA count is a hint, never used to size anything.
  EXPECT_EQ(decode_error({0x08, 0xff, 0xff, 0xff, 0xff, 0x00}), Errc::kMalformed);
}

TEST(Amf0, LimitsOnStringsAndItems) {
  Limits limits;
  limits.max_string = 4;
  limits.max_items = 2;
  EXPECT_TRUE(decode_all(Bytes{0x02, 0x00, 0x04, 'a', 'b', 'c', 'd'}, limits));
  EXPECT_EQ(decode_error({0x02, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e'}, limits),
            Errc::kLimitExceeded);
  // Keys count as strings.
  EXPECT_EQ(decode_error(cat({{0x03}, str("abcde"), {0x05}, {0x00, 0x00, 0x09}}), limits),
            Errc::kLimitExceeded);
  const Bytes two = cat({{0x03}, str("a"), {0x05}, str("b"), {0x05}, {0x00, 0x00, 0x09}});
  EXPECT_TRUE(decode_all(two, limits));
  const Bytes three =
      cat({{0x08, 0, 0, 0, 3}, str("a"), {0x05}, str("b"), {0x05}, str("c"), {0x05}, {0, 0, 9}});
  EXPECT_EQ(decode_error(three, limits), Errc::kLimitExceeded);
  EXPECT_EQ(decode_error({0x0a, 0, 0, 0, 3, 0x05, 0x05, 0x05}, limits), Errc::kLimitExceeded);
}

TEST(Amf0, TotalValuesAreBoundedByItemsTimesDepth) {
  Limits limits;
  limits.max_items = 4;
  limits.max_depth = 2;
  // 8 values (4 per level) are fine: 1 array holding 3 nulls, then 4 more at top level.
  const Bytes eight = {0x0a, 0, 0, 0, 3, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05, 0x05};
  EXPECT_TRUE(decode_all(eight, limits));
  Bytes nine = eight;
  nine.push_back(0x05);
  EXPECT_EQ(decode_error(nine, limits), Errc::kLimitExceeded);
  // With the defaults, a megabyte of nulls is refused instead of becoming 40 MB of values.
  EXPECT_EQ(decode_error(Bytes(1 << 20, 0x05)), Errc::kLimitExceeded);
  EXPECT_TRUE(decode_all(Bytes(4096 * 16, 0x05)));
}

TEST(Amf0, DebugString) {
  const Value v = Object{{{"a", 1.0},
                          {"b", "q\"\n"},
                          {"c", StrictArray{{true, Null{}, Undefined{}}}},
                          {"d", EcmaArray{{{"x", Date{2.0, 0}}}}}}};
  EXPECT_EQ(to_debug_string(v),
            "{\"a\": 1, \"b\": \"q\\\"\\x0a\", \"c\": [true, null, undefined], "
            "\"d\": ecma{\"x\": date(2, tz 0)}}");
}

}  // namespace
}  // namespace sluice::amf0
