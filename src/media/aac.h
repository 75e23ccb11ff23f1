// AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) as carried in FLV/RTMP sequence headers.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "media/result.h"

namespace sluice::media {

struct AacConfig {
  std::uint8_t object_type = 0;  // 2 = AAC-LC, 5 = SBR (HE-AAC), 29 = PS
  std::uint32_t sample_rate = 0;
  std::uint8_t channels = 0;
};
Result<AacConfig> parse_aac_config(std::span<const std::uint8_t> asc);

// RFC 6381 codec string for HLS CODECS, e.g. "mp4a.40.2".
std::string aac_codec_string(const AacConfig& config);

}  // namespace sluice::media
