#include "package/ts_muxer.h"

#include <algorithm>
#include <cstring>
#include <string>

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

bool set_extradata(AVCodecParameters* par, const media::Bytes& data) {
  par->extradata =
      static_cast<std::uint8_t*>(av_mallocz(data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) return false;
  std::memcpy(par->extradata, data.data(), data.size());
  par->extradata_size = static_cast<int>(data.size());
  return true;
}

}  // namespace

void TsMuxer::FormatDeleter::operator()(AVFormatContext* ctx) const {
  avformat_free_context(ctx);
}

void TsMuxer::IoDeleter::operator()(AVIOContext* io) const {
  // AVIO may have replaced the buffer we gave it, so free whatever it holds now.
  av_freep(&io->buffer);
  avio_context_free(&io);
}

void TsMuxer::PacketDeleter::operator()(AVPacket* pkt) const {
  av_packet_free(&pkt);
}

TsMuxer::~TsMuxer() = default;

Result<std::unique_ptr<TsMuxer>> TsMuxer::create(const TsTracks& tracks) {
  if (!tracks.video && !tracks.audio) {
    return make_error(Errc::kUnsupported, "ts muxer: no tracks");
  }
  std::unique_ptr<TsMuxer> m(new TsMuxer());

  AVFormatContext* raw = nullptr;
  if (int rc = avformat_alloc_output_context2(&raw, nullptr, "mpegts", nullptr); rc < 0) {
    return make_error(Errc::kIo, "ts muxer: mpegts muxer unavailable: " + av_error(rc));
  }
  m->ctx_.reset(raw);

  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kIoBufferSize));
  if (!buffer) return make_error(Errc::kIo, "ts muxer: out of memory");
  AVIOContext* io =
      avio_alloc_context(buffer, kIoBufferSize, 1, &m->out_, nullptr, append_to_bytes, nullptr);
  if (!io) {
    av_free(buffer);
    return make_error(Errc::kIo, "ts muxer: out of memory");
  }
  m->io_.reset(io);
  m->ctx_->pb = io;
  m->ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;

  if (tracks.video) {
    AVStream* st = avformat_new_stream(m->ctx_.get(), nullptr);
    if (!st) return make_error(Errc::kIo, "ts muxer: cannot add video stream");
    st->time_base = kMillis;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    st->codecpar->width = tracks.video->width;
    st->codecpar->height = tracks.video->height;
    if (!set_extradata(st->codecpar, tracks.video->extradata)) {
      return make_error(Errc::kIo, "ts muxer: out of memory");
    }
    m->video_index_ = st->index;
  }
  if (tracks.audio) {
    AVStream* st = avformat_new_stream(m->ctx_.get(), nullptr);
    if (!st) return make_error(Errc::kIo, "ts muxer: cannot add audio stream");
    st->time_base = kMillis;
    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = AV_CODEC_ID_AAC;
    st->codecpar->sample_rate = static_cast<int>(tracks.audio->sample_rate);
    av_channel_layout_default(&st->codecpar->ch_layout, tracks.audio->channels);
    st->codecpar->frame_size = 1024;  // samples per AAC-LC frame
    if (!set_extradata(st->codecpar, tracks.audio->extradata)) {
      return make_error(Errc::kIo, "ts muxer: out of memory");
    }
    m->audio_index_ = st->index;
    // Given raw frames, libavformat wraps each in ADTS through a nested muxer and a fresh
    // dynamic buffer, several allocations per frame; a header of our own spares them.
    if (auto aac = media::parse_aac_config(tracks.audio->extradata);
        aac && media::adts_header(*aac, 0)) {
      m->adts_config_ = *aac;
    }
  }

  m->ctx_->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;  // see kTimestampOffsetMs
  AVDictionary* options = nullptr;
  // Audio-only: libavformat derives the PCR interval from an AAC frame size it cannot know for
  // raw frames (and warns); give it the ~100 ms it would otherwise aim for.
  if (!tracks.video) av_dict_set(&options, "pcr_period", "80", 0);
  const int rc = avformat_write_header(m->ctx_.get(), &options);
  av_dict_free(&options);
  if (rc < 0) {
    return make_error(Errc::kUnsupported, "ts muxer: write header: " + av_error(rc));
  }
  m->pkt_.reset(av_packet_alloc());
  if (!m->pkt_) return make_error(Errc::kIo, "ts muxer: out of memory");
  return m;
}

Status TsMuxer::write_video(std::span<const std::uint8_t> annexb, std::int64_t dts_ms,
                            std::int64_t pts_ms, bool keyframe) {
  if (video_index_ < 0) return make_error(Errc::kUnsupported, "ts muxer: no video track");
  return write(video_index_, annexb, dts_ms, pts_ms, keyframe);
}

Status TsMuxer::write_audio(std::span<const std::uint8_t> raw_aac, std::int64_t dts_ms) {
  if (audio_index_ < 0) return make_error(Errc::kUnsupported, "ts muxer: no audio track");
  if (adts_config_) {
    if (const auto header = media::adts_header(*adts_config_, raw_aac.size())) {
      adts_frame_.assign(header->begin(), header->end());
      adts_frame_.insert(adts_frame_.end(), raw_aac.begin(), raw_aac.end());
      return write(audio_index_, adts_frame_, dts_ms, dts_ms, true);
    }
  }
  return write(audio_index_, raw_aac, dts_ms, dts_ms, true);
}

Status TsMuxer::write(int stream_index, std::span<const std::uint8_t> data, std::int64_t dts_ms,
                      std::int64_t pts_ms, bool keyframe) {
  if (data.empty()) return make_error(Errc::kMalformed, "ts muxer: empty frame");
  if (data.size() > static_cast<std::size_t>(INT32_MAX / 2)) {
    return make_error(Errc::kLimitExceeded, "ts muxer: frame too large");
  }
  AVStream* st = ctx_->streams[stream_index];
  AVPacket* pkt = pkt_.get();
  av_packet_unref(pkt);
  // Not reference counted: av_write_frame copies what it keeps, so the caller's bytes suffice.
  pkt->data = const_cast<std::uint8_t*>(data.data());
  pkt->size = static_cast<int>(data.size());
  pkt->stream_index = stream_index;
  pkt->flags = keyframe ? AV_PKT_FLAG_KEY : 0;
  std::int64_t dts =
      av_rescale_q(std::max<std::int64_t>(0, dts_ms + kTimestampOffsetMs), kMillis, st->time_base);
  std::int64_t pts =
      av_rescale_q(std::max<std::int64_t>(0, pts_ms + kTimestampOffsetMs), kMillis, st->time_base);
  std::int64_t& last = last_dts_[stream_index];
  if (last != INT64_MIN && dts <= last) dts = last + 1;
  pts = std::max(pts, dts);
  last = dts;
  pkt->dts = dts;
  pkt->pts = pts;
  const int rc = av_write_frame(ctx_.get(), pkt);
  pkt->data = nullptr;
  pkt->size = 0;
  if (rc < 0) {
    return make_error(Errc::kMalformed, std::string("ts muxer: write ") +
                                            (stream_index == video_index_ ? "video" : "audio") +
                                            " frame at dts " + std::to_string(dts_ms) +
                                            " ms: " + av_error(rc));
  }
  return Ok{};
}

Result<media::Bytes> TsMuxer::cut() {
  if (int rc = av_write_frame(ctx_.get(), nullptr); rc < 0) {
    return make_error(Errc::kIo, "ts muxer: flush: " + av_error(rc));
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
  // What FFmpeg's hlsenc does between segments: repeat PAT/PMT before the next packet.
  av_opt_set(ctx_->priv_data, "mpegts_flags", "resend_headers", 0);
  return segment;
}

}  // namespace sluice::package
