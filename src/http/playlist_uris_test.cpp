#include "http/playlist_uris.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

TEST(PlaylistUris, EveryUriGetsTheParameter) {
  const std::string master =
      "#EXTM3U\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/index.m3u8\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=800000\n"
      "360p/index.m3u8\n";
  EXPECT_EQ(
      with_query_parameter(master, "token=t.o.k"),
      "#EXTM3U\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/index.m3u8?token=t.o.k\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=800000\n"
      "360p/index.m3u8?token=t.o.k\n");
  const std::string media =
      "#EXTM3U\r\n"
      "#EXT-X-MAP:URI=\"init1.mp4\"\r\n"
      "#EXT-X-PART:DURATION=0.33,URI=\"part12.m4s\",INDEPENDENT=YES\r\n"
      "#EXTINF:2.0,\r\n"
      "11.m4s\r\n"
      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part13.m4s\"\r\n"
      "#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8?_HLS_msn=3\",LAST-MSN=3\r\n"
      "\r\n";
  EXPECT_EQ(with_query_parameter(media, "token=x"),
            "#EXTM3U\r\n"
            "#EXT-X-MAP:URI=\"init1.mp4?token=x\"\r\n"
            "#EXT-X-PART:DURATION=0.33,URI=\"part12.m4s?token=x\",INDEPENDENT=YES\r\n"
            "#EXTINF:2.0,\r\n"
            "11.m4s?token=x\r\n"
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part13.m4s?token=x\"\r\n"
            "#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8?_HLS_msn=3&token=x\",LAST-MSN=3\r\n"
            "\r\n");
  // No newline at the end, a fragment, an unterminated attribute.
  EXPECT_EQ(with_query_parameter("a.ts#t=1", "k=v"), "a.ts?k=v#t=1");
  EXPECT_EQ(with_query_parameter("#X:URI=\"a", "k=v"), "#X:URI=\"a");
  EXPECT_EQ(with_query_parameter("", "k=v"), "");
}

}  // namespace
}  // namespace sluice::http
