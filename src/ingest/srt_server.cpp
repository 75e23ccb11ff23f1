#include "ingest/srt_server.h"

#include <spdlog/spdlog.h>
#include <srt/srt.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>

#include "media/aac.h"
#include "media/h264.h"
#include "media/hevc.h"
#include "media/opus.h"
#include "media/timestamps.h"
#include "observe/log.h"
#include "proto/flv/enhanced.h"
#include "proto/flv/flv.h"
#include "proto/proxy/proxy_header.h"
#include "proto/srt/stream_id.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
}

namespace sluice::ingest {

namespace asio = boost::asio;

namespace {

constexpr int kIoBufferSize = 64 * 1024;
constexpr std::size_t kSrtPayload = 1500;  // above SRT's largest live payload (1456)

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct IoCloser {
  void operator()(AVIOContext* io) const {
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
  }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct BsfFreer {
  void operator()(AVBSFContext* b) const { av_bsf_free(&b); }
};

// An FLV tag body around a codec payload, as an RTMP publisher sends it (legacy for H.264 and
// AAC, Enhanced RTMP for HEVC and Opus), so RTMP players and relays of an SRT stream get what
// they would from an RTMP one.
media::PacketPtr flv_packet(media::Codec codec, bool config, bool keyframe, std::int64_t dts_ms,
                            std::int32_t cts_ms, std::span<const std::uint8_t> payload) {
  const bool video = codec == media::Codec::kH264 || codec == media::Codec::kHevc;
  auto body = std::make_shared<media::Bytes>();
  if (codec == media::Codec::kHevc) {
    flv::ExVideoMessage m;
    m.frame_type = keyframe || config ? 1 : 2;
    m.packet_type =
        config ? flv::VideoPacketType::kSequenceStart : flv::VideoPacketType::kCodedFrames;
    m.tracks = {flv::ExTrack{flv::kFourCcHevc, 0, config ? 0 : cts_ms, {}}};
    *body = flv::write_ex_video(m);
  } else if (codec == media::Codec::kOpus) {
    flv::ExAudioMessage m;
    m.packet_type =
        config ? flv::AudioPacketType::kSequenceStart : flv::AudioPacketType::kCodedFrames;
    m.tracks = {flv::ExTrack{flv::kFourCcOpus, 0, 0, {}}};
    *body = flv::write_ex_audio(m);
  } else {
    *body = video ? flv::avc_tag_header(keyframe, config, cts_ms) : flv::aac_tag_header(config);
  }
  // The Enhanced RTMP writer puts the (here empty) payload last: it follows the header.
  const auto header = static_cast<std::uint32_t>(body->size());
  body->insert(body->end(), payload.begin(), payload.end());
  auto packet = std::make_shared<media::Packet>();
  packet->kind = video ? media::TrackKind::kVideo : media::TrackKind::kAudio;
  packet->codec = codec;
  packet->config = config;
  packet->keyframe = keyframe || config;
  packet->dts_ms = dts_ms;
  packet->cts_ms = cts_ms;
  packet->body = std::move(body);
  packet->payload_offset = header;
  return packet;
}

}  // namespace

SrtServer::SrtServer(asio::io_context& io, std::string listen, SrtConfig config,
                     IngestContext context, SrtCounters& counters)
    : io_(io),
      config_(std::move(config)),
      context_(context),
      counters_(counters),
      listener_("srt", std::move(listen),
                net::SrtOptions{config_.passphrase, config_.latency, config_.idle_timeout},
                config_.max_connections, counters,
                [this](net::SrtSocket& caller, std::uint64_t id,
                       const std::atomic<bool>& stopping) { serve(caller, id, stopping); }) {}

SrtServer::~SrtServer() {
  stop();
}

namespace {

// What the demuxer reads: SRT messages (7 TS packets each, as callers send them), handed to
// libavformat in whatever sizes it asks for.
struct SrtReader {
  SrtReader(SRTSOCKET s, SrtCounters& c, const std::atomic<bool>& stop)
      : socket(s), counters(c), stopping(stop) {}

  SRTSOCKET socket;
  SrtCounters& counters;
  const std::atomic<bool>& stopping;
  std::array<char, kSrtPayload> staged{};
  std::size_t staged_at = 0, staged_size = 0;
  std::string why;  // why reading ended, for the log

  static int read(void* opaque, std::uint8_t* out, int size) {
    auto& r = *static_cast<SrtReader*>(opaque);
    if (!r.why.empty()) return AVERROR_EOF;  // ended: libavformat may ask again
    if (r.staged_at == r.staged_size) {
      if (r.stopping) return AVERROR_EXIT;
      const int n = srt_recvmsg(r.socket, r.staged.data(), static_cast<int>(r.staged.size()));
      if (n <= 0) {
        const int code = srt_getlasterror(nullptr);
        r.why = code == SRT_EASYNCRCV || code == SRT_ETIMEOUT ? "idle timeout"
                : code == SRT_ECONNLOST || n == 0             ? "the caller closed the connection"
                                                              : net::srt_last_error();
        return AVERROR_EOF;
      }
      r.counters.bytes_in.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      r.staged_at = 0;
      r.staged_size = static_cast<std::size_t>(n);
    }
    const auto n = std::min(static_cast<std::size_t>(size), r.staged_size - r.staged_at);
    std::memcpy(out, r.staged.data() + r.staged_at, n);
    r.staged_at += n;
    return static_cast<int>(n);
  }
};

// The gate's step with its own copy of the attempt, as it may outlive the caller's thread.
asio::awaitable<std::variant<Publication, admission::Refusal>> admit(
    PublishGate& gate, admission::PublishAttempt attempt) {
  co_return co_await gate.admit(attempt);
}

std::string av_error(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

}  // namespace

void SrtServer::serve(net::SrtSocket& caller, std::uint64_t id, const std::atomic<bool>& stopping) {
  std::string addr = caller.peer_address();
  observe::Logger log;
  const std::string session = "srt#" + std::to_string(id);
  log.with("session", session);
  auto request = srt::parse_stream_id(caller.stream_id(), config_.app);
  // Behind `sluice proxy` the caller's own address comes in the stream ID, believed only from
  // the proxies that rtmp.proxy_protocol_from lists.
  if (request && !request->client.empty()) {
    boost::system::error_code ec;
    asio::ip::make_address(request->client, ec);
    if (!ec && proxy_protocol::contains(context_.config.proxy_from, addr)) {
      addr = request->client;
    } else {
      observe::log_limited(spdlog::level::warn, "srt untrusted client address",
                           fmt::format("{}: ignoring the client address {} it names (not a "
                                       "trusted proxy, or not an address)",
                                       session, addr));
    }
  }
  log.set_tag(session + " " + addr);
  log.with("remote", addr);

  const auto refuse = [&](const std::string& why) {
    counters_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    log.log_limited(spdlog::level::warn, "srt refused", fmt::format("refused: {}", why));
  };
  if (!request) return refuse(request.error().message);
  if (request->mode == srt::Mode::kPlay) {
    auto name = admission::Admission::playback_id_to_play(request->name);
    auto stream = name ? context_.hub.find(*name) : nullptr;
    if (name) {
      if (auto ok = check_play_token(context_.tokens, request->name, *name, addr); !ok)
        return refuse("play of " + *name + ": " + ok.error().message);
    }
    if (!stream) return refuse("play of unknown stream '" + request->name + "'");
    log.with("stream", *name);
    log.info("playing {}", *name);
    counters_.players_active.fetch_add(1, std::memory_order_relaxed);
    const std::string why = play(caller, stream, stopping);
    counters_.players_active.fetch_sub(1, std::memory_order_relaxed);
    log.info("player left {}: {}", *name, why);
    return;
  }

  // The shared admission step runs on the I/O threads; this thread waits for its verdict.
  const admission::PublishAttempt attempt{config_.app, request->name, addr, "", "", 0, "srt"};
  auto waited = net::run_and_wait(io_, admit(context_.gate, attempt), stopping);
  if (!waited) return;
  auto& verdict = *waited;
  if (auto* refusal = std::get_if<admission::Refusal>(&verdict)) {
    return refuse("publish of key " + admission::mask_key(request->name) + ": " +
                  refusal->description);
  }
  auto publication = std::get<Publication>(std::move(verdict));
  log.with("stream", publication.admitted.playback_id);
  log.info("publishing key {} as playback ID {} ({})",
           admission::mask_key(publication.admitted.key), publication.admitted.playback_id,
           publication.admitted.reason);
  const std::string why = demux(caller, publication, log, stopping);
  context_.gate.end(publication);
  log.info("publish of {} ended: {}", publication.admitted.playback_id, why);
}

std::string SrtServer::demux(net::SrtSocket& caller, Publication& publication, observe::Logger& log,
                             const std::atomic<bool>& stopping) {
  SrtReader reader(caller.handle(), counters_, stopping);
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kIoBufferSize));
  if (!buffer) return "out of memory";
  std::unique_ptr<AVIOContext, IoCloser> io(
      avio_alloc_context(buffer, kIoBufferSize, 0, &reader, &SrtReader::read, nullptr, nullptr));
  if (!io) {
    av_free(buffer);
    return "out of memory";
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) return "out of memory";
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  raw->probesize = static_cast<std::int64_t>(config_.max_probe_bytes);
  raw->max_analyze_duration = 5 * AV_TIME_BASE;
  if (const int rc = avformat_open_input(&raw, nullptr, av_find_input_format("mpegts"), nullptr);
      rc < 0) {
    counters_.demux_errors.fetch_add(1, std::memory_order_relaxed);
    return reader.why.empty() ? "not MPEG-TS: " + av_error(rc) : reader.why;
  }
  std::unique_ptr<AVFormatContext, FormatCloser> format(raw);
  if (const int rc = avformat_find_stream_info(format.get(), nullptr); rc < 0) {
    counters_.demux_errors.fetch_add(1, std::memory_order_relaxed);
    return reader.why.empty() ? "no streams found: " + av_error(rc) : reader.why;
  }
  int video = -1, audio = -1;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVCodecParameters* par = format->streams[i]->codecpar;
    if (video < 0 && (par->codec_id == AV_CODEC_ID_H264 || par->codec_id == AV_CODEC_ID_HEVC)) {
      video = static_cast<int>(i);
    } else if (audio < 0 &&
               (par->codec_id == AV_CODEC_ID_AAC || par->codec_id == AV_CODEC_ID_OPUS)) {
      audio = static_cast<int>(i);
    } else {
      log.warn("ignoring a {} stream (H.264 or HEVC video and AAC or Opus audio are taken)",
               avcodec_get_name(par->codec_id));
    }
  }
  if (video < 0 && audio < 0) {
    counters_.demux_errors.fetch_add(1, std::memory_order_relaxed);
    return "no H.264 or HEVC video and no AAC or Opus audio in the MPEG-TS";
  }
  const bool hevc = video >= 0 && format->streams[video]->codecpar->codec_id == AV_CODEC_ID_HEVC;
  const media::Codec video_codec = hevc ? media::Codec::kHevc : media::Codec::kH264;
  const bool opus = audio >= 0 && format->streams[audio]->codecpar->codec_id == AV_CODEC_ID_OPUS;
  // ADTS frames in, raw AAC frames and the AudioSpecificConfig out.
  std::unique_ptr<AVBSFContext, BsfFreer> adts;
  if (audio >= 0 && !opus) {
    AVBSFContext* bsf = nullptr;
    if (av_bsf_alloc(av_bsf_get_by_name("aac_adtstoasc"), &bsf) < 0) return "no aac_adtstoasc";
    adts.reset(bsf);
    avcodec_parameters_copy(bsf->par_in, format->streams[audio]->codecpar);
    bsf->time_base_in = format->streams[audio]->time_base;
    if (av_bsf_init(bsf) < 0) return "aac_adtstoasc would not start";
  }
  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  media::TimestampNormalizer timestamps;
  media::Bytes video_config, audio_config;
  bool warned_no_config = false;
  const auto stamp = [&](const AVPacket& p, const AVStream& st, media::TrackKind kind) {
    const std::int64_t dts = p.dts != AV_NOPTS_VALUE ? p.dts : p.pts;
    const std::int64_t pts = p.pts != AV_NOPTS_VALUE ? p.pts : dts;
    const std::int64_t dts_ms = av_rescale_q(dts, st.time_base, AVRational{1, 1000});
    const auto cts =
        static_cast<std::int32_t>(av_rescale_q(pts - dts, st.time_base, AVRational{1, 1000}));
    return std::pair{timestamps.normalize(kind, static_cast<std::uint32_t>(dts_ms)), cts};
  };
  for (;;) {
    if (stopping) return "server stopping";
    if (publication.stream->ended()) return "taken over or ended by an admin";
    const int rc = av_read_frame(format.get(), packet.get());
    if (rc < 0) {
      if (!reader.why.empty()) return reader.why;
      counters_.demux_errors.fetch_add(1, std::memory_order_relaxed);
      return "MPEG-TS: " + av_error(rc);
    }
    const AVStream& st = *format->streams[packet->stream_index];
    if (packet->stream_index == video &&
        (packet->dts != AV_NOPTS_VALUE || packet->pts != AV_NOPTS_VALUE)) {
      const std::span<const std::uint8_t> data(packet->data,
                                               static_cast<std::size_t>(packet->size));
      const auto [dts_ms, cts_ms] = stamp(*packet, st, media::TrackKind::kVideo);
      // Parameter sets come in band: a changed set is a new configuration record.
      if (auto config =
              hevc ? media::hevc_config_from_annexb(data) : media::avc_config_from_annexb(data);
          config && *config != video_config) {
        video_config = std::move(*config);
        publication.stream->publish(flv_packet(video_codec, true, true, dts_ms, 0, video_config));
      }
      if (video_config.empty()) {
        if (!std::exchange(warned_no_config, true)) log.warn("waiting for the parameter sets");
      } else {
        media::Bytes frame;
        hevc ? media::annexb_to_hvcc(data, frame) : media::annexb_to_avcc(data, frame);
        if (!frame.empty()) {
          publication.stream->publish(flv_packet(
              video_codec, false, (packet->flags & AV_PKT_FLAG_KEY) != 0, dts_ms, cts_ms, frame));
        }
      }
    } else if (packet->stream_index == audio && opus) {
      if (audio_config.empty()) {
        // The demuxer gives Opus in MPEG-TS an identification header of its own making.
        const AVCodecParameters& par = *st.codecpar;
        if (par.extradata_size >= 19) {
          audio_config.assign(par.extradata, par.extradata + par.extradata_size);
        } else {
          audio_config =
              media::make_opus_head(static_cast<std::uint8_t>(par.ch_layout.nb_channels));
        }
        const auto [config_dts, unused] = stamp(*packet, st, media::TrackKind::kAudio);
        (void)unused;
        publication.stream->publish(
            flv_packet(media::Codec::kOpus, true, false, config_dts, 0, audio_config));
      }
      const auto [dts_ms, unused] = stamp(*packet, st, media::TrackKind::kAudio);
      (void)unused;
      publication.stream->publish(flv_packet(
          media::Codec::kOpus, false, false, dts_ms, 0,
          std::span<const std::uint8_t>(packet->data, static_cast<std::size_t>(packet->size))));
    } else if (packet->stream_index == audio && adts) {
      if (av_bsf_send_packet(adts.get(), packet.get()) < 0) continue;
      while (av_bsf_receive_packet(adts.get(), packet.get()) == 0) {
        // The AudioSpecificConfig comes with the first frame (or once the stream's changes),
        // as new extradata; the output parameters have it when the input's had one.
        std::size_t size = 0;
        const std::uint8_t* asc =
            av_packet_get_side_data(packet.get(), AV_PKT_DATA_NEW_EXTRADATA, &size);
        if (!asc && adts->par_out->extradata_size > 0) {
          asc = adts->par_out->extradata;
          size = static_cast<std::size_t>(adts->par_out->extradata_size);
        }
        if (asc && size > 0 &&
            !std::equal(audio_config.begin(), audio_config.end(), asc, asc + size)) {
          audio_config.assign(asc, asc + size);
          const auto [config_dts, unused] = stamp(*packet, st, media::TrackKind::kAudio);
          (void)unused;
          publication.stream->publish(
              flv_packet(media::Codec::kAac, true, false, config_dts, 0, audio_config));
        }
        if (!audio_config.empty()) {
          const auto [dts_ms, cts_ms] = stamp(*packet, st, media::TrackKind::kAudio);
          (void)cts_ms;
          publication.stream->publish(flv_packet(
              media::Codec::kAac, false, false, dts_ms, 0,
              std::span<const std::uint8_t>(packet->data, static_cast<std::size_t>(packet->size))));
        }
        av_packet_unref(packet.get());
      }
    }
    av_packet_unref(packet.get());
  }
}

namespace {

// A player's queue, filled under the stream's lock (never blocking) and drained by the
// player's thread. Past its bound, media is dropped until the next video keyframe.
class PlayQueue final : public Subscriber {
 public:
  PlayQueue(std::size_t limit, std::atomic<std::uint64_t>& drops) : limit_(limit), drops_(drops) {}

  void on_item(const LiveItemPtr& item) override {
    const auto& p = *item->packet;
    std::lock_guard lock(mutex_);
    if (!p.config) {
      const bool keyframe = p.kind == media::TrackKind::kVideo && p.keyframe;
      if (bytes_ > limit_) waiting_for_keyframe_ = true;
      if (waiting_for_keyframe_ && !keyframe) {
        drops_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      waiting_for_keyframe_ = false;
    }
    bytes_ += p.body ? p.body->size() : 0;
    items_.push_back(item);
    ready_.notify_one();
  }
  void on_stream_end() override {
    std::lock_guard lock(mutex_);
    ended_ = true;
    ready_.notify_one();
  }
  // The next item; null when the stream ended or nothing came for `wait`.
  LiveItemPtr next(std::chrono::milliseconds wait, bool& ended) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [&] { return !items_.empty() || ended_; });
    ended = ended_ && items_.empty();
    if (items_.empty()) return nullptr;
    auto item = std::move(items_.front());
    items_.pop_front();
    bytes_ -= item->packet->body ? item->packet->body->size() : 0;
    return item;
  }

 private:
  const std::size_t limit_;
  std::atomic<std::uint64_t>& drops_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<LiveItemPtr> items_;
  std::size_t bytes_ = 0;
  bool ended_ = false, waiting_for_keyframe_ = false;
};

// What the muxer writes: SRT messages of at most 7 TS packets (its AVIO buffer's size).
struct SrtWriter {
  SRTSOCKET socket;
  std::string why;
  static int write(void* opaque, std::uint8_t* data, int size) {  // FFmpeg 5.1: not const
    auto& w = *static_cast<SrtWriter*>(opaque);
    if (srt_sendmsg(w.socket, reinterpret_cast<const char*>(data), size, -1, 1) < 0) {
      w.why = srt_getlasterror(nullptr) == SRT_ECONNLOST ? "the caller closed the connection"
                                                         : net::srt_last_error();
      return AVERROR(EIO);
    }
    return size;
  }
};

struct MuxerCloser {
  void operator()(AVFormatContext* c) const { avformat_free_context(c); }
};

}  // namespace

std::string SrtServer::play(net::SrtSocket& caller, const std::shared_ptr<Stream>& stream,
                            const std::atomic<bool>& stopping) {
  auto queue = std::make_shared<PlayQueue>(config_.play_queue_bytes, counters_.player_drops);
  if (!stream->subscribe(queue)) return "the stream ended";
  struct Unsubscribe {
    const std::shared_ptr<Stream>& stream;
    const PlayQueue* queue;
    ~Unsubscribe() { stream->unsubscribe(queue); }
  } unsubscribe{stream, queue.get()};

  // The codecs' configurations come first (the stream replays them to a new subscriber); the
  // muxer starts once it has them, or with video alone after a few seconds.
  media::PacketPtr video_config, audio_config;
  std::vector<LiveItemPtr> held;
  const auto started = std::chrono::steady_clock::now();
  bool ended = false;
  while (!video_config || !audio_config) {
    if (stopping) return "server stopping";
    auto item = queue->next(std::chrono::milliseconds(200), ended);
    if (ended) return "the stream ended";
    if (item) {
      const auto& p = item->packet;
      if (p->config && p->kind == media::TrackKind::kVideo) video_config = p;
      if (p->config && p->kind == media::TrackKind::kAudio) audio_config = p;
      if (!p->config && p->kind != media::TrackKind::kData) held.push_back(std::move(item));
    }
    if ((video_config || audio_config) &&
        std::chrono::steady_clock::now() - started > config_.handshake_timeout / 2)
      break;
    if (std::chrono::steady_clock::now() - started > config_.handshake_timeout)
      return "no H.264 or AAC configuration in the stream";
  }
  for (const auto* config : {&video_config, &audio_config}) {
    if (*config && (*config)->codec != media::Codec::kH264 &&
        (*config)->codec != media::Codec::kAac) {
      return std::string("SRT play sends H.264 and AAC only; the stream is ") +
             media::codec_name((*config)->codec);
    }
  }
  SrtWriter writer{caller.handle(), {}};
  constexpr int kMessage = 7 * 188;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(kMessage));
  if (!buffer) return "out of memory";
  std::unique_ptr<AVIOContext, IoCloser> io(
      avio_alloc_context(buffer, kMessage, 1, &writer, nullptr, &SrtWriter::write, nullptr));
  if (!io) {
    av_free(buffer);
    return "out of memory";
  }
  AVFormatContext* raw = nullptr;
  if (avformat_alloc_output_context2(&raw, nullptr, "mpegts", nullptr) < 0) return "no mpegts";
  std::unique_ptr<AVFormatContext, MuxerCloser> muxer(raw);
  muxer->pb = io.get();
  muxer->flags |= AVFMT_FLAG_CUSTOM_IO;
  // The muxer adds what MPEG-TS needs itself: Annex B with SPS/PPS before keyframes (from the
  // avcC record) and ADTS headers (from the AudioSpecificConfig).
  int video = -1, audio = -1;
  const auto add_stream = [&](const media::PacketPtr& config, AVCodecID codec) {
    AVStream* st = avformat_new_stream(muxer.get(), nullptr);
    if (!st) return -1;
    const auto payload = config->payload();
    st->codecpar->codec_type = codec == AV_CODEC_ID_H264 ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = codec;
    st->codecpar->extradata =
        static_cast<std::uint8_t*>(av_mallocz(payload.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!st->codecpar->extradata) return -1;
    std::memcpy(st->codecpar->extradata, payload.data(), payload.size());
    st->codecpar->extradata_size = static_cast<int>(payload.size());
    if (codec == AV_CODEC_ID_AAC) {
      if (auto asc = media::parse_aac_config(payload)) {
        st->codecpar->sample_rate = asc->sample_rate;
        av_channel_layout_default(&st->codecpar->ch_layout, asc->channels);
      }
    }
    st->time_base = AVRational{1, 1000};
    return st->index;
  };
  if (video_config) video = add_stream(video_config, AV_CODEC_ID_H264);
  if (audio_config) audio = add_stream(audio_config, AV_CODEC_ID_AAC);
  if (avformat_write_header(muxer.get(), nullptr) < 0)
    return writer.why.empty() ? "the MPEG-TS muxer would not start" : writer.why;
  std::unique_ptr<AVPacket, PacketFreer> out(av_packet_alloc());
  const auto send = [&](const media::Packet& p) -> bool {
    const int index = p.kind == media::TrackKind::kVideo ? video : audio;
    if (index < 0 || p.config || p.kind == media::TrackKind::kData) return true;
    const auto payload = p.payload();
    if (payload.empty()) return true;
    // The muxer reads the payload only while writing it.
    out->data = const_cast<std::uint8_t*>(payload.data());
    out->size = static_cast<int>(payload.size());
    out->stream_index = index;
    const AVRational ms{1, 1000};
    out->dts = av_rescale_q(p.dts_ms, ms, muxer->streams[index]->time_base);
    out->pts = av_rescale_q(p.pts_ms(), ms, muxer->streams[index]->time_base);
    out->flags = p.keyframe ? AV_PKT_FLAG_KEY : 0;
    const int rc = av_write_frame(muxer.get(), out.get());
    out->data = nullptr;
    out->size = 0;
    return rc >= 0 || writer.why.empty();  // a muxer complaint about one packet is not the end
  };
  for (const auto& item : held) {
    if (!send(*item->packet)) return writer.why;
  }
  held.clear();
  for (;;) {
    if (stopping) return "server stopping";
    auto item = queue->next(std::chrono::milliseconds(500), ended);
    if (ended) return "the stream ended";
    if (!item) continue;
    if (!send(*item->packet)) return writer.why;
    avio_flush(io.get());  // a live player wants each frame now, not a buffer later
    if (!writer.why.empty()) return writer.why;
  }
}

}  // namespace sluice::ingest
