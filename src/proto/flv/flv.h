// FLV tag body headers as carried in RTMP audio/video messages (FLV spec v10.1, E.4.2/E.4.3).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "media/result.h"

namespace sluice::flv {

enum VideoCodecId : std::uint8_t { kAvc = 7 };
enum AudioFormat : std::uint8_t { kAac = 10 };

struct VideoTagHeader {
  std::uint8_t frame_type = 0;  // 1 keyframe, 2 inter, 5 video info/command
  std::uint8_t codec_id = 0;
  bool enhanced = false;              // Enhanced RTMP ExVideoTagHeader (IsExHeader bit)
  std::uint8_t avc_packet_type = 0;   // 0 sequence header, 1 NALUs, 2 end of sequence (AVC only)
  std::int32_t composition_time = 0;  // SI24, ms (AVC only)
  std::uint32_t header_size = 0;      // bytes before the codec payload
  bool keyframe() const { return frame_type == 1; }
};
// Errors: empty body, an AVC body shorter than 5 bytes (kMalformed); Enhanced RTMP bodies
// are reported as kUnsupported.
Result<VideoTagHeader> parse_video_tag(std::span<const std::uint8_t> body);

struct AudioTagHeader {
  std::uint8_t sound_format = 0;
  std::uint8_t sound_rate = 0;
  std::uint8_t sound_size = 0;
  std::uint8_t sound_type = 0;
  std::uint8_t aac_packet_type = 0;  // 0 sequence header, 1 raw (AAC only)
  std::uint32_t header_size = 0;
};
Result<AudioTagHeader> parse_audio_tag(std::span<const std::uint8_t> body);

// The legacy tag headers publishers write: AVC (frame type, packet type, SI24 composition time;
// 5 bytes) and AAC (44 kHz, 16-bit, stereo as FLV fixes them for AAC, then the packet type;
// 2 bytes). The payload follows.
std::vector<std::uint8_t> avc_tag_header(bool keyframe, bool config, std::int32_t cts_ms);
std::vector<std::uint8_t> aac_tag_header(bool config);

}  // namespace sluice::flv
