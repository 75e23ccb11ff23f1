#include "relay/targets.h"

#include <gtest/gtest.h>

namespace sluice::relay {
namespace {

TEST(RelayTargets, ServicesAndExtrasAsTheReference) {
  const auto list = relay_targets(
      "youtube=yt-key&facebook=FB-1&facebook_s_bl=1&facebook_a=Ab%2Bc&twitch=tw&x=1", {}, {});
  ASSERT_EQ(list.targets.size(), 3u);
  EXPECT_EQ(list.targets[0].name, "youtube");
  EXPECT_EQ(list.targets[0].url, "rtmp://a.rtmp.youtube.com/live2/yt-key");
  EXPECT_EQ(list.targets[1].name, "facebook");
  EXPECT_EQ(list.targets[1].url, "rtmps://live-api-s.facebook.com:443/rtmp/FB-1?s_bl=1&a=Ab%2Bc");
  EXPECT_EQ(list.targets[2].url, "rtmp://live-jfk.twitch.tv/app/tw");
  EXPECT_TRUE(list.refused.empty());
}

TEST(RelayTargets, PushUrlsAndPolicy) {
  const auto list = relay_targets(
      "push=rtmp%3A%2F%2F127.0.0.1%3A1936%2Flive%2Fa&push=rtmps://h/app/b&push=http://x/y/z", {},
      {});
  ASSERT_EQ(list.targets.size(), 2u);
  EXPECT_EQ(list.targets[0].name, "push1");
  EXPECT_EQ(list.targets[0].url, "rtmp://127.0.0.1:1936/live/a");
  EXPECT_EQ(list.targets[1].name, "push2");
  ASSERT_EQ(list.refused.size(), 1u);

  RelayPolicy no_push;
  no_push.allowed = {"youtube"};
  no_push.max_targets = 1;
  const auto limited = relay_targets("push=rtmp://h/a/b&youtube=k&twitch=t", {}, no_push);
  ASSERT_EQ(limited.targets.size(), 1u);
  EXPECT_EQ(limited.targets[0].name, "youtube");
  EXPECT_EQ(limited.refused.size(), 2u);
}

TEST(RelayTargets, MalformedKeysAreRefused) {
  EXPECT_TRUE(relay_targets("youtube=a%2Fb", {}, {}).targets.empty());
  EXPECT_TRUE(relay_targets("youtube=", {}, {}).targets.empty());
  EXPECT_TRUE(relay_targets("", {}, {}).targets.empty());
}

// Found by fuzz_relay_targets: Boost.URL read the query up to a NUL, past the view's end.
TEST(RelayTargets, OptionsEndWhereTheirViewEnds) {
  const std::string_view options = std::string_view("youtube=ab").substr(0, 9);
  EXPECT_EQ(relay_targets(options, {}, {}).targets.at(0).url, "rtmp://a.rtmp.youtube.com/live2/a");
}

TEST(RelayTargets, TemplatesAreConfigurable) {
  Destinations d;
  d.youtube = "rtmp://127.0.0.1:1940/live2/{key}";
  EXPECT_EQ(relay_targets("youtube=k&youtube_p=1", d, {}).targets.at(0).url,
            "rtmp://127.0.0.1:1940/live2/k?p=1");
}

TEST(RtmpUrl, Parses) {
  auto url = parse_rtmp_url("rtmps://live-api-s.facebook.com:443/rtmp/FB-1?s_bl=1");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "live-api-s.facebook.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->app, "rtmp");
  EXPECT_EQ(url->stream, "FB-1?s_bl=1");
  EXPECT_EQ(url->tc_url, "rtmps://live-api-s.facebook.com:443/rtmp");
  auto plain = parse_rtmp_url("rtmp://a.rtmp.youtube.com/live2/key");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 1935);
  EXPECT_EQ(plain->tc_url, "rtmp://a.rtmp.youtube.com/live2");
  // "h:1935x" found by fuzz_relay_targets: Boost.URL took "x" for the start of the path.
  for (const char* bad : {"http://h/a/b", "rtmp://h/app", "rtmp:///a/b", "rtmp://h:0/a/b", "x",
                          "rtmp://h:1935x/a/b", "rtmps://h:443s://h/a/b"}) {
    EXPECT_FALSE(parse_rtmp_url(bad)) << bad;
  }
}

TEST(RtmpUrl, RedactHidesTheKey) {
  EXPECT_EQ(redact("rtmp://a.rtmp.youtube.com/live2/secret"),
            "rtmp://a.rtmp.youtube.com/live2/***");
  EXPECT_EQ(redact("rtmps://h:443/rtmp/FB?x=1"), "rtmps://h:443/rtmp/***");
}

}  // namespace
}  // namespace sluice::relay
