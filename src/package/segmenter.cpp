#include "package/segmenter.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "media/av1.h"
#include "media/bytes_pool.h"
#include "media/opus.h"
#include "media/video_config.h"

namespace sluice::package {
namespace {

void append_start_code_nal(const media::Bytes& nal, media::Bytes& out) {
  static constexpr std::uint8_t kStartCode[] = {0, 0, 0, 1};
  out.insert(out.end(), std::begin(kStartCode), std::end(kStartCode));
  out.insert(out.end(), nal.begin(), nal.end());
}

// FLV timestamps are whole milliseconds, so a measured 30 fps comes out as 29.999. Snap to
// a standard rate when within 0.05% (29.97 and 30 are 0.1% apart).
double snap_frame_rate(double fps) {
  static constexpr double kStandard[] = {23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60};
  for (double rate : kStandard) {
    if (std::abs(fps - rate) <= rate * 0.0005) return rate;
  }
  return fps;
}

bool same_bytes(const media::Bytes& a, std::span<const std::uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

Segmenter::Segmenter(SegmenterConfig config, Sink sink, PartSink part_sink)
    : config_(config), sink_(std::move(sink)), part_sink_(std::move(part_sink)) {}

Segmenter::~Segmenter() = default;

Status Segmenter::on_packet(const media::Packet& packet) {
  using media::Codec;
  if (packet.kind == media::TrackKind::kVideo &&
      (packet.codec == Codec::kH264 || packet.codec == Codec::kHevc ||
       packet.codec == Codec::kAv1 || packet.codec == Codec::kVp9)) {
    return packet.config ? on_video_config(packet) : on_video_frame(packet);
  }
  if (packet.kind == media::TrackKind::kAudio &&
      (packet.codec == Codec::kAac || packet.codec == Codec::kOpus)) {
    return packet.config ? on_audio_config(packet) : on_audio_frame(packet);
  }
  return Ok{};  // data packets and other codecs are not part of HLS output
}

Result<Segmenter::VideoConfig> Segmenter::read_video_config(const media::Packet& packet) const {
  const auto record = packet.payload();
  VideoConfig config;
  config.codec = packet.codec;
  config.record.assign(record.begin(), record.end());
  if (packet.codec != media::Codec::kH264 && config_.container != Container::kFmp4) {
    return make_error(Errc::kUnsupported, std::string("hls: ") + media::codec_name(packet.codec) +
                                              " needs fMP4 segments (MPEG-TS carries H.264)");
  }
  auto info = media::describe_video_config(packet.codec, record);
  if (!info) return make_error(info.error().code, "hls: " + info.error().message);
  config.codec_string = std::move(info->codec_string);
  config.width = info->width;
  config.height = info->height;
  if (packet.codec == media::Codec::kH264) {
    auto avc = media::parse_avc_config(record);
    if (!avc) return make_error(avc.error().code, "hls: " + avc.error().message);
    for (const auto& nal : avc->sps)
      append_start_code_nal(nal, config.annexb);
    for (const auto& nal : avc->pps)
      append_start_code_nal(nal, config.annexb);
    config.avc = std::move(*avc);
  } else if (packet.codec == media::Codec::kVp9) {
    auto vp9 = media::parse_vp9_config(record);
    if (!vp9) return make_error(vp9.error().code, "hls: " + vp9.error().message);
    config.vp9 = *vp9;
  }
  return config;
}

Result<Segmenter::AudioConfig> Segmenter::read_audio_config(const media::Packet& packet) const {
  const auto record = packet.payload();
  AudioConfig config;
  config.codec = packet.codec;
  config.record.assign(record.begin(), record.end());
  if (packet.codec == media::Codec::kAac) {
    auto aac = media::parse_aac_config(record);
    if (!aac)
      return make_error(aac.error().code, "hls: AAC sequence header: " + aac.error().message);
    config.codec_string = media::aac_codec_string(*aac);
    config.sample_rate = aac->sample_rate;
    config.channels = aac->channels;
    return config;
  }
  if (config_.container != Container::kFmp4) {
    return make_error(Errc::kUnsupported, "hls: Opus needs fMP4 segments (MPEG-TS carries AAC)");
  }
  auto head = media::parse_opus_head(record);
  if (!head)
    return make_error(head.error().code, "hls: Opus sequence start: " + head.error().message);
  config.codec_string = "Opus";
  config.sample_rate = media::kOpusSampleRate;
  config.channels = head->channels;
  return config;
}

Status Segmenter::on_video_config(const media::Packet& packet) {
  // Publishers resend identical sequence headers (e.g. on every keyframe); only a real change
  // needs a new muxer.
  if (video_ && video_->codec == packet.codec && same_bytes(video_->record, packet.payload())) {
    return Ok{};
  }
  auto read = read_video_config(packet);
  if (!read) return read.error();
  VideoConfig config = std::move(*read);

  if (muxer_ && !muxing_video_ && !emitted_) {
    discard();
  } else if (muxer_) {
    finish();
    next_discontinuity_ = true;
  }
  video_ = std::move(config);
  saw_video_config_ = true;
  return Ok{};
}

Status Segmenter::on_audio_config(const media::Packet& packet) {
  if (audio_ && audio_->codec == packet.codec && same_bytes(audio_->record, packet.payload())) {
    return Ok{};
  }
  auto read = read_audio_config(packet);
  if (!read) return read.error();
  if (muxer_ && !muxing_audio_ && !emitted_) {
    discard();
  } else if (muxer_) {
    finish();
    next_discontinuity_ = true;
  }
  audio_ = std::move(*read);
  return Ok{};
}

Status Segmenter::on_video_frame(const media::Packet& packet) {
  // No configuration for this codec yet (or its configuration was refused): undecodable.
  if (!video_ || video_->codec != packet.codec) return Ok{};
  if (!muxer_) {
    if (!packet.keyframe) return Ok{};  // segments must start with a keyframe
    if (video_->codec == media::Codec::kAv1 && video_->width == 0) {
      // av1C without the sequence header: the keyframe's temporal unit carries it.
      if (auto size = media::av1_sequence_size(packet.payload()); size && *size) {
        video_->width = (*size)->width;
        video_->height = (*size)->height;
      }
    }
    if (auto st = start(packet.dts_ms); !st) return st;
  }
  if (!muxing_video_) return Ok{};

  // MPEG-TS carries Annex B; MP4 carries the frame as RTMP does, with the record alongside.
  std::span<const std::uint8_t> frame = packet.payload();
  if (config_.container == Container::kMpegTs) {
    scratch_.clear();
    if (auto st = media::avcc_to_annexb(packet.payload(), video_->avc->nal_length_size,
                                        packet.keyframe ? &*video_->avc : nullptr, scratch_);
        !st) {
      return make_error(st.error().code, "hls: video frame at dts " +
                                             std::to_string(packet.dts_ms) +
                                             " ms: " + st.error().message);
    }
    frame = scratch_;
  }
  const auto target_ms = static_cast<std::int64_t>(std::llround(config_.target_duration_s * 1000));
  // Parts cut on their target alone: one cut at a keyframe inside a segment would leave the
  // part before it short, and parts other than a segment's last or an independent one must
  // last at least 85 % of the target. A part holding a keyframe further in is just not
  // marked independent.
  maybe_cut(packet.dts_ms, packet.keyframe && packet.dts_ms - segment_start_ms_ >= target_ms,
            part_would_overrun(packet.dts_ms));
  if (auto st = muxer_->write_video(frame, packet.dts_ms, packet.pts_ms(), packet.keyframe); !st) {
    return make_error(st.error().code, "hls: " + st.error().message);
  }
  if (!part_has_media_) part_independent_ = packet.keyframe;
  part_has_media_ = true;
  segment_has_media_ = true;
  last_dts_ms_ = packet.dts_ms;
  if (video_frames_ == 0) {
    first_video_dts_ = packet.dts_ms;
  } else if (packet.dts_ms > last_video_dts_) {
    last_video_delta_ = packet.dts_ms - last_video_dts_;
  }
  last_video_dts_ = packet.dts_ms;
  ++video_frames_;
  return Ok{};
}

Status Segmenter::on_audio_frame(const media::Packet& packet) {
  if (!audio_ || audio_->codec != packet.codec) return Ok{};
  if (!muxer_) {
    if (saw_video_config_) return Ok{};  // audio waits for the first video keyframe
    if (auto st = start(packet.dts_ms); !st) return st;
  }
  if (!muxing_audio_) return Ok{};  // video-only: the audio config came too late
  const auto target_ms = static_cast<std::int64_t>(std::llround(config_.target_duration_s * 1000));
  // With video, parts and segments cut on video frames only.
  maybe_cut(packet.dts_ms, !muxing_video_ && packet.dts_ms - segment_start_ms_ >= target_ms,
            !muxing_video_ && part_would_overrun(packet.dts_ms));
  std::uint32_t samples = 1024;  // AAC-LC
  if (audio_->codec == media::Codec::kOpus) {
    const auto opus = media::opus_packet_samples(packet.payload());
    if (!opus) return make_error(Errc::kMalformed, "hls: malformed Opus packet");
    samples = *opus;
  }
  if (auto st = muxer_->write_audio(packet.payload(), packet.dts_ms, samples); !st) {
    return make_error(st.error().code, "hls: " + st.error().message);
  }
  if (!part_has_media_) part_independent_ = !muxing_video_;
  part_has_media_ = true;
  segment_has_media_ = true;
  last_dts_ms_ = std::max(last_dts_ms_, packet.dts_ms);
  return Ok{};
}

Status Segmenter::start(std::int64_t dts_ms) {
  MuxTracks tracks;
  if (video_) {
    tracks.video = MuxVideoTrack{
        video_->codec, config_.container == Container::kFmp4 ? video_->record : video_->annexb,
        video_->width, video_->height, video_->vp9};
  }
  if (audio_) {
    tracks.audio =
        MuxAudioTrack{audio_->codec, audio_->record, audio_->sample_rate, audio_->channels};
  }
  auto muxer = Muxer::create(config_.container, tracks);
  if (!muxer) return make_error(muxer.error().code, "hls: " + muxer.error().message);
  muxer_ = std::move(*muxer);
  muxing_video_ = tracks.video.has_value();
  muxing_audio_ = tracks.audio.has_value();
  segment_start_ms_ = dts_ms;
  part_start_ms_ = dts_ms;
  last_dts_ms_ = dts_ms;
  segment_has_media_ = false;
  part_has_media_ = false;
  segment_parts_.clear();
  video_frames_ = 0;
  last_video_delta_ = 0;
  return Ok{};
}

// A track's configuration arrived after the first segment started without it (audio before
// the video sequence header, or a keyframe before the audio one). Nothing has been published
// yet, so start over with both tracks instead of publishing a sliver of a one-track stream, a
// discontinuity and, meanwhile, a master playlist that advertises the wrong CODECS.
void Segmenter::discard() {
  muxer_.reset();
  muxing_video_ = false;
  muxing_audio_ = false;
  segment_has_media_ = false;
  part_has_media_ = false;
  segment_parts_.clear();
}

bool Segmenter::part_would_overrun(std::int64_t dts_ms) const {
  if (!parts()) return false;
  // Cut before the frame that would end past the target: each part stays within it, with a
  // quarter frame of room for timestamp jitter.
  const std::int64_t frame_ms = std::max<std::int64_t>(frame_duration_estimate_ms(), 1);
  const auto target_ms = static_cast<std::int64_t>(std::floor(config_.part_target_s * 1000));
  return dts_ms - part_start_ms_ + frame_ms + frame_ms / 4 > target_ms;
}

void Segmenter::maybe_cut(std::int64_t dts_ms, bool segment_boundary, bool part_boundary) {
  if (!segment_has_media_) return;
  const bool too_big = segment_parts_.size() + muxer_->pending_bytes() >= config_.max_segment_bytes;
  if (segment_boundary || too_big) {
    emit(dts_ms);
    segment_start_ms_ = dts_ms;
    part_start_ms_ = dts_ms;
  } else if (parts() && part_boundary && part_has_media_) {
    emit_part(dts_ms);
    part_start_ms_ = dts_ms;
  }
}

void Segmenter::emit_part(std::int64_t end_dts_ms, bool at_next_frame) {
  auto bytes = muxer_->cut(at_next_frame ? std::optional(end_dts_ms) : std::nullopt);
  part_has_media_ = false;
  if (!bytes || bytes->empty()) return;
  FinishedPart part;
  part.start_dts_ms = part_start_ms_;
  part.duration_ms = std::max<std::int64_t>(0, end_dts_ms - part_start_ms_);
  part.independent = part_independent_;
  part.discontinuity = segment_parts_.empty() && next_discontinuity_;
  part.init = muxer_->init_segment();
  if (segment_parts_.capacity() == 0) {
    // The segment is its parts end to end: room for as much as the last one took, from the
    // pool the segments return their buffers to.
    segment_parts_ = media::BytesPool::shared().take(last_segment_bytes_ + last_segment_bytes_ / 8,
                                                     last_segment_bytes_ + last_segment_bytes_ / 4);
  }
  segment_parts_.insert(segment_parts_.end(), bytes->begin(), bytes->end());
  part.data = std::move(*bytes);
  part_sink_(std::move(part));
}

void Segmenter::emit(std::int64_t end_dts_ms, bool at_next_frame) {
  media::Bytes data;
  if (parts()) {
    if (part_has_media_) emit_part(end_dts_ms, at_next_frame);
    data = std::move(segment_parts_);
    segment_parts_ = {};
    last_segment_bytes_ = data.size();
  } else if (auto bytes = muxer_->cut(at_next_frame ? std::optional(end_dts_ms) : std::nullopt)) {
    data = std::move(*bytes);
  }
  segment_has_media_ = false;
  part_has_media_ = false;
  if (data.empty()) return;
  FinishedSegment segment;
  segment.data = std::move(data);
  segment.start_dts_ms = segment_start_ms_;
  segment.duration_ms = std::max<std::int64_t>(0, end_dts_ms - segment_start_ms_);
  segment.discontinuity = std::exchange(next_discontinuity_, false);
  segment.init = muxer_->init_segment();
  segment.info = info();
  emitted_ = true;
  sink_(std::move(segment));
}

void Segmenter::finish() {
  if (muxer_ && segment_has_media_) {
    emit(last_dts_ms_ + frame_duration_estimate_ms(), /*at_next_frame=*/false);
  }
  muxer_.reset();
  muxing_video_ = false;
  muxing_audio_ = false;
}

std::int64_t Segmenter::frame_duration_estimate_ms() const {
  if (muxing_video_ && last_video_delta_ > 0) return last_video_delta_;
  if (muxing_audio_ && audio_ && audio_->sample_rate > 0) {
    // An AAC frame, 1024 samples; Opus's usual 20 ms (960 samples at 48 kHz).
    const double samples = audio_->codec == media::Codec::kOpus ? 960.0 : 1024.0;
    return std::llround(samples * 1000.0 / audio_->sample_rate);
  }
  return 0;
}

StreamInfo Segmenter::info() const {
  StreamInfo info;
  if (muxing_video_ && video_) {
    info.codecs.push_back(video_->codec_string);
    info.width = video_->width;
    info.height = video_->height;
    if (video_frames_ >= 2 && last_video_dts_ > first_video_dts_) {
      info.frame_rate = snap_frame_rate(static_cast<double>(video_frames_ - 1) * 1000.0 /
                                        static_cast<double>(last_video_dts_ - first_video_dts_));
    }
  }
  if (muxing_audio_ && audio_) info.codecs.push_back(audio_->codec_string);
  return info;
}

}  // namespace sluice::package
