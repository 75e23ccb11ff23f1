// AAC AudioSpecificConfig as carried in FLV/RTMP sequence headers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "media/result.h"

namespace sluice::media {

struct AacConfig {
  std::uint8_t object_type = 0;  // 2 = AAC-LC, 5 = SBR (HE-AAC), 29 = PS
  std::uint32_t sample_rate = 0;
  std::uint8_t channels = 0;
  std::uint8_t frequency_index = 15;  // 15: the rate is given explicitly, not from the table
};
Result<AacConfig> parse_aac_config(std::span<const std::uint8_t> asc);

// The 7-byte ADTS header that lets a raw frame of `payload_size` bytes
// stand alone, as MPEG-TS carries AAC. Empty for what ADTS cannot say: object types above 4
// (explicitly signalled HE-AAC), a rate outside the table, channel configuration 0, frames
// over 8184 bytes.
std::optional<std::array<std::uint8_t, 7>> adts_header(const AacConfig& config,
                                                       std::size_t payload_size);

// Codec string for HLS CODECS, e.g. "mp4a.40.2".
std::string aac_codec_string(const AacConfig& config);

}  // namespace sluice::media
