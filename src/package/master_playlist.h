// HLS master (multivariant) playlist model and its pure render function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::package {

struct Variant {
  std::string rendition;          // URI is <rendition>/index.m3u8
  std::uint64_t peak_bps = 0;     // BANDWIDTH
  std::uint64_t average_bps = 0;  // AVERAGE-BANDWIDTH
  int width = 0;                  // RESOLUTION omitted when 0 (audio-only)
  int height = 0;
  std::vector<std::string> codecs;  // e.g. "avc1.64001f", "mp4a.40.2"
  std::optional<double> frame_rate;
};

struct MasterPlaylist {
  std::vector<Variant> variants;
};

std::string render(const MasterPlaylist& playlist);

}  // namespace sluice::package
