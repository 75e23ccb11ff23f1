// VP9 helpers: the VPCodecConfigurationRecord (vpcC) that Enhanced RTMP sequence starts carry,
// and its HLS codec string.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "media/result.h"

namespace sluice::media {

struct Vp9Config {
  std::uint8_t profile = 0;
  std::uint8_t level = 0;
  std::uint8_t bit_depth = 8;
  std::uint8_t chroma_subsampling = 1;  // 0 4:2:0 vertical, 1 4:2:0 colocated, 2 4:2:2, 3 4:4:4
  bool full_range = false;
  std::uint8_t colour_primaries = 2;  // 2: unspecified
  std::uint8_t transfer = 2;
  std::uint8_t matrix = 2;
};
// The record without the vpcC box's version and flags (8 bytes and its initialization data).
Result<Vp9Config> parse_vp9_config(std::span<const std::uint8_t> record);

// Codec string for HLS CODECS, e.g. "vp09.00.31.08".
std::string vp9_codec_string(const Vp9Config& config);

}  // namespace sluice::media
