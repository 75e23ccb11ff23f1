#include "media/h264.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "media/bit_reader.h"

namespace sluice::media {

namespace {

constexpr std::uint8_t kNalSps = 7;
constexpr std::uint8_t kNalPps = 8;
constexpr std::uint8_t kNalAud = 9;

std::uint8_t nal_type(std::span<const std::uint8_t> nal) {
  return nal.empty() ? 0 : nal[0] & 0x1f;
}

Error sps_error(const std::string& what) {
  return make_error(Errc::kMalformed, "h264: sps: " + what);
}

// scaling_list() of H.264 7.3.2.1.1.1: only parsed to skip it.
bool skip_scaling_list(BitReader& r, int size) {
  std::int32_t last = 8, next = 8;
  for (int j = 0; j < size; ++j) {
    if (next != 0) {
      std::int32_t delta;
      if (!r.se(delta) || delta < -128 || delta > 127) return false;
      next = (last + delta + 256) % 256;
    }
    last = next == 0 ? last : next;
  }
  return true;
}

bool has_chroma_format(std::uint8_t profile_idc) {
  switch (profile_idc) {
    case 100:  // High
    case 110:  // High 10
    case 122:  // High 4:2:2
    case 244:  // High 4:4:4 Predictive
    case 44:   // CAVLC 4:4:4 Intra
    case 83:   // Scalable Baseline
    case 86:   // Scalable High
    case 118:  // Multiview High
    case 128:  // Stereo High
    case 138:  // Multiview Depth High
    case 139:
    case 134:  // MFC High
    case 135:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<AvcConfig> parse_avc_config(std::span<const std::uint8_t> record) {
  const auto at = [](std::size_t pos) { return " at offset " + std::to_string(pos); };
  if (record.size() < 7) {
    return make_error(Errc::kMalformed,
                      "h264: avcC of " + std::to_string(record.size()) + " bytes (< 7)");
  }
  if (record[0] != 1) {
    return make_error(Errc::kMalformed,
                      "h264: avcC configurationVersion " + std::to_string(record[0]) + " != 1");
  }
  AvcConfig c;
  c.profile = record[1];
  c.compatibility = record[2];
  c.level = record[3];
  c.nal_length_size = static_cast<std::uint8_t>((record[4] & 3) + 1);
  if (c.nal_length_size == 3) {
    return make_error(Errc::kMalformed, "h264: avcC lengthSizeMinusOne 2 is reserved");
  }
  std::size_t pos = 5;
  // Both counts are bounded by their field widths (31 SPS, 255 PPS) and every entry by the
  // record size, so nothing here allocates more than the input.
  const auto read_sets = [&](std::size_t count, std::uint8_t type, const char* name,
                             std::vector<Bytes>& out) -> Status {
    for (std::size_t i = 0; i < count; ++i) {
      if (record.size() - pos < 2) {
        return make_error(Errc::kMalformed,
                          std::string("h264: avcC truncated ") + name + " length" + at(pos));
      }
      const std::size_t len = (std::size_t{record[pos]} << 8) | record[pos + 1];
      pos += 2;
      if (len == 0 || len > record.size() - pos) {
        return make_error(Errc::kMalformed, std::string("h264: avcC ") + name + " of " +
                                                std::to_string(len) + " bytes" + at(pos - 2) +
                                                " does not fit in " +
                                                std::to_string(record.size() - pos) + " bytes");
      }
      const auto nal = record.subspan(pos, len);
      if (nal_type(nal) != type) {
        return make_error(Errc::kMalformed, std::string("h264: avcC ") + name + " has NAL type " +
                                                std::to_string(nal_type(nal)) + at(pos));
      }
      out.emplace_back(nal.begin(), nal.end());
      pos += len;
    }
    return Ok{};
  };
  const std::size_t num_sps = record[pos++] & 0x1f;
  if (num_sps == 0) return make_error(Errc::kMalformed, "h264: avcC without SPS");
  if (auto st = read_sets(num_sps, kNalSps, "SPS", c.sps); !st) return st.error();
  if (pos >= record.size()) return make_error(Errc::kMalformed, "h264: avcC truncated PPS count");
  const std::size_t num_pps = record[pos++];
  if (auto st = read_sets(num_pps, kNalPps, "PPS", c.pps); !st) return st.error();
  // High-profile records may carry chroma/bit-depth fields and SPS extensions after the PPS;
  // they repeat what the SPS says, so they are ignored.
  return c;
}

std::string avc_codec_string(const AvcConfig& config) {
  char s[16];
  std::snprintf(s, sizeof s, "avc1.%02x%02x%02x", config.profile, config.compatibility,
                config.level);
  return s;
}

Result<SpsInfo> parse_sps(std::span<const std::uint8_t> nal) {
  if (nal.empty()) return sps_error("empty NAL unit");
  if (nal_type(nal) != kNalSps) {
    return sps_error("NAL type " + std::to_string(nal_type(nal)) + " is not an SPS");
  }
  BitReader r(nal.subspan(1));
  const auto truncated = [](const char* field) {
    return sps_error(std::string("truncated or invalid at ") + field);
  };
  SpsInfo info;
  std::uint32_t profile_idc, constraints, level_idc, sps_id;
  if (!r.bits(8, profile_idc) || !r.bits(8, constraints) || !r.bits(8, level_idc)) {
    return truncated("profile/level");
  }
  info.profile_idc = static_cast<std::uint8_t>(profile_idc);
  info.level_idc = static_cast<std::uint8_t>(level_idc);
  if (!r.ue(sps_id) || sps_id > 31) return truncated("seq_parameter_set_id");

  std::uint32_t chroma_format_idc = 1;
  bool separate_colour_plane = false;
  if (has_chroma_format(info.profile_idc)) {
    if (!r.ue(chroma_format_idc) || chroma_format_idc > 3) return truncated("chroma_format_idc");
    if (chroma_format_idc == 3 && !r.flag(separate_colour_plane)) {
      return truncated("separate_colour_plane_flag");
    }
    std::uint32_t luma_depth, chroma_depth;
    if (!r.ue(luma_depth) || luma_depth > 6 || !r.ue(chroma_depth) || chroma_depth > 6) {
      return truncated("bit_depth");
    }
    bool bypass, scaling_matrix;
    if (!r.flag(bypass) || !r.flag(scaling_matrix)) return truncated("seq_scaling_matrix");
    if (scaling_matrix) {
      const int lists = chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists; ++i) {
        bool present;
        if (!r.flag(present)) return truncated("seq_scaling_list_present_flag");
        if (present && !skip_scaling_list(r, i < 6 ? 16 : 64)) return truncated("scaling_list");
      }
    }
  }

  std::uint32_t log2_max_frame_num, poc_type;
  if (!r.ue(log2_max_frame_num) || log2_max_frame_num > 12) {
    return truncated("log2_max_frame_num_minus4");
  }
  if (!r.ue(poc_type) || poc_type > 2) return truncated("pic_order_cnt_type");
  if (poc_type == 0) {
    std::uint32_t log2_max_poc_lsb;
    if (!r.ue(log2_max_poc_lsb) || log2_max_poc_lsb > 12) {
      return truncated("log2_max_pic_order_cnt_lsb_minus4");
    }
  } else if (poc_type == 1) {
    bool always_zero;
    std::int32_t non_ref, top_to_bottom;
    std::uint32_t cycle;
    if (!r.flag(always_zero) || !r.se(non_ref) || !r.se(top_to_bottom) || !r.ue(cycle) ||
        cycle > 255) {
      return truncated("pic_order_cnt_type 1 fields");
    }
    for (std::uint32_t i = 0; i < cycle; ++i) {
      std::int32_t offset;
      if (!r.se(offset)) return truncated("offset_for_ref_frame");
    }
  }
  std::uint32_t max_ref_frames, width_mbs_minus1, height_map_units_minus1;
  bool gaps, frame_mbs_only;
  if (!r.ue(max_ref_frames) || !r.flag(gaps)) return truncated("max_num_ref_frames");
  if (!r.ue(width_mbs_minus1) || !r.ue(height_map_units_minus1)) return truncated("pic size");
  if (!r.flag(frame_mbs_only)) return truncated("frame_mbs_only_flag");
  if (!frame_mbs_only) {
    bool mbaff;
    if (!r.flag(mbaff)) return truncated("mb_adaptive_frame_field_flag");
  }
  bool direct_8x8, cropping;
  if (!r.flag(direct_8x8) || !r.flag(cropping)) return truncated("frame_cropping_flag");
  std::uint32_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (cropping &&
      (!r.ue(crop_left) || !r.ue(crop_right) || !r.ue(crop_top) || !r.ue(crop_bottom))) {
    return truncated("frame_crop_offset");
  }

  // 16384 pixels per side is beyond every level (6.2 allows 8192x4320); it keeps the
  // arithmetic below far from overflow.
  constexpr std::uint32_t kMaxMbs = 16384 / 16;
  const std::uint32_t frame_height_factor = frame_mbs_only ? 1 : 2;
  if (width_mbs_minus1 >= kMaxMbs || height_map_units_minus1 >= kMaxMbs / frame_height_factor) {
    return sps_error("picture of " + std::to_string(std::uint64_t{width_mbs_minus1} + 1) + "x" +
                     std::to_string(std::uint64_t{height_map_units_minus1} + 1) +
                     " macroblocks is too large");
  }
  // Crop units, H.264 7.4.2.1.1 (frame_crop_*_offset semantics).
  const std::uint32_t chroma_array_type = separate_colour_plane ? 0 : chroma_format_idc;
  std::uint64_t crop_unit_x = 1, crop_unit_y = frame_height_factor;
  if (chroma_array_type != 0) {
    const std::uint32_t sub_width_c = chroma_array_type == 3 ? 1 : 2;
    const std::uint32_t sub_height_c = chroma_array_type == 1 ? 2 : 1;
    crop_unit_x = sub_width_c;
    crop_unit_y = std::uint64_t{sub_height_c} * frame_height_factor;
  }
  const std::uint64_t width = (std::uint64_t{width_mbs_minus1} + 1) * 16;
  const std::uint64_t height =
      (std::uint64_t{height_map_units_minus1} + 1) * 16 * frame_height_factor;
  const std::uint64_t crop_x = crop_unit_x * (std::uint64_t{crop_left} + crop_right);
  const std::uint64_t crop_y = crop_unit_y * (std::uint64_t{crop_top} + crop_bottom);
  if (crop_x >= width || crop_y >= height) {
    return sps_error("frame cropping " + std::to_string(crop_x) + "x" + std::to_string(crop_y) +
                     " leaves no picture of " + std::to_string(width) + "x" +
                     std::to_string(height));
  }
  info.width = static_cast<int>(width - crop_x);
  info.height = static_cast<int>(height - crop_y);
  return info;
}

Status avcc_to_annexb(std::span<const std::uint8_t> avcc, std::uint8_t nal_length_size,
                      const AvcConfig* config, Bytes& out) {
  if (nal_length_size < 1 || nal_length_size > 4) {
    return make_error(Errc::kMalformed,
                      "h264: NAL length size " + std::to_string(nal_length_size) + " not in 1..4");
  }
  // First pass validates every length and looks for an SPS, so that on error `out` is left
  // as it was and the caller never forwards half an access unit.
  bool has_sps = false;
  bool leading_aud = false;
  std::size_t nals = 0;
  for (std::size_t pos = 0; pos < avcc.size();) {
    if (avcc.size() - pos < nal_length_size) {
      return make_error(Errc::kMalformed, "h264: truncated NAL length at offset " +
                                              std::to_string(pos) + " of " +
                                              std::to_string(avcc.size()));
    }
    std::size_t len = 0;
    for (int i = 0; i < nal_length_size; ++i)
      len = (len << 8) | avcc[pos + i];
    pos += nal_length_size;
    if (len > avcc.size() - pos) {
      return make_error(Errc::kMalformed,
                        "h264: NAL of " + std::to_string(len) + " bytes at offset " +
                            std::to_string(pos - nal_length_size) + " runs past the end (" +
                            std::to_string(avcc.size() - pos) + " bytes left)");
    }
    if (len > 0) {
      const std::uint8_t type = avcc[pos] & 0x1f;
      if (type == kNalSps) has_sps = true;
      if (nals == 0 && type == kNalAud) leading_aud = true;
      ++nals;
    }
    pos += len;
  }

  const bool insert = config && !has_sps && nals > 0;
  const auto put = [&out](std::span<const std::uint8_t> nal) {
    out.insert(out.end(), {0x00, 0x00, 0x00, 0x01});
    out.insert(out.end(), nal.begin(), nal.end());
  };
  const auto put_config = [&] {
    for (const auto& sps : config->sps)
      put(sps);
    for (const auto& pps : config->pps)
      put(pps);
  };
  if (nals == 0) return Ok{};
  // An access unit delimiter must stay first (H.264 7.4.1.2.3), so parameter sets go after it.
  if (!leading_aud) {
    constexpr std::uint8_t kAnyPrimaryPictureType = 0xf0;  // primary_pic_type 7, stop bit
    const std::uint8_t aud[] = {kNalAud, kAnyPrimaryPictureType};
    put(aud);
    if (insert) put_config();
  }
  std::size_t index = 0;
  for (std::size_t pos = 0; pos < avcc.size();) {
    std::size_t len = 0;
    for (int i = 0; i < nal_length_size; ++i)
      len = (len << 8) | avcc[pos + i];
    pos += nal_length_size;
    if (len > 0) {
      put(avcc.subspan(pos, len));
      if (insert && leading_aud && index == 0) put_config();
      ++index;
    }
    pos += len;
  }
  return Ok{};
}

std::vector<std::span<const std::uint8_t>> split_annexb(std::span<const std::uint8_t> annexb) {
  std::vector<std::span<const std::uint8_t>> nals;
  // Finds the next 00 00 01 at or after `from`; returns size() if none.
  const auto find_start = [&](std::size_t from) {
    for (std::size_t i = from; i + 2 < annexb.size(); ++i) {
      if (annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1) return i;
    }
    return annexb.size();
  };
  std::size_t start = find_start(0);
  while (start < annexb.size()) {
    const std::size_t begin = start + 3;
    const std::size_t next = find_start(begin);
    std::size_t end = next;
    // Trailing zero bytes belong to the next start code (00 00 00 01) or are padding.
    while (end > begin && annexb[end - 1] == 0)
      --end;
    if (end > begin) nals.push_back(annexb.subspan(begin, end - begin));
    start = next;
  }
  return nals;
}

void annexb_to_avcc(std::span<const std::uint8_t> annexb, Bytes& out) {
  for (const auto nal : split_annexb(annexb)) {
    const std::uint8_t type = nal_type(nal);
    if (type == kNalSps || type == kNalPps || type == kNalAud) continue;
    const auto len = static_cast<std::uint32_t>(nal.size());
    out.insert(out.end(),
               {static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
                static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
    out.insert(out.end(), nal.begin(), nal.end());
  }
}

Result<Bytes> avc_config_from_annexb(std::span<const std::uint8_t> annexb) {
  std::vector<std::span<const std::uint8_t>> sps, pps;
  for (const auto nal : split_annexb(annexb)) {
    if (nal.size() > 0xffff) continue;  // cannot be described by a 16-bit length
    if (nal_type(nal) == kNalSps && nal.size() >= 4) sps.push_back(nal);
    if (nal_type(nal) == kNalPps) pps.push_back(nal);
  }
  if (sps.empty() || pps.empty()) {
    return make_error(Errc::kMalformed, "h264: encoder headers without SPS or PPS");
  }
  // The record's version, then profile, compatibility and level from the first SPS.
  Bytes record{1,         sps[0][1],
               sps[0][2], sps[0][3],
               0xff,      static_cast<std::uint8_t>(0xe0 | std::min<std::size_t>(sps.size(), 31))};
  const auto put = [&record](std::span<const std::uint8_t> nal) {
    record.push_back(static_cast<std::uint8_t>(nal.size() >> 8));
    record.push_back(static_cast<std::uint8_t>(nal.size()));
    record.insert(record.end(), nal.begin(), nal.end());
  };
  for (std::size_t i = 0; i < sps.size() && i < 31; ++i)
    put(sps[i]);
  record.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(pps.size(), 255)));
  for (std::size_t i = 0; i < pps.size() && i < 255; ++i)
    put(pps[i]);
  return record;
}

}  // namespace sluice::media
