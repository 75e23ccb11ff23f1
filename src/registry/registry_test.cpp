#include "registry/registry.h"

#include <gtest/gtest.h>

namespace sluice::registry {
namespace {

TEST(RegistryCodec, StreamRoundTrip) {
  const StreamEntry e{"abc", "10.0.0.5:8000", "n1-7", 1700000000123, 3};
  auto back = decode_stream(encode(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
}

TEST(RegistryCodec, NodeRoundTrip) {
  const NodeEntry e{"10.0.0.5:8000", "10.0.0.5:1935", 2, 1, true, "10.0.0.5:9000"};
  auto back = decode_node(encode(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
}

TEST(RegistryCodec, NodeOfAnOlderReleaseTakesNoSrt) {
  auto old = decode_node(R"({"address":"a","rtmp":"b","capacity":2,"load":0,"draining":false})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->srt_address, "");
  EXPECT_FALSE(
      decode_node(R"({"address":"a","rtmp":"b","capacity":2,"load":0,"draining":false,"srt":5})")
          .ok());
}

TEST(RegistryCodec, RejectsWhatIsNotAnEntry) {
  for (const char* bad :
       {"", "null", "[]", "{", "{\"id\":\"a\"}",
        R"({"id":1,"address":"a","session":"s","next_sequence":1,"discontinuities":0})",
        R"({"id":"a","address":"","session":"s","next_sequence":1,"discontinuities":0})",
        R"({"id":"a","address":"x","session":"s","next_sequence":-1,"discontinuities":0})"}) {
    EXPECT_FALSE(decode_stream(bad).ok()) << bad;
  }
  EXPECT_FALSE(
      decode_node(R"({"address":"a","rtmp":"b","capacity":"2","load":0,"draining":false})").ok());
}

// Found by fuzz_registry_records: numbers too large for a field were narrowed, not refused.
TEST(RegistryCodec, RefusesNumbersAFieldCannotHold) {
  EXPECT_FALSE(
      decode_node(R"({"address":"a","rtmp":"b","capacity":2,"load":4294967297,"draining":false})")
          .ok());
  EXPECT_FALSE(
      decode_node(R"({"address":"a","rtmp":"b","capacity":-2147483649,"load":0,"draining":false})")
          .ok());
  auto most = decode_node(
      R"({"address":"a","rtmp":"b","capacity":2147483647,"load":-2147483648,"draining":false})");
  ASSERT_TRUE(most.ok());
  EXPECT_EQ(most->capacity, 2147483647);
  EXPECT_EQ(most->load, -2147483647 - 1);
  auto largest = decode_stream(
      R"({"id":"a","address":"x","session":"s","next_sequence":18446744073709551615,"discontinuities":0})");
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->next_sequence, UINT64_MAX);
}

TEST(RedisUrl, Forms) {
  auto a = parse_redis_url("redis://127.0.0.1:6390/2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6390);
  EXPECT_EQ(a->db, 2);
  EXPECT_TRUE(a->password.empty());

  auto b = parse_redis_url("redis://user:p%40ss@cache.internal");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "cache.internal");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->user, "user");
  EXPECT_EQ(b->password, "p@ss");

  auto c = parse_redis_url("redis://secret@h:1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->password, "secret");

  for (const char* bad : {"", "redis:", "http://h:1", "redis://:1", "redis://h:1/x", "redis://h:0",
                          "redis://h:1/-1"}) {
    EXPECT_FALSE(parse_redis_url(bad).ok()) << bad;
  }
}

TEST(MemoryRegistry, CompareAndDeleteKeepsAMovedStream) {
  auto r = make_registry({});
  ASSERT_TRUE(r.ok());
  Registry& reg = **r;
  reg.publish_stream({"s", "a:1", "old", 10, 0});
  reg.publish_stream({"s", "b:1", "new", 20, 1});  // the stream moved
  reg.withdraw_stream("s", "old");                 // late delete from the old server
  ASSERT_TRUE(reg.find_stream("s"));
  EXPECT_EQ(reg.find_stream("s")->address, "b:1");
  reg.withdraw_stream("s", "new");
  EXPECT_FALSE(reg.find_stream("s"));
}

TEST(MemoryRegistry, UpdatesFromALostSessionAreIgnored) {
  auto r = make_registry({});
  ASSERT_TRUE(r.ok());
  Registry& reg = **r;
  reg.publish_stream({"s", "a:1", "old", 10, 0});
  reg.publish_stream({"s", "b:1", "new", 20, 1});
  reg.publish_stream({"s", "a:1", "old", 11, 0});  // the old session's next segment
  EXPECT_EQ(reg.find_stream("s")->session, "new");
  reg.publish_stream({"s", "b:1", "new", 21, 1});
  EXPECT_EQ(reg.find_stream("s")->next_sequence, 21u);
}

TEST(MemoryRegistry, Nodes) {
  auto r = make_registry({});
  ASSERT_TRUE(r.ok());
  (*r)->publish_node({"a:1", "a:2", 2, 0, false, ""});
  (*r)->publish_node({"a:1", "a:2", 2, 1, false, ""});
  ASSERT_EQ((*r)->nodes().size(), 1u);
  EXPECT_EQ((*r)->nodes()[0].load, 1);
}

TEST(MakeRegistry, RejectsAMalformedUrl) {
  EXPECT_FALSE(make_registry({.url = "redis//nope"}).ok());
}

}  // namespace
}  // namespace sluice::registry
