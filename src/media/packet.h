// The canonical media unit that flows from ingest to every consumer.
// Packets are immutable once built and shared by pointer: fan-out copies pointers, not payloads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace sluice::media {

using Bytes = std::vector<std::uint8_t>;
using SharedBytes = std::shared_ptr<const Bytes>;

enum class TrackKind : std::uint8_t { kVideo, kAudio, kData };

enum class Codec : std::uint8_t {
  kUnknown,
  kH264,
  kHevc,
  kAv1,
  kVp9,
  kAac,
  kOpus,
  kAc3,
  kEac3,
  kFlac,
  kMp3,
  kAmfData,
};

// "h264", "av1", ... for logs and the API.
constexpr const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::kH264:
      return "h264";
    case Codec::kHevc:
      return "hevc";
    case Codec::kAv1:
      return "av1";
    case Codec::kVp9:
      return "vp9";
    case Codec::kAac:
      return "aac";
    case Codec::kOpus:
      return "opus";
    case Codec::kAc3:
      return "ac3";
    case Codec::kEac3:
      return "eac3";
    case Codec::kFlac:
      return "flac";
    case Codec::kMp3:
      return "mp3";
    case Codec::kAmfData:
      return "amf0";
    case Codec::kUnknown:
      break;
  }
  return "unknown";
}

struct Packet {
  TrackKind kind = TrackKind::kData;
  Codec codec = Codec::kUnknown;
  // Milliseconds, rebased so the stream starts near 0, monotonic per track, 64-bit so the
  // 32-bit RTMP rollover after 49.7 days never shows downstream.
  std::int64_t dts_ms = 0;
  std::int32_t cts_ms = 0;  // pts = dts + cts (H.264 B-frames)
  bool keyframe = false;
  // A codec configuration, not a frame: the record MP4 carries (avcC, hvcC, av1C, vpcC,
  // AudioSpecificConfig, OpusHead, FLAC's STREAMINFO), as RTMP sequence headers do.
  bool config = false;

  // The RTMP message body (an FLV tag body, legacy or Enhanced RTMP, one track) as received,
  // so RTMP players get the original bytes. The codec payload (length-prefixed NAL units, AV1
  // OBUs, a raw audio frame, the config record) is a view into it from payload_offset.
  SharedBytes body;
  std::uint32_t payload_offset = 0;

  std::int64_t pts_ms() const { return dts_ms + cts_ms; }
  std::span<const std::uint8_t> payload() const {
    if (!body || payload_offset > body->size()) return {};
    return std::span<const std::uint8_t>(*body).subspan(payload_offset);
  }
};

using PacketPtr = std::shared_ptr<const Packet>;

}  // namespace sluice::media
