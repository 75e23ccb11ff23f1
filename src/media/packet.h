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

enum class Codec : std::uint8_t { kUnknown, kH264, kAac, kAmfData };

struct Packet {
  TrackKind kind = TrackKind::kData;
  Codec codec = Codec::kUnknown;
  // Milliseconds, rebased so the stream starts near 0, monotonic per track, 64-bit so the
  // 32-bit RTMP rollover after 49.7 days never shows downstream.
  std::int64_t dts_ms = 0;
  std::int32_t cts_ms = 0;  // pts = dts + cts (H.264 B-frames)
  bool keyframe = false;
  // A codec configuration (AVCDecoderConfigurationRecord or AudioSpecificConfig), not a frame.
  bool config = false;

  // The RTMP message body (an FLV tag body) exactly as received, so RTMP players get the
  // original bytes. The codec payload (AVCC NAL units, raw AAC, the config record) is a
  // view into it starting at payload_offset.
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
