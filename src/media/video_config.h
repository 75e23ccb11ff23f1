// What a video codec's configuration record (avcC, hvcC, av1C, vpcC) says that playlists and
// planners need: the HLS codec string and, where the record tells, the picture size.
#pragma once

#include <span>
#include <string>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::media {

struct VideoConfigInfo {
  std::string codec_string;  // for CODECS, e.g. "avc1.64001f", "av01.0.04M.08"
  int width = 0;             // 0 when the record does not tell (VP9; AV1 without its OBUs)
  int height = 0;
};

// Errors name the codec and what was wrong; kUnsupported for a codec that is not video.
Result<VideoConfigInfo> describe_video_config(Codec codec, std::span<const std::uint8_t> record);

}  // namespace sluice::media
