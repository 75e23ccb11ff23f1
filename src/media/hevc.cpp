#include "media/hevc.h"

#include <cstdio>

#include "media/bit_reader.h"

namespace sluice::media {
namespace {

constexpr std::uint8_t kNalVps = 32;
constexpr std::uint8_t kNalSps = 33;
constexpr std::uint8_t kNalPps = 34;

Error hvcc_error(const std::string& what) {
  return make_error(Errc::kMalformed, "hevc: hvcC: " + what);
}
Error sps_error(const std::string& what) {
  return make_error(Errc::kMalformed, "hevc: sps: " + what);
}

}  // namespace

Result<HevcConfig> parse_hevc_config(std::span<const std::uint8_t> record) {
  constexpr std::size_t kFixed = 23;
  if (record.size() < kFixed) {
    return hvcc_error(std::to_string(record.size()) + " bytes (< 23)");
  }
  if (record[0] != 1) return hvcc_error("configurationVersion " + std::to_string(record[0]));
  HevcConfig c;
  c.profile_space = record[1] >> 6;
  c.high_tier = (record[1] & 0x20) != 0;
  c.profile_idc = record[1] & 0x1f;
  c.compatibility_flags = static_cast<std::uint32_t>(record[2]) << 24 |
                          static_cast<std::uint32_t>(record[3]) << 16 |
                          static_cast<std::uint32_t>(record[4]) << 8 | record[5];
  for (std::size_t i = 0; i < c.constraint_flags.size(); ++i)
    c.constraint_flags[i] = record[6 + i];
  c.level_idc = record[12];
  c.nal_length_size = static_cast<std::uint8_t>((record[21] & 3) + 1);
  if (c.nal_length_size == 3) return hvcc_error("lengthSizeMinusOne 2 is reserved");
  const std::uint8_t arrays = record[22];
  std::size_t pos = kFixed;
  for (std::uint8_t a = 0; a < arrays; ++a) {
    if (record.size() - pos < 3) return hvcc_error("array " + std::to_string(a) + " truncated");
    const std::uint8_t type = record[pos] & 0x3f;
    const std::size_t count = static_cast<std::size_t>(record[pos + 1]) << 8 | record[pos + 2];
    pos += 3;
    for (std::size_t n = 0; n < count; ++n) {
      if (record.size() - pos < 2) return hvcc_error("NAL unit length truncated");
      const std::size_t len = static_cast<std::size_t>(record[pos]) << 8 | record[pos + 1];
      pos += 2;
      if (record.size() - pos < len) return hvcc_error("NAL unit runs past the record");
      Bytes nal(record.begin() + static_cast<std::ptrdiff_t>(pos),
                record.begin() + static_cast<std::ptrdiff_t>(pos + len));
      pos += len;
      if (type == kNalVps) c.vps.push_back(std::move(nal));
      if (type == kNalSps) c.sps.push_back(std::move(nal));
      if (type == kNalPps) c.pps.push_back(std::move(nal));
    }
  }
  return c;
}

std::string hevc_codec_string(const HevcConfig& config) {
  // ISO/IEC 14496-15 E.3: profile (with its space as a letter), the compatibility flags in
  // reverse bit order, tier and level, then the constraint bytes without trailing zeros.
  std::uint32_t reversed = 0;
  for (int bit = 0; bit < 32; ++bit) {
    if (config.compatibility_flags & (1u << bit)) reversed |= 1u << (31 - bit);
  }
  std::string s = "hvc1.";
  if (config.profile_space > 0) s += static_cast<char>('A' + config.profile_space - 1);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%X.%c%u", config.profile_idc, reversed,
                config.high_tier ? 'H' : 'L', config.level_idc);
  s += buf;
  std::size_t last = config.constraint_flags.size();
  while (last > 0 && config.constraint_flags[last - 1] == 0)
    --last;
  for (std::size_t i = 0; i < last; ++i) {
    std::snprintf(buf, sizeof buf, ".%X", config.constraint_flags[i]);
    s += buf;
  }
  return s;
}

Result<PictureSize> parse_hevc_sps_size(std::span<const std::uint8_t> nal) {
  if (nal.size() < 3) return sps_error("NAL unit too short");
  if (((nal[0] >> 1) & 0x3f) != kNalSps) return sps_error("not an SPS NAL unit");
  BitReader r(nal.subspan(2));
  std::uint32_t max_sub_layers_minus1 = 0;
  // sps_video_parameter_set_id, then the sub-layer count, then the temporal nesting flag and
  // the general profile, tier and level (96 bits).
  if (!r.skip(4) || !r.bits(3, max_sub_layers_minus1) || !r.skip(1) || !r.skip(96)) {
    return sps_error("truncated profile_tier_level");
  }
  bool profile_present[8] = {}, level_present[8] = {};
  for (std::uint32_t i = 0; i < max_sub_layers_minus1; ++i) {
    if (!r.flag(profile_present[i]) || !r.flag(level_present[i])) {
      return sps_error("truncated sub-layer flags");
    }
  }
  if (max_sub_layers_minus1 > 0 && !r.skip(2 * static_cast<int>(8 - max_sub_layers_minus1))) {
    return sps_error("truncated sub-layer flags");
  }
  for (std::uint32_t i = 0; i < max_sub_layers_minus1; ++i) {
    if ((profile_present[i] && !r.skip(88)) || (level_present[i] && !r.skip(8))) {
      return sps_error("truncated sub-layer profile");
    }
  }
  std::uint32_t sps_id = 0, chroma_format_idc = 0, width = 0, height = 0;
  bool separate_colour_plane = false, conformance_window = false;
  if (!r.ue(sps_id) || !r.ue(chroma_format_idc) || chroma_format_idc > 3) {
    return sps_error("bad chroma_format_idc");
  }
  if (chroma_format_idc == 3 && !r.flag(separate_colour_plane)) return sps_error("truncated");
  if (!r.ue(width) || !r.ue(height) || !r.flag(conformance_window)) {
    return sps_error("truncated picture size");
  }
  std::uint32_t left = 0, right = 0, top = 0, bottom = 0;
  if (conformance_window && (!r.ue(left) || !r.ue(right) || !r.ue(top) || !r.ue(bottom))) {
    return sps_error("truncated conformance window");
  }
  const std::uint64_t chroma = separate_colour_plane ? 0 : chroma_format_idc;
  const std::uint64_t sub_width = chroma == 1 || chroma == 2 ? 2 : 1;
  const std::uint64_t sub_height = chroma == 1 ? 2 : 1;
  const std::uint64_t crop_w = sub_width * (std::uint64_t{left} + right);
  const std::uint64_t crop_h = sub_height * (std::uint64_t{top} + bottom);
  if (width == 0 || height == 0 || width > 16888 || height > 16888 || crop_w >= width ||
      crop_h >= height) {
    return sps_error("bad picture size");
  }
  return PictureSize{static_cast<int>(width - crop_w), static_cast<int>(height - crop_h)};
}

}  // namespace sluice::media
