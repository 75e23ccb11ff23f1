#include "package/master_playlist.h"

#include <cstdio>

namespace sluice::package {

std::string render(const MasterPlaylist& playlist) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  for (const auto& v : playlist.variants) {
    out += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(v.peak_bps);
    out += ",AVERAGE-BANDWIDTH=" + std::to_string(v.average_bps);
    if (v.width > 0 && v.height > 0) {
      out += ",RESOLUTION=" + std::to_string(v.width) + "x" + std::to_string(v.height);
    }
    if (!v.codecs.empty()) {
      out += ",CODECS=\"";
      for (std::size_t i = 0; i < v.codecs.size(); ++i) {
        if (i > 0) out += ',';
        out += v.codecs[i];
      }
      out += '"';
    }
    if (v.frame_rate) {
      char buf[32];
      std::snprintf(buf, sizeof buf, ",FRAME-RATE=%.3f", *v.frame_rate);
      out += buf;
    }
    out += "\n" + v.rendition + "/index.m3u8\n";
  }
  return out;
}

}  // namespace sluice::package
