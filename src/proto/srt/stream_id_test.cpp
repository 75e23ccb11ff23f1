#include "proto/srt/stream_id.h"

#include <gtest/gtest.h>

namespace sluice::srt {
namespace {

TEST(StreamId, AccessControlForm) {
  auto r = parse_stream_id("#!::r=stream/KEY123,m=publish", "stream");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, Mode::kPublish);
  EXPECT_EQ(r->name, "KEY123");
  r = parse_stream_id("#!::m=request,u=alice,r=0d9c3a,h=example.com,s=abc,t=stream,x-app=1",
                      "stream");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, Mode::kPlay);
  EXPECT_EQ(r->name, "0d9c3a");
  EXPECT_EQ(r->user, "alice");
  // Without m=, the access control default: the caller wants to receive.
  EXPECT_EQ(parse_stream_id("#!::r=abc", "stream")->mode, Mode::kPlay);
  // Options ride along as in an RTMP publish name.
  EXPECT_EQ(parse_stream_id("#!::r=stream/KEY?push=x,m=publish", "stream")->name, "KEY?push=x");
}

TEST(StreamId, PlainFormPublishes) {
  auto r = parse_stream_id("KEY123", "stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, Mode::kPublish);
  EXPECT_EQ(r->name, "KEY123");
  EXPECT_EQ(parse_stream_id("stream/KEY123", "stream")->name, "KEY123");
}

TEST(StreamId, Refusals) {
  EXPECT_FALSE(parse_stream_id("", "stream"));
  EXPECT_FALSE(parse_stream_id("#!::", "stream"));                     // no resource
  EXPECT_FALSE(parse_stream_id("#!::r=a,r=b", "stream"));              // twice
  EXPECT_FALSE(parse_stream_id("#!::r", "stream"));                    // not key=value
  EXPECT_FALSE(parse_stream_id("#!::=x,r=a", "stream"));               // empty key
  EXPECT_FALSE(parse_stream_id("#!::r=stream/,m=publish", "stream"));  // no name
  EXPECT_FALSE(parse_stream_id("stream/", "stream"));
  EXPECT_EQ(parse_stream_id("#!::r=a,m=bidirectional", "stream").error().code, Errc::kUnsupported);
  EXPECT_EQ(parse_stream_id("#!::r=a,t=file", "stream").error().code, Errc::kUnsupported);
  EXPECT_EQ(parse_stream_id("live/KEY", "stream").error().code, Errc::kRejected);
  EXPECT_EQ(parse_stream_id("#!::r=live/KEY,m=publish", "stream").error().code, Errc::kRejected);
  EXPECT_FALSE(parse_stream_id(std::string("KEY\n"), "stream"));
  EXPECT_EQ(parse_stream_id(std::string(513, 'k'), "stream").error().code, Errc::kLimitExceeded);
  EXPECT_TRUE(parse_stream_id(std::string(512, 'k'), "stream"));
}

}  // namespace
}  // namespace sluice::srt
