#include "app/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace sluice::app {
namespace {

TEST(Config, NamesAreConsistentAcrossSources) {
  EXPECT_EQ(flag_name("rtmp.listen"), "rtmp-listen");
  EXPECT_EQ(flag_name("data_dir"), "data-dir");
  EXPECT_EQ(flag_name("playback_id"), "playback-id");
  EXPECT_EQ(env_name("rtmp.listen"), "SLUICE_RTMP_LISTEN");
  EXPECT_EQ(env_name("hls.segment_duration"), "SLUICE_HLS_SEGMENT_DURATION");
}

TEST(Config, SetOptionValidatesAndNamesTheKey) {
  ServeConfig c;
  ASSERT_TRUE(set_option(c, "rtmp.listen", "127.0.0.1:0"));
  EXPECT_EQ(c.rtmp_listen, "127.0.0.1:0");
  ASSERT_TRUE(set_option(c, "hls.window", "5"));
  EXPECT_EQ(c.hls.window, 5u);
  ASSERT_TRUE(set_option(c, "rtmp.idle_timeout", "2.5"));
  EXPECT_EQ(c.rtmp.idle_timeout.count(), 2500);

  auto st = set_option(c, "hls.window", "many");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("hls.window"), std::string::npos);
  EXPECT_FALSE(set_option(c, "rtmp.listen", "nonsense"));
  EXPECT_FALSE(set_option(c, "auth", "maybe"));
  EXPECT_FALSE(set_option(c, "no.such", "1"));
}

TEST(Config, TomlThenEnvOverride) {
  const auto path = std::filesystem::temp_directory_path() / "sluice_config_test.toml";
  {
    std::ofstream out(path);
    out << "auth = \"open\"\nplayback_id = \"key\"\n[rtmp]\nlisten = \"127.0.0.1:1999\"\n"
           "takeover = true\n[hls]\nsegment_duration = 2\nwindow = 4\n";
  }
  ServeConfig c;
  ASSERT_TRUE(load_toml(c, path));
  EXPECT_EQ(c.rtmp_listen, "127.0.0.1:1999");
  EXPECT_TRUE(c.rtmp.takeover);
  EXPECT_DOUBLE_EQ(c.hls.target_duration_s, 2.0);
  EXPECT_EQ(c.playback_id, "key");

  setenv("SLUICE_HLS_WINDOW", "7", 1);
  ASSERT_TRUE(load_env(c));
  unsetenv("SLUICE_HLS_WINDOW");
  EXPECT_EQ(c.hls.window, 7u);

  {
    std::ofstream out(path);
    out << "[rtmp]\nlistne = \"x\"\n";
  }
  auto st = load_toml(c, path);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("rtmp.listne"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Config, FleetOptions) {
  ServeConfig c;
  EXPECT_EQ(c.registry.url, "memory");
  ASSERT_TRUE(set_option(c, "registry", "redis://:pw@10.0.0.2:6380/1"));
  EXPECT_EQ(c.registry.url, "redis://:pw@10.0.0.2:6380/1");
  EXPECT_FALSE(set_option(c, "registry", "10.0.0.2:6379"));
  ASSERT_TRUE(set_option(c, "registry_ttl", "2.5"));
  EXPECT_DOUBLE_EQ(c.registry.ttl_s, 2.5);
  ASSERT_TRUE(set_option(c, "origin.cache_bytes", "1048576"));
  EXPECT_EQ(c.origin.cache_bytes, 1048576u);
  ASSERT_TRUE(set_option(c, "origin.upstream_timeout", "0.5"));
  EXPECT_EQ(c.origin.upstream_timeout.count(), 500);
  EXPECT_FALSE(set_option(c, "advertise", "nohost"));
}

TEST(Config, EndListDelayMustFitInTheGracePeriod) {
  ServeConfig c;
  ASSERT_TRUE(validate(c));
  ASSERT_TRUE(set_option(c, "hls.grace", "3"));
  EXPECT_FALSE(validate(c));
  ASSERT_TRUE(set_option(c, "hls.endlist_delay", "1"));
  EXPECT_TRUE(validate(c));
}

TEST(Config, HlsFormat) {
  ServeConfig c;
  EXPECT_EQ(c.hls.format, package::HlsFormat::kLowLatency);  // the default
  EXPECT_FALSE(set_option(c, "hls.format", "cmaf"));
  ASSERT_TRUE(set_option(c, "hls.format", "mpegts"));
  EXPECT_EQ(c.hls.format, package::HlsFormat::kMpegTs);
  ASSERT_TRUE(set_option(c, "hls.format", "low-latency"));
  EXPECT_EQ(c.hls.format, package::HlsFormat::kLowLatency);
  EXPECT_TRUE(validate(c));  // recordings follow the format
  ASSERT_TRUE(set_option(c, "hls.part_duration", "1.5"));
  ASSERT_TRUE(set_option(c, "hls.segment_duration", "2"));
  EXPECT_FALSE(validate(c));  // parts longer than half a segment
  ASSERT_TRUE(set_option(c, "hls.part_duration", "0.2"));
  EXPECT_TRUE(validate(c));
  EXPECT_FALSE(set_option(c, "hls.part_duration", "0.05"));
  ASSERT_TRUE(set_option(c, "hls.format", "fmp4"));
  ASSERT_TRUE(set_option(c, "hls.mirror", "true"));
  EXPECT_TRUE(validate(c));  // the mirror writes fMP4 too
}

TEST(Config, LowLatencyBoundsEncoderDelayToOnePart) {
  ServeConfig c;
  ASSERT_TRUE(set_option(c, "hls.format", "mpegts"));
  EXPECT_EQ(transcode_config(c).ladder.max_encoder_delay_s, 0);  // the preset's own
  ASSERT_TRUE(set_option(c, "hls.format", "low-latency"));
  ASSERT_TRUE(set_option(c, "hls.part_duration", "0.5"));
  EXPECT_EQ(transcode_config(c).ladder.max_encoder_delay_s, 0.5);
  ASSERT_TRUE(set_option(c, "transcode.max_delay", "0.2"));
  EXPECT_EQ(transcode_config(c).ladder.max_encoder_delay_s, 0.2);
  EXPECT_FALSE(set_option(c, "transcode.max_delay", "-1"));
}

TEST(Config, EachRoleTakesItsOwnOptionsAndNamesWhatWasMeant) {
  EXPECT_TRUE(role_uses(Role::kServe, "http.listen"));
  EXPECT_FALSE(role_uses(Role::kOrigin, "http.listen"));
  EXPECT_TRUE(role_uses(Role::kOrigin, "origin.listen"));
  EXPECT_TRUE(role_uses(Role::kOrigin, "http.read_timeout"));  // its HTTP server's limits
  EXPECT_FALSE(role_uses(Role::kOrigin, "dvr"));
  EXPECT_TRUE(role_uses(Role::kProxy, "auth"));  // keys are checked at the edge
  EXPECT_FALSE(role_uses(Role::kProxy, "rtmp.listen"));
  EXPECT_FALSE(role_uses(Role::kServe, "proxy.listen"));
  // Every option is some role's.
  for (const auto& option : serve_options()) {
    EXPECT_TRUE(role_uses(Role::kServe, option.name) || role_uses(Role::kOrigin, option.name) ||
                role_uses(Role::kProxy, option.name))
        << option.name;
  }
  EXPECT_EQ(unused_option_message(Role::kOrigin, "http.listen"),
            "sluice origin does not use --http-listen; its listener is --origin-listen");
  EXPECT_EQ(unused_option_message(Role::kProxy, "rtmp.listen"),
            "sluice proxy does not use --rtmp-listen; its listener is --proxy-listen");
  EXPECT_EQ(unused_option_message(Role::kOrigin, "dvr"),
            "sluice origin does not use --dvr (an option of sluice serve)");
}

}  // namespace
}  // namespace sluice::app
