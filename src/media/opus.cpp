#include "media/opus.h"

#include <algorithm>
#include <cstring>

namespace sluice::media {

Result<OpusHead> parse_opus_head(std::span<const std::uint8_t> head) {
  if (head.size() < 19 || std::memcmp(head.data(), "OpusHead", 8) != 0) {
    return make_error(Errc::kMalformed, "opus: not an OpusHead identification header");
  }
  OpusHead h;
  h.channels = head[9];
  h.pre_skip = static_cast<std::uint16_t>(head[10] | head[11] << 8);
  h.input_sample_rate =
      static_cast<std::uint32_t>(head[12]) | static_cast<std::uint32_t>(head[13]) << 8 |
      static_cast<std::uint32_t>(head[14]) << 16 | static_cast<std::uint32_t>(head[15]) << 24;
  h.mapping_family = head[18];
  if (h.channels == 0) return make_error(Errc::kMalformed, "opus: OpusHead with no channels");
  if (h.mapping_family != 0 && head.size() < 21u + h.channels) {
    return make_error(Errc::kMalformed, "opus: OpusHead channel mapping truncated");
  }
  if (h.mapping_family == 0 && h.channels > 2) {
    return make_error(Errc::kMalformed, "opus: mapping family 0 with more than two channels");
  }
  return h;
}

Bytes make_opus_head(std::uint8_t channels) {
  constexpr std::uint16_t kPreSkip = 312;  // what libopus encoders delay at 48 kHz
  Bytes h(19, 0);
  std::memcpy(h.data(), "OpusHead", 8);
  h[8] = 1;  // version
  h[9] = std::clamp<std::uint8_t>(channels, 1, 2);
  h[10] = kPreSkip & 0xff;
  h[11] = kPreSkip >> 8;
  for (int i = 0; i < 4; ++i)
    h[12 + i] = static_cast<std::uint8_t>(kOpusSampleRate >> (8 * i));
  return h;  // output gain 0, mapping family 0
}

std::optional<std::uint32_t> opus_packet_samples(std::span<const std::uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  const std::uint8_t config = packet[0] >> 3;
  std::uint32_t frame;  // samples at 48 kHz
  if (config < 12) {
    static constexpr std::uint32_t kSilk[] = {480, 960, 1920, 2880};
    frame = kSilk[config & 3];
  } else if (config < 16) {
    frame = config & 1 ? 960 : 480;
  } else {
    static constexpr std::uint32_t kCelt[] = {120, 240, 480, 960};
    frame = kCelt[config & 3];
  }
  std::uint32_t frames = 1;
  switch (packet[0] & 3) {
    case 0:
      break;
    case 1:
    case 2:
      frames = 2;
      break;
    default:
      if (packet.size() < 2) return std::nullopt;
      frames = packet[1] & 0x3f;
      break;
  }
  const std::uint32_t samples = frames * frame;
  // RFC 6716 3.2.5: a packet lasts at most 120 ms.
  if (frames == 0 || samples > 5760) return std::nullopt;
  return samples;
}

}  // namespace sluice::media
