#include "package/muxer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "media/aac.h"
#include "media/bytes_pool.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixfmt.h>
}

namespace sluice::package {
namespace {

constexpr int kIoBufferSize = 64 * 1024;
constexpr AVRational kMillis{1, 1000};
// Every timestamp is written this much later than the stream time. Encoders start slightly
// below zero (B-frame delay, AAC priming); libavformat would otherwise shift each segment's
// timestamps by its own first negative value, and renditions of one stream would carry
// different PTS for the same picture, which players switching between them notice.
constexpr std::int64_t kTimestampOffsetMs = 1000;

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
using WriteBuf = const std::uint8_t*;
#else
using WriteBuf = std::uint8_t*;
#endif

int append_to_bytes(void* opaque, WriteBuf buf, int size) {
  auto* out = static_cast<media::Bytes*>(opaque);
  out->insert(out->end(), buf, buf + size);
  return size;
}

AVCodecID codec_id(media::Codec codec) {
  switch (codec) {
    case media::Codec::kH264:
      return AV_CODEC_ID_H264;
    case media::Codec::kHevc:
      return AV_CODEC_ID_HEVC;
    case media::Codec::kAv1:
      return AV_CODEC_ID_AV1;
    case media::Codec::kVp9:
      return AV_CODEC_ID_VP9;
    case media::Codec::kAac:
      return AV_CODEC_ID_AAC;
    case media::Codec::kOpus:
      return AV_CODEC_ID_OPUS;
    default:
      return AV_CODEC_ID_NONE;
  }
}

// The pixel format a vpcC describes: libavformat writes the vpcC box from the stream's
// parameters rather than from a record.
AVPixelFormat vp9_pixel_format(const media::Vp9Config& c) {
  static constexpr AVPixelFormat kFormats[3][3] = {
      {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV444P},
      {AV_PIX_FMT_YUV420P10, AV_PIX_FMT_YUV422P10, AV_PIX_FMT_YUV444P10},
      {AV_PIX_FMT_YUV420P12, AV_PIX_FMT_YUV422P12, AV_PIX_FMT_YUV444P12}};
  const int depth = c.bit_depth == 12 ? 2 : c.bit_depth == 10 ? 1 : 0;
  const int chroma = c.chroma_subsampling <= 1 ? 0 : c.chroma_subsampling == 2 ? 1 : 2;
  return kFormats[depth][chroma];
}

bool set_extradata(AVCodecParameters* par, const media::Bytes& data) {
  par->extradata =
      static_cast<std::uint8_t*>(av_mallocz(data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) return false;
  std::memcpy(par->extradata, data.data(), data.size());
  par->extradata_size = static_cast<int>(data.size());
  return true;
}

}  // namespace

void Muxer::FormatDeleter::operator()(AVFormatContext* ctx) const {
  avformat_free_context(ctx);
}

void Muxer::IoDeleter::operator()(AVIOContext* io) const {
  // AVIO may have replaced the buffer we gave it, so free whatever it holds now.
  av_freep(&io->buffer);
  avio_context_free(&io);
}

void Muxer::PacketDeleter::operator()(AVPacket* pkt) const {
  av_packet_free(&pkt);
}

Muxer::~Muxer() = default;

Result<std::unique_ptr<Muxer>> Muxer::create(Container container, const MuxTracks& tracks) {
  if (!tracks.video && !tracks.audio) {
    return make_error(Errc::kUnsupported, "muxer: no tracks");
  }
  std::unique_ptr<Muxer> m(new Muxer(container));
  const bool fmp4 = container == Container::kFmp4;
  if (!fmp4 && ((tracks.video && tracks.video->codec != media::Codec::kH264) ||
                (tracks.audio && tracks.audio->codec != media::Codec::kAac))) {
    return make_error(Errc::kUnsupported, "muxer: MPEG-TS carries H.264 and AAC only");
  }
  if ((tracks.video && codec_id(tracks.video->codec) == AV_CODEC_ID_NONE) ||
      (tracks.audio && codec_id(tracks.audio->codec) == AV_CODEC_ID_NONE)) {
    return make_error(Errc::kUnsupported, "muxer: codec not supported");
  }

  AVFormatContext* raw = nullptr;
  const char* format = fmp4 ? "mp4" : "mpegts";
  if (int rc = avformat_alloc_output_context2(&raw, nullptr, format, nullptr); rc < 0) {
    return make_error(Errc::kIo,
                      std::string("muxer: ") + format + " muxer unavailable: " + av_error(rc));
  }
  m->ctx_.reset(raw);

  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kIoBufferSize));
  if (!buffer) return make_error(Errc::kIo, "muxer: out of memory");
  AVIOContext* io =
      avio_alloc_context(buffer, kIoBufferSize, 1, &m->out_, nullptr, append_to_bytes, nullptr);
  if (!io) {
    av_free(buffer);
    return make_error(Errc::kIo, "muxer: out of memory");
  }
  m->io_.reset(io);
  m->ctx_->pb = io;
  m->ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;

  if (tracks.video) {
    AVStream* st = avformat_new_stream(m->ctx_.get(), nullptr);
    if (!st) return make_error(Errc::kIo, "muxer: cannot add video stream");
    st->time_base = kMillis;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = codec_id(tracks.video->codec);
    st->codecpar->width = tracks.video->width;
    st->codecpar->height = tracks.video->height;
    // hvc1 (parameter sets in the sample entry only) is what HLS asks for; hev1 is the default.
    if (tracks.video->codec == media::Codec::kHevc)
      st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    if (const auto& vp9 = tracks.video->vp9) {
      st->codecpar->format = vp9_pixel_format(*vp9);
      st->codecpar->profile = vp9->profile;
      st->codecpar->level = vp9->level;
      st->codecpar->color_range = vp9->full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
      st->codecpar->color_primaries = static_cast<AVColorPrimaries>(vp9->colour_primaries);
      st->codecpar->color_trc = static_cast<AVColorTransferCharacteristic>(vp9->transfer);
      st->codecpar->color_space = static_cast<AVColorSpace>(vp9->matrix);
    } else if (!set_extradata(st->codecpar, tracks.video->extradata)) {
      return make_error(Errc::kIo, "muxer: out of memory");
    }
    m->video_index_ = st->index;
  }
  if (tracks.audio) {
    AVStream* st = avformat_new_stream(m->ctx_.get(), nullptr);
    if (!st) return make_error(Errc::kIo, "muxer: cannot add audio stream");
    st->time_base = kMillis;
    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = codec_id(tracks.audio->codec);
    st->codecpar->sample_rate = static_cast<int>(tracks.audio->sample_rate);
    av_channel_layout_default(&st->codecpar->ch_layout, tracks.audio->channels);
    // Samples per frame: AAC-LC's 1024; Opus's usual 20 ms (each frame gives its own).
    st->codecpar->frame_size = tracks.audio->codec == media::Codec::kOpus ? 960 : 1024;
    if (!set_extradata(st->codecpar, tracks.audio->extradata)) {
      return make_error(Errc::kIo, "muxer: out of memory");
    }
    m->audio_index_ = st->index;
    // MPEG-TS, given raw frames, libavformat wraps each in ADTS through a nested muxer and a fresh
    // dynamic buffer, several allocations per frame; a header of our own spares them.
    if (auto aac = media::parse_aac_config(tracks.audio->extradata);
        !fmp4 && aac && media::adts_header(*aac, 0)) {
      m->adts_config_ = *aac;
    }
  }

  m->ctx_->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;  // see kTimestampOffsetMs
  AVDictionary* options = nullptr;
  if (fmp4) {
    // The init segment (ftyp and an empty moov) comes out of the header; each cut is then one
    // fragment. frag_discont with no edit list puts each track's real decode time in the first
    // fragment's tfdt, so renditions opened at different times line up.
    av_dict_set(&options, "movflags",
                "frag_custom+empty_moov+default_base_moof+frag_discont+skip_trailer+cmaf", 0);
    av_dict_set(&options, "use_editlist", "0", 0);
  } else if (!tracks.video) {
    // Audio-only: libavformat derives the PCR interval from an AAC frame size it cannot know
    // for raw frames (and warns); give it the ~100 ms it would otherwise aim for.
    av_dict_set(&options, "pcr_period", "80", 0);
  }
  const int rc = avformat_write_header(m->ctx_.get(), &options);
  av_dict_free(&options);
  if (rc < 0) {
    return make_error(Errc::kUnsupported, "muxer: write header: " + av_error(rc));
  }
  if (fmp4) {
    avio_flush(m->ctx_->pb);
    if (m->out_.empty()) return make_error(Errc::kIo, "muxer: no init segment");
    m->init_ = std::make_shared<const media::Bytes>(std::move(m->out_));
    m->out_.clear();
  }
  if (m->audio_index_ >= 0) {
    m->audio_sample_rate_ = std::max(1, static_cast<int>(tracks.audio->sample_rate));
  }
  m->pkt_.reset(av_packet_alloc());
  if (!m->pkt_) return make_error(Errc::kIo, "muxer: out of memory");
  return m;
}

Status Muxer::write_video(std::span<const std::uint8_t> frame, std::int64_t dts_ms,
                          std::int64_t pts_ms, bool keyframe) {
  if (video_index_ < 0) return make_error(Errc::kUnsupported, "muxer: no video track");
  if (auto st = check_size(frame); !st) return st;
  auto [dts, pts] = ticks(video_index_, dts_ms, pts_ms);
  if (container_ == Container::kMpegTs) return submit(video_index_, frame, dts, pts, 0, keyframe);
  // MP4 writes a sample's duration as the muxer is given it, and a fragment's last sample has
  // no successor to measure against: hold each frame until the next one (or the cut) says
  // when it ends.
  Status st = Ok{};
  if (held_video_) st = write_held_video(dts);
  held_video_ = HeldVideo{dts, pts, keyframe};
  held_video_bytes_.assign(frame.begin(), frame.end());
  return st;
}

Status Muxer::write_audio(std::span<const std::uint8_t> frame, std::int64_t dts_ms,
                          std::uint32_t samples) {
  if (audio_index_ < 0) return make_error(Errc::kUnsupported, "muxer: no audio track");
  if (auto st = check_size(frame); !st) return st;
  auto [dts, pts] = ticks(audio_index_, dts_ms, dts_ms);
  const std::int64_t duration =
      av_rescale_q(samples, {1, audio_sample_rate_}, ctx_->streams[audio_index_]->time_base);
  if (last_audio_dts_ != INT64_MIN) {
    // Audio frames follow each other without overlap: a frame stamped before the end of the last
    // (an encoder that repeats a timestamp, as GStreamer's flvmux does under load) starts
    // where the last ends. In MP4, whose sample times are exact, so does one within the
    // millisecond jitter after it.
    const std::int64_t expected = last_audio_dts_ + last_audio_ticks_;
    const std::int64_t slack =
        container_ == Container::kFmp4
            ? av_rescale_q(2, kMillis, ctx_->streams[audio_index_]->time_base)
            : 0;
    if (dts < expected || dts - expected <= slack) {
      dts = pts = expected;
      last_dts_[audio_index_] = dts;
    }
  }
  last_audio_dts_ = dts;
  last_audio_ticks_ = duration;
  if (container_ == Container::kFmp4) {
    return submit(audio_index_, frame, dts, pts, duration, true);
  }
  if (adts_config_) {
    if (const auto header = media::adts_header(*adts_config_, frame.size())) {
      adts_frame_.assign(header->begin(), header->end());
      adts_frame_.insert(adts_frame_.end(), frame.begin(), frame.end());
      return submit(audio_index_, adts_frame_, dts, pts, 0, true);
    }
  }
  return submit(audio_index_, frame, dts, pts, 0, true);
}

Status Muxer::check_size(std::span<const std::uint8_t> data) const {
  if (data.empty()) return make_error(Errc::kMalformed, "muxer: empty frame");
  if (data.size() > static_cast<std::size_t>(INT32_MAX / 2)) {
    return make_error(Errc::kLimitExceeded, "muxer: frame too large");
  }
  return Ok{};
}

std::pair<std::int64_t, std::int64_t> Muxer::ticks(int stream_index, std::int64_t dts_ms,
                                                   std::int64_t pts_ms) {
  const AVRational tb = ctx_->streams[stream_index]->time_base;
  std::int64_t dts =
      av_rescale_q(std::max<std::int64_t>(0, dts_ms + kTimestampOffsetMs), kMillis, tb);
  std::int64_t pts =
      av_rescale_q(std::max<std::int64_t>(0, pts_ms + kTimestampOffsetMs), kMillis, tb);
  // DTS rise by a millisecond at least: a one-tick step would vanish in a reader's coarser
  // time base and give it two frames at one DTS.
  std::int64_t& last = last_dts_[stream_index];
  if (last != INT64_MIN && dts <= last)
    dts = last + std::max<std::int64_t>(1, av_rescale_q(1, kMillis, tb));
  last = dts;
  return {dts, std::max(pts, dts)};
}

Status Muxer::write_held_video(std::int64_t end) {
  const HeldVideo held = *held_video_;
  held_video_.reset();
  std::int64_t duration = end - held.dts;
  if (duration <= 0) {
    duration = last_video_duration_ > 0
                   ? last_video_duration_
                   : av_rescale_q(33, kMillis, ctx_->streams[video_index_]->time_base);
  }
  last_video_duration_ = duration;
  return submit(video_index_, held_video_bytes_, held.dts, held.pts, duration, held.keyframe);
}

Status Muxer::submit(int stream_index, std::span<const std::uint8_t> data, std::int64_t dts,
                     std::int64_t pts, std::int64_t duration, bool keyframe) {
  AVPacket* pkt = pkt_.get();
  av_packet_unref(pkt);
  // Not reference counted: av_write_frame copies what it keeps, so the caller's bytes suffice.
  pkt->data = const_cast<std::uint8_t*>(data.data());
  pkt->size = static_cast<int>(data.size());
  pkt->stream_index = stream_index;
  pkt->flags = keyframe ? AV_PKT_FLAG_KEY : 0;
  pkt->dts = dts;
  pkt->pts = pts;
  pkt->duration = duration;
  const int rc = av_write_frame(ctx_.get(), pkt);
  pkt->data = nullptr;
  pkt->size = 0;
  if (rc < 0) {
    const AVRational tb = ctx_->streams[stream_index]->time_base;
    return make_error(Errc::kMalformed,
                      std::string("muxer: write ") +
                          (stream_index == video_index_ ? "video" : "audio") + " frame at dts " +
                          std::to_string(av_rescale_q(dts, tb, kMillis) - kTimestampOffsetMs) +
                          " ms: " + av_error(rc));
  }
  return Ok{};
}

Result<media::Bytes> Muxer::cut(std::optional<std::int64_t> next_video_dts_ms) {
  if (held_video_) {
    const std::int64_t end = next_video_dts_ms
                                 ? av_rescale_q(*next_video_dts_ms + kTimestampOffsetMs, kMillis,
                                                ctx_->streams[video_index_]->time_base)
                                 : 0;  // unknown: the previous frame's duration
    if (auto st = write_held_video(end); !st) return st.error();
  }
  if (int rc = av_write_frame(ctx_.get(), nullptr); rc < 0) {
    return make_error(Errc::kIo, "muxer: flush: " + av_error(rc));
  }
  avio_flush(ctx_->pb);
  media::Bytes segment = std::move(out_);
  // Segments of a stream are about the same size: reserving for the next one saves the
  // copies of growing a vector from empty to megabytes, and a recycled buffer saves
  // faulting fresh pages in. New buffers get a quarter more room than this segment needed,
  // and a recycled one is taken if it has an eighth more, so that segments varying in size
  // still find one.
  out_ = media::BytesPool::shared().take(segment.size() + segment.size() / 8,
                                         segment.size() + segment.size() / 4);
  // What FFmpeg's hlsenc does between MPEG-TS segments: repeat PAT/PMT before the next packet.
  if (container_ == Container::kMpegTs) {
    av_opt_set(ctx_->priv_data, "mpegts_flags", "resend_headers", 0);
  }
  return segment;
}

}  // namespace sluice::package
