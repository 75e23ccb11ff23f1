#include "package/master_playlist.h"

#include <gtest/gtest.h>

namespace sluice::package {
namespace {

TEST(MasterPlaylist, VideoAndAudio) {
  MasterPlaylist m;
  m.variants.push_back(
      Variant{"source", 2500000, 2100000, 1280, 720, {"avc1.64001f", "mp4a.40.2"}, 29.97});
  EXPECT_EQ(render(m),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2100000,RESOLUTION=1280x720,"
            "CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=29.970\n"
            "source/index.m3u8\n");
}

TEST(MasterPlaylist, AudioOnlyHasNoResolutionOrFrameRate) {
  MasterPlaylist m;
  m.variants.push_back(Variant{"source", 140000, 130000, 0, 0, {"mp4a.40.2"}, std::nullopt});
  EXPECT_EQ(render(m),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS=\"mp4a.40.2\"\n"
            "source/index.m3u8\n");
}

TEST(MasterPlaylist, SeveralRenditions) {
  MasterPlaylist m;
  m.variants.push_back(
      Variant{"720p", 3000000, 2800000, 1280, 720, {"avc1.64001f", "mp4a.40.2"}, 30.0});
  m.variants.push_back(Variant{"360p", 800000, 700000, 640, 360, {"avc1.42c01e"}, std::nullopt});
  EXPECT_EQ(render(m),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2800000,RESOLUTION=1280x720,"
            "CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=30.000\n"
            "720p/index.m3u8\n"
            "#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,"
            "CODECS=\"avc1.42c01e\"\n"
            "360p/index.m3u8\n");
}

}  // namespace
}  // namespace sluice::package
