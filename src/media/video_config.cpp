#include "media/video_config.h"

#include "media/av1.h"
#include "media/h264.h"
#include "media/hevc.h"
#include "media/vp9.h"

namespace sluice::media {
namespace {

Error in(const char* what, const Error& e) {
  return make_error(e.code, std::string(what) + " sequence header: " + e.message);
}

}  // namespace

Result<VideoConfigInfo> describe_video_config(Codec codec, std::span<const std::uint8_t> record) {
  VideoConfigInfo info;
  switch (codec) {
    case Codec::kH264: {
      auto avc = parse_avc_config(record);
      if (!avc) return in("AVC", avc.error());
      if (avc->sps.empty() || avc->pps.empty()) {
        return make_error(Errc::kMalformed, "AVC sequence header without SPS or PPS");
      }
      auto sps = parse_sps(avc->sps.front());
      if (!sps) return in("AVC", sps.error());
      info.codec_string = avc_codec_string(*avc);
      info.width = sps->width;
      info.height = sps->height;
      return info;
    }
    case Codec::kHevc: {
      auto hevc = parse_hevc_config(record);
      if (!hevc) return in("HEVC", hevc.error());
      if (hevc->sps.empty())
        return make_error(Errc::kMalformed, "HEVC sequence header without SPS");
      auto size = parse_hevc_sps_size(hevc->sps.front());
      if (!size) return in("HEVC", size.error());
      info.codec_string = hevc_codec_string(*hevc);
      info.width = size->width;
      info.height = size->height;
      return info;
    }
    case Codec::kAv1: {
      auto av1 = parse_av1_config(record);
      if (!av1) return in("AV1", av1.error());
      info.codec_string = av1_codec_string(*av1);
      if (auto size = av1_sequence_size(av1->config_obus); size && *size) {
        info.width = (*size)->width;
        info.height = (*size)->height;
      }
      return info;
    }
    case Codec::kVp9: {
      auto vp9 = parse_vp9_config(record);
      if (!vp9) return in("VP9", vp9.error());
      info.codec_string = vp9_codec_string(*vp9);
      return info;
    }
    default:
      return make_error(Errc::kUnsupported,
                        std::string("not a video codec Sluice takes: ") + codec_name(codec));
  }
}

}  // namespace sluice::media
