#include "media/hevc.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "media/h264.h"  // split_annexb

#include "media/bit_reader.h"

namespace sluice::media {
namespace {

constexpr std::uint8_t kNalVps = 32;
constexpr std::uint8_t kNalSps = 33;
constexpr std::uint8_t kNalPps = 34;
constexpr std::uint8_t kNalAud = 35;

std::uint8_t nal_type(std::span<const std::uint8_t> nal) {
  return nal.empty() ? 0xff : (nal[0] >> 1) & 0x3f;
}

// What an hvcC repeats from the SPS: the general profile, tier and level (12 bytes), the
// sub-layer count and nesting, chroma format and bit depths.
struct SpsRecordFields {
  std::uint8_t ptl[12] = {};
  std::uint32_t max_sub_layers_minus1 = 0;
  bool temporal_id_nesting = false;
  std::uint32_t chroma_format_idc = 1;
  std::uint32_t bit_depth_luma_minus8 = 0;
  std::uint32_t bit_depth_chroma_minus8 = 0;
};

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

namespace {

// seq_parameter_set_rbsp() (H.265 7.3.2.2) as far as the bit depths.
Result<std::pair<PictureSize, SpsRecordFields>> read_sps(std::span<const std::uint8_t> nal) {
  if (nal.size() < 3) return sps_error("NAL unit too short");
  if (nal_type(nal) != kNalSps) return sps_error("not an SPS NAL unit");
  BitReader r(nal.subspan(2));
  SpsRecordFields f;
  std::uint32_t ptl_byte = 0;
  if (!r.skip(4) || !r.bits(3, f.max_sub_layers_minus1) || !r.flag(f.temporal_id_nesting)) {
    return sps_error("truncated header");
  }
  for (auto& byte : f.ptl) {
    if (!r.bits(8, ptl_byte)) return sps_error("truncated profile_tier_level");
    byte = static_cast<std::uint8_t>(ptl_byte);
  }
  const std::uint32_t sub_layers = f.max_sub_layers_minus1;
  bool profile_present[8] = {}, level_present[8] = {};
  for (std::uint32_t i = 0; i < sub_layers; ++i) {
    if (!r.flag(profile_present[i]) || !r.flag(level_present[i])) {
      return sps_error("truncated sub-layer flags");
    }
  }
  if (sub_layers > 0 && !r.skip(2 * static_cast<int>(8 - sub_layers))) {
    return sps_error("truncated sub-layer flags");
  }
  for (std::uint32_t i = 0; i < sub_layers; ++i) {
    if ((profile_present[i] && !r.skip(88)) || (level_present[i] && !r.skip(8))) {
      return sps_error("truncated sub-layer profile");
    }
  }
  std::uint32_t sps_id = 0, width = 0, height = 0;
  bool separate_colour_plane = false, conformance_window = false;
  if (!r.ue(sps_id) || !r.ue(f.chroma_format_idc) || f.chroma_format_idc > 3) {
    return sps_error("bad chroma_format_idc");
  }
  if (f.chroma_format_idc == 3 && !r.flag(separate_colour_plane)) return sps_error("truncated");
  if (!r.ue(width) || !r.ue(height) || !r.flag(conformance_window)) {
    return sps_error("truncated picture size");
  }
  std::uint32_t left = 0, right = 0, top = 0, bottom = 0;
  if (conformance_window && (!r.ue(left) || !r.ue(right) || !r.ue(top) || !r.ue(bottom))) {
    return sps_error("truncated conformance window");
  }
  if (!r.ue(f.bit_depth_luma_minus8) || !r.ue(f.bit_depth_chroma_minus8) ||
      f.bit_depth_luma_minus8 > 8 || f.bit_depth_chroma_minus8 > 8) {
    return sps_error("bad bit depth");
  }
  const std::uint64_t chroma = separate_colour_plane ? 0 : f.chroma_format_idc;
  const std::uint64_t sub_width = chroma == 1 || chroma == 2 ? 2 : 1;
  const std::uint64_t sub_height = chroma == 1 ? 2 : 1;
  const std::uint64_t crop_w = sub_width * (std::uint64_t{left} + right);
  const std::uint64_t crop_h = sub_height * (std::uint64_t{top} + bottom);
  if (width == 0 || height == 0 || width > 16888 || height > 16888 || crop_w >= width ||
      crop_h >= height) {
    return sps_error("bad picture size");
  }
  return std::pair{PictureSize{static_cast<int>(width - crop_w), static_cast<int>(height - crop_h)},
                   f};
}

}  // namespace

Result<PictureSize> parse_hevc_sps_size(std::span<const std::uint8_t> nal) {
  auto sps = read_sps(nal);
  if (!sps) return sps.error();
  return sps->first;
}

Result<Bytes> hevc_config_from_annexb(std::span<const std::uint8_t> annexb) {
  std::vector<std::span<const std::uint8_t>> vps, sps, pps;
  for (const auto nal : split_annexb(annexb)) {
    if (nal.size() > 0xffff) continue;  // cannot be described by a 16-bit length
    const std::uint8_t type = nal_type(nal);
    if (type == kNalVps) vps.push_back(nal);
    if (type == kNalSps) sps.push_back(nal);
    if (type == kNalPps) pps.push_back(nal);
  }
  if (vps.empty() || sps.empty() || pps.empty()) {
    return make_error(Errc::kMalformed, "hevc: encoder headers without VPS, SPS or PPS");
  }
  auto fields = read_sps(sps.front());
  if (!fields) return fields.error();
  const SpsRecordFields& f = fields->second;
  // ISO/IEC 14496-15 8.3.3.1: version, the SPS's profile/tier/level, then fields whose
  // reserved bits are all ones; no spatial segmentation or parallelism signalled, frame rate
  // unknown, 4-byte lengths.
  Bytes record{1};
  record.insert(record.end(), std::begin(f.ptl), std::end(f.ptl));
  record.insert(record.end(),
                {0xf0, 0x00, 0xfc, static_cast<std::uint8_t>(0xfc | f.chroma_format_idc),
                 static_cast<std::uint8_t>(0xf8 | f.bit_depth_luma_minus8),
                 static_cast<std::uint8_t>(0xf8 | f.bit_depth_chroma_minus8), 0x00, 0x00,
                 static_cast<std::uint8_t>((f.max_sub_layers_minus1 + 1) << 3 |
                                           (f.temporal_id_nesting ? 0x04 : 0) | 0x03),
                 3});
  for (const auto* nals : {&vps, &sps, &pps}) {
    const std::size_t count = std::min<std::size_t>(nals->size(), 0xffff);
    record.insert(record.end(),
                  {static_cast<std::uint8_t>(0x80 | nal_type(nals->front())),
                   static_cast<std::uint8_t>(count >> 8), static_cast<std::uint8_t>(count)});
    for (std::size_t i = 0; i < count; ++i) {
      const auto nal = (*nals)[i];
      record.push_back(static_cast<std::uint8_t>(nal.size() >> 8));
      record.push_back(static_cast<std::uint8_t>(nal.size()));
      record.insert(record.end(), nal.begin(), nal.end());
    }
  }
  return record;
}

void annexb_to_hvcc(std::span<const std::uint8_t> annexb, Bytes& out) {
  for (const auto nal : split_annexb(annexb)) {
    const std::uint8_t type = nal_type(nal);
    if (type == kNalVps || type == kNalSps || type == kNalPps || type == kNalAud) continue;
    const auto len = static_cast<std::uint32_t>(nal.size());
    out.push_back(static_cast<std::uint8_t>(len >> 24));
    out.push_back(static_cast<std::uint8_t>(len >> 16));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
    out.insert(out.end(), nal.begin(), nal.end());
  }
}

}  // namespace sluice::media
