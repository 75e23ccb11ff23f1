#include "media/aac.h"

namespace sluice::media {

namespace {
constexpr std::uint32_t kSampleRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                            22050, 16000, 12000, 11025, 8000,  7350};

// MSB-first bit reader that reports running past the end instead of reading it.
class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> data) : data_(data) {}
  bool read(int bits, std::uint32_t& out) {
    out = 0;
    for (int i = 0; i < bits; ++i) {
      if (pos_ >= data_.size() * 8) return false;
      out = (out << 1) | ((data_[pos_ / 8] >> (7 - pos_ % 8)) & 1);
      ++pos_;
    }
    return true;
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};
}  // namespace

Result<AacConfig> parse_aac_config(std::span<const std::uint8_t> asc) {
  BitReader r(asc);
  const auto truncated = [] {
    return make_error(Errc::kMalformed, "aac: AudioSpecificConfig truncated");
  };
  std::uint32_t object_type = 0, freq_index = 0, channels = 0;
  if (!r.read(5, object_type)) return truncated();
  if (object_type == 31) {  // escape: 32 + 6 more bits
    std::uint32_t ext = 0;
    if (!r.read(6, ext)) return truncated();
    object_type = 32 + ext;
  }
  if (object_type == 0) return make_error(Errc::kMalformed, "aac: audio object type 0");
  if (!r.read(4, freq_index)) return truncated();
  AacConfig c;
  c.object_type = static_cast<std::uint8_t>(object_type);
  c.frequency_index = static_cast<std::uint8_t>(freq_index);
  if (freq_index == 15) {
    if (!r.read(24, c.sample_rate)) return truncated();
  } else if (freq_index < 13) {
    c.sample_rate = kSampleRates[freq_index];
  } else {
    return make_error(Errc::kMalformed,
                      "aac: reserved sampling frequency index " + std::to_string(freq_index));
  }
  if (c.sample_rate == 0) return make_error(Errc::kMalformed, "aac: sample rate 0");
  if (!r.read(4, channels)) return truncated();
  c.channels = static_cast<std::uint8_t>(channels);
  return c;
}

std::optional<std::array<std::uint8_t, 7>> adts_header(const AacConfig& config,
                                                       std::size_t payload_size) {
  constexpr std::size_t kHeaderSize = 7;
  constexpr std::size_t kMaxFrameLength = (1 << 13) - 1;  // 13-bit aac_frame_length
  if (config.object_type < 1 || config.object_type > 4 || config.frequency_index >= 13 ||
      config.channels < 1 || config.channels > 7 || payload_size > kMaxFrameLength - kHeaderSize) {
    return std::nullopt;
  }
  const auto length = static_cast<std::uint32_t>(payload_size + kHeaderSize);
  const std::uint32_t profile = config.object_type - 1u;
  // syncword 0xfff, MPEG-4, layer 0, no CRC; then profile, rate, channels; the length; buffer
  // fullness 0x7ff (variable rate); one raw data block.
  return std::array<std::uint8_t, 7>{
      0xff,
      0xf1,
      static_cast<std::uint8_t>(profile << 6 | config.frequency_index << 2 | config.channels >> 2),
      static_cast<std::uint8_t>((config.channels & 3u) << 6 | length >> 11),
      static_cast<std::uint8_t>(length >> 3),
      static_cast<std::uint8_t>((length & 7u) << 5 | 0x1f),
      0xfc,
  };
}

std::string aac_codec_string(const AacConfig& config) {
  return "mp4a.40." + std::to_string(config.object_type);
}

}  // namespace sluice::media
