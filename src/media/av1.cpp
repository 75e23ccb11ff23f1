#include "media/av1.h"

#include <cstdio>

#include "media/bit_reader.h"

namespace sluice::media {
namespace {

constexpr std::uint32_t kObuSequenceHeader = 1;

Error av1_error(const std::string& what) {
  return make_error(Errc::kMalformed, "av1: " + what);
}

// leb128(), AV1 4.10.5: at most 8 bytes, value below 2^32.
bool read_leb128(std::span<const std::uint8_t> data, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  for (int i = 0; i < 8; ++i) {
    if (pos >= data.size()) return false;
    const std::uint8_t byte = data[pos++];
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) return value <= UINT32_MAX;
  }
  return false;
}

// uvlc(), AV1 4.10.3.
bool skip_uvlc(BitReader& r) {
  int zeros = 0;
  for (bool done = false; !done;) {
    if (!r.flag(done)) return false;
    if (!done && ++zeros >= 32) return true;  // the spec's "maximum value": nothing follows
  }
  return r.skip(zeros);
}

// sequence_header_obu(), AV1 5.5.1, as far as the frame size.
Result<PictureSize> parse_sequence_header(std::span<const std::uint8_t> payload) {
  BitReader r(payload, /*rbsp=*/false);
  bool reduced = false, timing_info = false, decoder_model_info = false, initial_delay = false;
  if (!r.skip(4) || !r.flag(reduced)) return av1_error("sequence header truncated");
  std::uint32_t buffer_delay_bits = 0;
  if (reduced) {
    if (!r.skip(5)) return av1_error("sequence header truncated");
  } else {
    if (!r.flag(timing_info)) return av1_error("sequence header truncated");
    if (timing_info) {
      bool equal_interval = false;
      if (!r.skip(64) || !r.flag(equal_interval) || (equal_interval && !skip_uvlc(r)) ||
          !r.flag(decoder_model_info)) {
        return av1_error("sequence header timing info truncated");
      }
      if (decoder_model_info) {
        if (!r.bits(5, buffer_delay_bits) || !r.skip(32 + 5 + 5)) {
          return av1_error("sequence header decoder model truncated");
        }
        ++buffer_delay_bits;
      }
    }
    std::uint32_t points_minus1 = 0;
    if (!r.flag(initial_delay) || !r.bits(5, points_minus1)) {
      return av1_error("sequence header truncated");
    }
    for (std::uint32_t i = 0; i <= points_minus1; ++i) {
      std::uint32_t level = 0;
      bool present = false;
      if (!r.skip(12) || !r.bits(5, level) || (level > 7 && !r.skip(1))) {
        return av1_error("operating point truncated");
      }
      if (decoder_model_info &&
          (!r.flag(present) || (present && !r.skip(2 * static_cast<int>(buffer_delay_bits) + 1)))) {
        return av1_error("operating point truncated");
      }
      if (initial_delay && (!r.flag(present) || (present && !r.skip(4)))) {
        return av1_error("operating point truncated");
      }
    }
  }
  std::uint32_t width_bits = 0, height_bits = 0, width = 0, height = 0;
  if (!r.bits(4, width_bits) || !r.bits(4, height_bits) ||
      !r.bits(static_cast<int>(width_bits) + 1, width) ||
      !r.bits(static_cast<int>(height_bits) + 1, height)) {
    return av1_error("sequence header frame size truncated");
  }
  return PictureSize{static_cast<int>(width + 1), static_cast<int>(height + 1)};
}

}  // namespace

Result<Av1Config> parse_av1_config(std::span<const std::uint8_t> record) {
  if (record.size() < 4) return av1_error("av1C of " + std::to_string(record.size()) + " bytes");
  if (record[0] != 0x81) return av1_error("av1C marker/version byte is not 0x81");
  Av1Config c;
  c.profile = record[1] >> 5;
  c.level_idx = record[1] & 0x1f;
  c.high_tier = (record[2] & 0x80) != 0;
  const bool high_bitdepth = (record[2] & 0x40) != 0;
  const bool twelve_bit = (record[2] & 0x20) != 0;
  c.bit_depth = high_bitdepth ? (twelve_bit ? 12 : 10) : 8;
  c.monochrome = (record[2] & 0x10) != 0;
  c.subsampling_x = (record[2] >> 3) & 1;
  c.subsampling_y = (record[2] >> 2) & 1;
  c.config_obus = record.subspan(4);
  return c;
}

std::string av1_codec_string(const Av1Config& config) {
  char s[32];
  std::snprintf(s, sizeof s, "av01.%u.%02u%c.%02u", config.profile, config.level_idx,
                config.high_tier ? 'H' : 'M', config.bit_depth);
  return s;
}

Result<std::optional<PictureSize>> av1_sequence_size(std::span<const std::uint8_t> obus) {
  std::size_t pos = 0;
  while (pos < obus.size()) {
    const std::uint8_t header = obus[pos++];
    if (header & 0x80) return av1_error("OBU forbidden bit set");
    const std::uint32_t type = (header >> 3) & 0x0f;
    if (header & 0x04) ++pos;  // extension header
    std::uint64_t size = 0;
    if (!(header & 0x02)) return av1_error("OBU without a size field");
    if (!read_leb128(obus, pos, size) || size > obus.size() - pos) {
      return av1_error("OBU size runs past the data");
    }
    const auto payload = obus.subspan(pos, static_cast<std::size_t>(size));
    pos += static_cast<std::size_t>(size);
    if (type == kObuSequenceHeader) {
      auto sz = parse_sequence_header(payload);
      if (!sz) return sz.error();
      return std::optional<PictureSize>(*sz);
    }
  }
  return std::optional<PictureSize>();
}

}  // namespace sluice::media
