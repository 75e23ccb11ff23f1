// Opus helpers: the identification header ("OpusHead") that Enhanced RTMP sequence starts and
// MP4's dOps derive from, and the duration of a packet from its TOC byte.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::media {

inline constexpr std::uint32_t kOpusSampleRate = 48000;  // Opus timestamps always count 48 kHz

struct OpusHead {
  std::uint8_t channels = 2;
  std::uint16_t pre_skip = 0;
  std::uint32_t input_sample_rate = 0;  // informational only
  std::uint8_t mapping_family = 0;
};
Result<OpusHead> parse_opus_head(std::span<const std::uint8_t> head);

// A mono or stereo identification header (mapping family 0), for a publisher that sends an
// empty sequence start, as Enhanced RTMP allows.
Bytes make_opus_head(std::uint8_t channels);

// Samples at 48 kHz in one Opus packet (RFC 6716 3.1); nullopt for a malformed packet.
std::optional<std::uint32_t> opus_packet_samples(std::span<const std::uint8_t> packet);

}  // namespace sluice::media
