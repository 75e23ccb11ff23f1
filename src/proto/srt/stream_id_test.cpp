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

TEST(StreamId, ClientAddressPassedOnByAProxy) {
  const auto id = with_client_address("#!::r=stream/KEY,m=publish,u=bob", "192.0.2.7");
  EXPECT_EQ(id, "#!::r=stream/KEY,m=publish,u=bob,sluice_client=192.0.2.7");
  auto r = parse_stream_id(id, "stream");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "KEY");
  EXPECT_EQ(r->user, "bob");
  EXPECT_EQ(r->client, "192.0.2.7");
  // A caller's own sluice_client is replaced, not doubled (which would refuse the stream).
  EXPECT_EQ(with_client_address("#!::sluice_client=10.0.0.1,r=a", "2001:db8::1"),
            "#!::r=a,sluice_client=2001:db8::1");
  // The plain form becomes the access control form, still a publish of the same key.
  r = parse_stream_id(with_client_address("stream/KEY", "192.0.2.7"), "stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, Mode::kPublish);
  EXPECT_EQ(r->name, "KEY");
  EXPECT_EQ(r->client, "192.0.2.7");
  // What the rewriting would change, or make too long, goes on as it came.
  EXPECT_EQ(with_client_address("KEY?a=b", "192.0.2.7"), "KEY?a=b");
  const std::string longest = "#!::r=" + std::string(kMaxStreamIdLength - 6, 'k');
  EXPECT_EQ(with_client_address(longest, "192.0.2.7"), longest);
  EXPECT_EQ(parse_stream_id("#!::r=a", "stream")->client, "");
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
