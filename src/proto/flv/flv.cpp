#include "proto/flv/flv.h"

#include <string>

namespace sluice::flv {

Result<VideoTagHeader> parse_video_tag(std::span<const std::uint8_t> body) {
  if (body.empty()) return make_error(Errc::kMalformed, "flv: empty video tag");
  VideoTagHeader h;
  // Enhanced RTMP sets the top bit of the first byte (IsExHeader); frame type then has 3 bits.
  h.enhanced = (body[0] & 0x80) != 0;
  if (h.enhanced) {
    return make_error(Errc::kUnsupported, "flv: Enhanced RTMP video (HEVC/AV1/VP9) not supported");
  }
  h.frame_type = body[0] >> 4;
  h.codec_id = body[0] & 0x0f;
  h.header_size = 1;
  // A video info/command frame (frame type 5) carries one command byte instead of an
  // AVCPacketType and composition time (FLV spec E.4.3.1), even with the AVC codec id.
  if (h.codec_id == kAvc && h.frame_type != 5) {
    if (body.size() < 5) {
      return make_error(Errc::kMalformed,
                        "flv: AVC video tag of " + std::to_string(body.size()) + " bytes (< 5)");
    }
    h.avc_packet_type = body[1];
    std::uint32_t cts = (std::uint32_t{body[2]} << 16) | (std::uint32_t{body[3]} << 8) | body[4];
    if (cts & 0x800000) cts |= 0xff000000;  // SI24: sign-extend
    h.composition_time = static_cast<std::int32_t>(cts);
    h.header_size = 5;
  }
  return h;
}

Result<AudioTagHeader> parse_audio_tag(std::span<const std::uint8_t> body) {
  if (body.empty()) return make_error(Errc::kMalformed, "flv: empty audio tag");
  AudioTagHeader h;
  h.sound_format = body[0] >> 4;
  h.sound_rate = (body[0] >> 2) & 3;
  h.sound_size = (body[0] >> 1) & 1;
  h.sound_type = body[0] & 1;
  h.header_size = 1;
  if (h.sound_format == kAac) {
    if (body.size() < 2) return make_error(Errc::kMalformed, "flv: AAC audio tag of 1 byte");
    h.aac_packet_type = body[1];
    h.header_size = 2;
  }
  return h;
}

std::vector<std::uint8_t> avc_tag_header(bool keyframe, bool config, std::int32_t cts_ms) {
  const auto cts = static_cast<std::uint32_t>(cts_ms) & 0xFFFFFF;
  return {static_cast<std::uint8_t>((keyframe ? 0x10 : 0x20) | kAvc),
          static_cast<std::uint8_t>(config ? 0 : 1), static_cast<std::uint8_t>(cts >> 16),
          static_cast<std::uint8_t>(cts >> 8), static_cast<std::uint8_t>(cts)};
}

std::vector<std::uint8_t> aac_tag_header(bool config) {
  return {0xAF, static_cast<std::uint8_t>(config ? 0 : 1)};
}

}  // namespace sluice::flv
