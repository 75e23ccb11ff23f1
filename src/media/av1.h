// AV1 helpers: the AV1CodecConfigurationRecord (av1C) that Enhanced RTMP sequence starts and
// MP4 carry, its HLS codec string, and the largest frame size from a sequence header OBU.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "media/hevc.h"  // PictureSize
#include "media/result.h"

namespace sluice::media {

struct Av1Config {
  std::uint8_t profile = 0;
  std::uint8_t level_idx = 0;  // seq_level_idx of operating point 0
  bool high_tier = false;
  std::uint8_t bit_depth = 8;
  bool monochrome = false;
  std::uint8_t subsampling_x = 1;
  std::uint8_t subsampling_y = 1;
  std::span<const std::uint8_t> config_obus;  // within the parsed record
};
Result<Av1Config> parse_av1_config(std::span<const std::uint8_t> record);

// Codec string for HLS CODECS, e.g. "av01.0.04M.08".
std::string av1_codec_string(const Av1Config& config);

// The max_frame_width/height of the first sequence header OBU among `obus` (low-overhead
// bitstream format, every OBU with its size, as av1C and RTMP carry them); nullopt if none.
Result<std::optional<PictureSize>> av1_sequence_size(std::span<const std::uint8_t> obus);

}  // namespace sluice::media
