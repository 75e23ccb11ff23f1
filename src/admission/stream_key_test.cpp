#include "admission/stream_key.h"

#include <gtest/gtest.h>

namespace sluice::admission {
namespace {

TEST(StreamKey, SplitsPublishNameAtFirstQuestionMark) {
  auto n = split_publish_name("abc?youtube=k&facebook=x?y");
  EXPECT_EQ(n.key, "abc");
  EXPECT_EQ(n.query, "youtube=k&facebook=x?y");
  EXPECT_EQ(split_publish_name("plain").query, "");
}

TEST(StreamKey, ParsesQueryInOrderAndDecodes) {
  auto q = parse_query("youtube=K1&facebook_s_bl=a%2Fb&flag&push=rtmp%3A%2F%2Fh%2Fx&bad=%zz&&");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"youtube", "K1"}));
  EXPECT_EQ(q[1].second, "a/b");
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(q[3].second, "rtmp://h/x");
  EXPECT_EQ(q[4].second, "%zz");  // malformed escapes are kept verbatim
}

TEST(StreamKey, ValidatesStrictCharacterSet) {
  EXPECT_TRUE(valid_stream_name("live_Key-123"));
  EXPECT_TRUE(valid_stream_name(std::string(128, 'a')));
  EXPECT_FALSE(valid_stream_name(""));
  EXPECT_FALSE(valid_stream_name(std::string(129, 'a')));
  for (const char* bad : {"..", "a/b", "a.b", "a b", "a%2F", "ключ", "a\nb", "a?b"}) {
    EXPECT_FALSE(valid_stream_name(bad)) << bad;
  }
}

TEST(StreamKey, HashedPlaybackIdIsStableSecretDependentAndNotTheKey) {
  const auto a = derive_playback_id(PlaybackIdMode::kHash, "secret1", "mykey");
  EXPECT_EQ(a.size(), 20u);
  EXPECT_TRUE(valid_stream_name(a));
  EXPECT_EQ(a, derive_playback_id(PlaybackIdMode::kHash, "secret1", "mykey"));
  EXPECT_NE(a, derive_playback_id(PlaybackIdMode::kHash, "secret2", "mykey"));
  EXPECT_NE(a, derive_playback_id(PlaybackIdMode::kHash, "secret1", "mykez"));
  EXPECT_EQ(derive_playback_id(PlaybackIdMode::kKey, "secret1", "mykey"), "mykey");
}

TEST(StreamKey, MaskNeverShowsTheWholeKey) {
  EXPECT_EQ(mask_key("abcdefghij"), "abc…(10)");
  EXPECT_EQ(mask_key("ab"), "a…(2)");
  EXPECT_EQ(mask_key(""), "…(0)");
}

}  // namespace
}  // namespace sluice::admission
