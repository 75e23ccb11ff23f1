#include "transcode/codecs.h"

#include <cmath>
#include <cstring>

#include "media/h264.h"
#include "transcode/ladder.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/rational.h>
}

namespace sluice::transcode {
namespace {

constexpr AVRational kMillis{1, 1000};
constexpr int kReanchorMs = 200;

Error av_failure(const std::string& what, int code) {
  return make_error(Errc::kIo, what + ": " + av::error_string(code));
}

bool copy_extradata(AVCodecContext* ctx, std::span<const std::uint8_t> data) {
  ctx->extradata =
      static_cast<std::uint8_t*>(av_mallocz(data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!ctx->extradata) return false;
  if (!data.empty()) std::memcpy(ctx->extradata, data.data(), data.size());
  ctx->extradata_size = static_cast<int>(data.size());
  return true;
}

// An FLV tag body: the tag header bytes, then the payload (style: Packets carry FLV bodies).
media::PacketPtr make_packet(media::TrackKind kind, media::Codec codec, bool config, bool key,
                             std::int64_t dts_ms, std::int32_t cts_ms, media::Bytes&& body,
                             std::uint32_t header_size) {
  auto p = std::make_shared<media::Packet>();
  p->kind = kind;
  p->codec = codec;
  p->config = config;
  p->keyframe = key;
  p->dts_ms = dts_ms;
  p->cts_ms = cts_ms;
  p->payload_offset = header_size;
  p->body = std::make_shared<const media::Bytes>(std::move(body));
  return p;
}

media::Bytes video_tag_header(bool key, bool config, std::int32_t cts_ms) {
  const auto cts = static_cast<std::uint32_t>(cts_ms);
  return media::Bytes{static_cast<std::uint8_t>(key ? 0x17 : 0x27),
                      static_cast<std::uint8_t>(config ? 0 : 1),
                      static_cast<std::uint8_t>(cts >> 16), static_cast<std::uint8_t>(cts >> 8),
                      static_cast<std::uint8_t>(cts)};
}

// AAC, "44 kHz", 16-bit, stereo: FLV requires these flags for AAC whatever the real format.
constexpr std::uint8_t kAacTagByte = 0xAF;

}  // namespace

media::PacketPtr make_flv_packet(media::TrackKind kind, bool config, bool key, std::int64_t dts_ms,
                                 std::int32_t cts_ms, std::span<const std::uint8_t> payload) {
  const bool video = kind == media::TrackKind::kVideo;
  media::Bytes body = video ? video_tag_header(key, config, cts_ms)
                            : media::Bytes{kAacTagByte, static_cast<std::uint8_t>(config ? 0 : 1)};
  const auto header_size = static_cast<std::uint32_t>(body.size());
  body.insert(body.end(), payload.begin(), payload.end());
  return make_packet(kind, video ? media::Codec::kH264 : media::Codec::kAac, config, key, dts_ms,
                     cts_ms, std::move(body), header_size);
}

// ---- Decoder --------------------------------------------------------------------------

namespace {

AVCodecID decoder_id(media::Codec codec) {
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
    case media::Codec::kAc3:
      return AV_CODEC_ID_AC3;
    case media::Codec::kEac3:
      return AV_CODEC_ID_EAC3;
    case media::Codec::kFlac:
      return AV_CODEC_ID_FLAC;
    case media::Codec::kMp3:
      return AV_CODEC_ID_MP3;
    default:
      return AV_CODEC_ID_NONE;
  }
}

}  // namespace

bool decodable(media::Codec codec) {
  return decoder_id(codec) != AV_CODEC_ID_NONE;
}

bool needs_config(media::Codec codec) {
  return codec != media::Codec::kMp3 && codec != media::Codec::kAc3 && codec != media::Codec::kEac3;
}

Result<std::unique_ptr<Decoder>> Decoder::open(media::Codec codec,
                                               std::span<const std::uint8_t> config, int threads) {
  const AVCodecID id = decoder_id(codec);
  if (id == AV_CODEC_ID_NONE) {
    return make_error(Errc::kUnsupported,
                      std::string("no decoder for ") + media::codec_name(codec));
  }
  // VP9's decoder takes no vpcC: its frames carry everything.
  if (codec == media::Codec::kVp9) config = {};
  // libdav1d for AV1 where the build has it: FFmpeg's own decodes only with hardware.
  const AVCodec* c = id == AV_CODEC_ID_AV1 ? avcodec_find_decoder_by_name("libdav1d") : nullptr;
  if (!c) c = avcodec_find_decoder(id);
  if (!c)
    return make_error(Errc::kUnsupported, "no decoder for " + std::string(avcodec_get_name(id)));
  auto d = std::unique_ptr<Decoder>(new Decoder);
  d->ctx_.reset(avcodec_alloc_context3(c));
  if (!d->ctx_ || !d->pkt_ || !d->frame_ || !copy_extradata(d->ctx_.get(), config)) {
    return make_error(Errc::kIo, "decoder: out of memory");
  }
  d->ctx_->pkt_timebase = kMillis;
  d->ctx_->thread_count = threads;
  if (int rc = avcodec_open2(d->ctx_.get(), c, nullptr); rc < 0) {
    return av_failure(std::string("opening the ") + c->name + " decoder", rc);
  }
  return d;
}

Status Decoder::decode(const media::Packet& packet, const FrameCallback& sink) {
  const auto payload = packet.payload();
  if (payload.empty()) return Ok{};
  av_packet_unref(pkt_.get());
  if (av_new_packet(pkt_.get(), static_cast<int>(payload.size())) < 0) {
    return make_error(Errc::kIo, "decoder: out of memory");
  }
  std::memcpy(pkt_->data, payload.data(), payload.size());
  pkt_->pts = packet.pts_ms();
  pkt_->dts = packet.dts_ms;
  if (packet.keyframe) pkt_->flags |= AV_PKT_FLAG_KEY;
  int rc = avcodec_send_packet(ctx_.get(), pkt_.get());
  if (rc == AVERROR(EAGAIN)) {
    if (auto st = drain(sink); !st) return st;
    rc = avcodec_send_packet(ctx_.get(), pkt_.get());
  }
  if (rc < 0)
    return av_failure("decoding the frame at " + std::to_string(packet.dts_ms) + " ms", rc);
  return drain(sink);
}

void Decoder::flush(const FrameCallback& sink) {
  avcodec_send_packet(ctx_.get(), nullptr);
  (void)drain(sink);
}

Status Decoder::drain(const FrameCallback& sink) {
  while (true) {
    const int rc = avcodec_receive_frame(ctx_.get(), frame_.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Ok{};
    if (rc < 0) return av_failure("decoding", rc);
    frame_->pts = frame_->best_effort_timestamp;
    sink(frame_.get());
    av_frame_unref(frame_.get());
  }
}

// ---- Scaler ---------------------------------------------------------------------------

Result<const AVFrame*> Scaler::scale(const AVFrame* in) {
  if (in->width == width_ && in->height == height_ && in->format == AV_PIX_FMT_YUV420P) return in;
  if (!sws_ || in->width != in_width_ || in->height != in_height_ || in->format != in_format_) {
    sws_.reset(sws_getContext(in->width, in->height, static_cast<AVPixelFormat>(in->format), width_,
                              height_, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_) {
      return make_error(Errc::kUnsupported, "scaler: cannot convert " + std::to_string(in->width) +
                                                "x" + std::to_string(in->height) + " to " +
                                                std::to_string(width_) + "x" +
                                                std::to_string(height_));
    }
    in_width_ = in->width;
    in_height_ = in->height;
    in_format_ = in->format;
  }
  if (!out_) {
    out_ = av::make_frame();
    out_->width = width_;
    out_->height = height_;
    out_->format = AV_PIX_FMT_YUV420P;
    if (int rc = av_frame_get_buffer(out_.get(), 0); rc < 0) {
      out_.reset();
      return av_failure("scaler: allocating a picture", rc);
    }
  }
  // The encoder may still hold the last picture; write into a fresh buffer if so.
  if (int rc = av_frame_make_writable(out_.get()); rc < 0) return av_failure("scaler", rc);
  sws_scale(sws_.get(), in->data, in->linesize, 0, in->height, out_->data, out_->linesize);
  out_->pts = in->pts;
  return static_cast<const AVFrame*>(out_.get());
}

// ---- VideoEncoder ---------------------------------------------------------------------

Result<std::unique_ptr<VideoEncoder>> VideoEncoder::open(const VideoEncoderParams& params) {
  const AVCodec* c = avcodec_find_encoder_by_name("libx264");
  if (!c) return make_error(Errc::kUnsupported, "libavcodec was built without libx264");
  auto e = std::unique_ptr<VideoEncoder>(new VideoEncoder);
  e->params_ = params;
  e->ctx_.reset(avcodec_alloc_context3(c));
  if (!e->ctx_ || !e->pkt_ || !e->frame_) return make_error(Errc::kIo, "encoder: out of memory");
  AVCodecContext* ctx = e->ctx_.get();
  ctx->width = params.width;
  ctx->height = params.height;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = kMillis;
  ctx->framerate = av_d2q(params.frame_rate, 1001000);
  // Keyframes are forced at GOP boundaries by timestamp; x264's own interval is a backstop
  // well beyond it, so a variable frame rate cannot add unaligned keyframes.
  ctx->gop_size = params.gop_frames * 2;
  ctx->keyint_min = params.gop_frames;
  ctx->rc_max_rate = static_cast<std::int64_t>(params.maxrate_kbps) * 1000;
  ctx->rc_buffer_size = params.bufsize_kbps * 1000;
  ctx->thread_count = params.threads;
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "preset", params.preset.c_str(), 0);
  av_dict_set(&opts, "profile", params.profile.c_str(), 0);
  av_dict_set(&opts, "crf", std::to_string(params.crf).c_str(), 0);
  av_dict_set(&opts, "forced-idr", "1", 0);
  // Scene cuts would add keyframes that other rungs do not have; ours come last, so win.
  av_dict_set(&opts, "x264-params", join_x264_params(params.x264_params, "scenecut=0").c_str(), 0);
  const int rc = avcodec_open2(ctx, c, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    return av_failure(
        "opening libx264 at " + std::to_string(params.width) + "x" + std::to_string(params.height),
        rc);
  }
  auto record = media::avc_config_from_annexb(
      std::span<const std::uint8_t>(ctx->extradata, static_cast<std::size_t>(ctx->extradata_size)));
  if (!record) return record.error();
  e->config_record_ = std::move(*record);
  return e;
}

media::PacketPtr VideoEncoder::config_packet(std::int64_t dts_ms) const {
  return make_flv_packet(media::TrackKind::kVideo, true, true, dts_ms, 0, config_record_);
}

Status VideoEncoder::encode(const AVFrame* picture, bool force_key, const PacketCallback& sink) {
  if (int rc = av_frame_ref(frame_.get(), picture); rc < 0) return av_failure("encoder", rc);
  frame_->pict_type = force_key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  const int rc = avcodec_send_frame(ctx_.get(), frame_.get());
  av_frame_unref(frame_.get());
  if (rc < 0) return av_failure("encoding", rc);
  return drain(sink);
}

Status VideoEncoder::flush(const PacketCallback& sink) {
  avcodec_send_frame(ctx_.get(), nullptr);
  return drain(sink);
}

Status VideoEncoder::drain(const PacketCallback& sink) {
  while (true) {
    const int rc = avcodec_receive_packet(ctx_.get(), pkt_.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Ok{};
    if (rc < 0) return av_failure("encoding", rc);
    const bool key = (pkt_->flags & AV_PKT_FLAG_KEY) != 0;
    const auto cts = static_cast<std::int32_t>(pkt_->pts - pkt_->dts);
    media::Bytes body = video_tag_header(key, false, cts);
    body.reserve(5 + static_cast<std::size_t>(pkt_->size));
    media::annexb_to_avcc(
        std::span<const std::uint8_t>(pkt_->data, static_cast<std::size_t>(pkt_->size)), body);
    sink(make_packet(media::TrackKind::kVideo, media::Codec::kH264, false, key, pkt_->dts, cts,
                     std::move(body), 5));
    av_packet_unref(pkt_.get());
  }
}

// ---- AudioEncoder ---------------------------------------------------------------------

Result<std::unique_ptr<AudioEncoder>> AudioEncoder::open(const AudioEncoderParams& params,
                                                         int channels) {
  const AVCodec* c = avcodec_find_encoder(AV_CODEC_ID_AAC);
  if (!c) return make_error(Errc::kUnsupported, "no AAC encoder");
  auto e = std::unique_ptr<AudioEncoder>(new AudioEncoder);
  e->params_ = params;
  e->ctx_.reset(avcodec_alloc_context3(c));
  if (!e->ctx_ || !e->pkt_ || !e->frame_) return make_error(Errc::kIo, "encoder: out of memory");
  AVCodecContext* ctx = e->ctx_.get();
  ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
  ctx->sample_rate = params.sample_rate;
  av_channel_layout_default(&ctx->ch_layout, channels >= 2 ? 2 : 1);
  ctx->bit_rate = static_cast<std::int64_t>(params.bitrate_kbps) * 1000;
  ctx->time_base = AVRational{1, params.sample_rate};
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (int rc = avcodec_open2(ctx, c, nullptr); rc < 0)
    return av_failure("opening the AAC encoder", rc);
  e->config_record_.assign(ctx->extradata, ctx->extradata + ctx->extradata_size);
  e->fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, ctx->ch_layout.nb_channels, 4 * 1024));
  e->frame_->format = AV_SAMPLE_FMT_FLTP;
  e->frame_->nb_samples = ctx->frame_size;
  if (av_channel_layout_copy(&e->frame_->ch_layout, &ctx->ch_layout) < 0 || !e->fifo_ ||
      av_frame_get_buffer(e->frame_.get(), 0) < 0) {
    return make_error(Errc::kIo, "encoder: out of memory");
  }
  return e;
}

int AudioEncoder::channels() const {
  return ctx_->ch_layout.nb_channels;
}

media::PacketPtr AudioEncoder::config_packet(std::int64_t dts_ms) const {
  return make_flv_packet(media::TrackKind::kAudio, true, false, dts_ms, 0, config_record_);
}

Status AudioEncoder::encode(const AVFrame* in, const PacketCallback& sink) {
  if (in->nb_samples <= 0 || in->sample_rate <= 0) return Ok{};
  if (!swr_ || in->sample_rate != swr_in_rate_ || in->format != swr_in_format_ ||
      in->ch_layout.nb_channels != swr_in_channels_) {
    SwrContext* swr = nullptr;
    // FFmpeg 5.1 takes the input layout non-const; it only reads it.
    int rc =
        swr_alloc_set_opts2(&swr, &ctx_->ch_layout, AV_SAMPLE_FMT_FLTP, ctx_->sample_rate,
                            const_cast<AVChannelLayout*>(&in->ch_layout),
                            static_cast<AVSampleFormat>(in->format), in->sample_rate, 0, nullptr);
    swr_.reset(swr);
    if (rc < 0 || (rc = swr_init(swr_.get())) < 0) return av_failure("audio resampler", rc);
    swr_in_rate_ = in->sample_rate;
    swr_in_format_ = in->format;
    swr_in_channels_ = in->ch_layout.nb_channels;
  }
  const int rate = ctx_->sample_rate;
  const std::int64_t in_ms = in->pts;
  if (!anchored_) {
    anchored_ = true;
    anchor_ms_ = in_ms;
  } else if (std::abs(in_ms - expected_in_ms_) > kReanchorMs) {
    // The input jumped: keep the samples we have, but place what follows at its new time.
    const std::int64_t queued = samples_sent_ + av_audio_fifo_size(fifo_.get());
    anchor_ms_ = in_ms - queued * 1000 / rate;
  }
  expected_in_ms_ = in_ms + static_cast<std::int64_t>(in->nb_samples) * 1000 / in->sample_rate;

  const int out_max = swr_get_out_samples(swr_.get(), in->nb_samples);
  std::uint8_t** converted = nullptr;
  if (av_samples_alloc_array_and_samples(&converted, nullptr, channels(), out_max,
                                         AV_SAMPLE_FMT_FLTP, 0) < 0) {
    return make_error(Errc::kIo, "resampler: out of memory");
  }
  const int n = swr_convert(swr_.get(), converted, out_max,
                            const_cast<const std::uint8_t**>(in->extended_data), in->nb_samples);
  if (n > 0) av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(converted), n);
  av_freep(&converted[0]);
  av_freep(&converted);
  if (n < 0) return av_failure("resampling", n);
  return encode_fifo(false, sink);
}

Status AudioEncoder::encode_fifo(bool final, const PacketCallback& sink) {
  const int frame_size = ctx_->frame_size;
  while (av_audio_fifo_size(fifo_.get()) >= frame_size ||
         (final && av_audio_fifo_size(fifo_.get()) > 0)) {
    if (int rc = av_frame_make_writable(frame_.get()); rc < 0) return av_failure("encoder", rc);
    const int n =
        av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame_->data), frame_size);
    frame_->nb_samples = n;
    frame_->pts = samples_sent_;
    samples_sent_ += n;
    const int rc = avcodec_send_frame(ctx_.get(), frame_.get());
    frame_->nb_samples = frame_size;
    if (rc < 0) return av_failure("encoding audio", rc);
    if (auto st = drain(sink); !st) return st;
  }
  return Ok{};
}

Status AudioEncoder::flush(const PacketCallback& sink) {
  if (auto st = encode_fifo(true, sink); !st) return st;
  avcodec_send_frame(ctx_.get(), nullptr);
  return drain(sink);
}

Status AudioEncoder::drain(const PacketCallback& sink) {
  while (true) {
    const int rc = avcodec_receive_packet(ctx_.get(), pkt_.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Ok{};
    if (rc < 0) return av_failure("encoding audio", rc);
    const std::int64_t ms = anchor_ms_ + av_rescale(pkt_->pts, 1000, ctx_->sample_rate);
    media::Bytes body{kAacTagByte, 1};
    body.insert(body.end(), pkt_->data, pkt_->data + pkt_->size);
    sink(make_packet(media::TrackKind::kAudio, media::Codec::kAac, false, false, ms, 0,
                     std::move(body), 2));
    av_packet_unref(pkt_.get());
  }
}

}  // namespace sluice::transcode
