#include "app/publish.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>
#include <vector>

#include "media/h264.h"
#include "proto/flv/enhanced.h"
#include "proto/flv/flv.h"
#include "proto/flv/flv_file.h"
#include "proto/rtmp/chunk.h"
#include "proto/rtmp/publish_client.h"
#include "relay/targets.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace sluice::app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// One RTMP message to send: an FLV tag.
struct Tag {
  std::uint8_t type = 0;
  std::int64_t timestamp_ms = 0;
  media::Bytes body;
};

struct FormatCloser {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

Result<std::vector<Tag>> read_flv(const media::Bytes& file) {
  auto tags = flv::read_flv_file(file);
  if (!tags) return tags.error();
  std::vector<Tag> out;
  for (const auto& t : *tags)
    out.push_back({t.type, t.timestamp_ms, media::Bytes(t.body.begin(), t.body.end())});
  return out;
}

media::Bytes ex_video(flv::FourCc fourcc, bool key, flv::VideoPacketType type, std::int32_t cts,
                      std::span<const std::uint8_t> payload) {
  flv::ExVideoMessage m;
  m.frame_type = key ? 1 : 2;
  m.packet_type = type;
  m.tracks = {flv::ExTrack{fourcc, 0, cts, payload}};
  return flv::write_ex_video(m);
}

media::Bytes ex_audio(flv::FourCc fourcc, flv::AudioPacketType type,
                      std::span<const std::uint8_t> payload) {
  flv::ExAudioMessage m;
  m.packet_type = type;
  m.tracks = {flv::ExTrack{fourcc, 0, 0, payload}};
  return flv::write_ex_audio(m);
}

media::Bytes legacy_avc(bool key, bool config, std::int32_t cts,
                        std::span<const std::uint8_t> payload) {
  media::Bytes b = flv::avc_tag_header(key, config, cts);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

media::Bytes legacy_aac(bool config, std::span<const std::uint8_t> payload) {
  media::Bytes b = flv::aac_tag_header(config);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// What a stream of `par` is sent as: its FourCC (0 for legacy H.264/AAC bodies).
Result<flv::FourCc> fourcc_for(const AVCodecParameters& par) {
  switch (par.codec_id) {
    case AV_CODEC_ID_H264:
      return flv::FourCc{0};
    case AV_CODEC_ID_AAC:
      return flv::FourCc{0};
    case AV_CODEC_ID_HEVC:
      return flv::kFourCcHevc;
    case AV_CODEC_ID_AV1:
      return flv::kFourCcAv1;
    case AV_CODEC_ID_OPUS:
      return flv::kFourCcOpus;
    default:
      return make_error(Errc::kUnsupported,
                        std::string("publish: cannot send ") + avcodec_get_name(par.codec_id));
  }
}

// Any file libavformat reads: its first video and audio streams as FLV bodies.
Result<std::vector<Tag>> read_with_libavformat(const std::string& path) {
  AVFormatContext* raw = nullptr;
  if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) {
    return make_error(Errc::kIo, "publish: cannot open " + path);
  }
  std::unique_ptr<AVFormatContext, FormatCloser> ctx(raw);
  if (avformat_find_stream_info(ctx.get(), nullptr) < 0) {
    return make_error(Errc::kMalformed, "publish: cannot read " + path);
  }
  const int video = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const int audio = av_find_best_stream(ctx.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  std::vector<Tag> tags;
  flv::FourCc video_fourcc = 0, audio_fourcc = 0;
  for (const int index : {video, audio}) {
    if (index < 0) continue;
    const AVCodecParameters& par = *ctx->streams[index]->codecpar;
    auto fourcc = fourcc_for(par);
    if (!fourcc) return fourcc.error();
    const std::span<const std::uint8_t> extra(par.extradata,
                                              static_cast<std::size_t>(par.extradata_size));
    // The sequence start: the codec's MP4 configuration record.
    if (extra.empty() || (par.codec_id != AV_CODEC_ID_AAC && par.codec_id != AV_CODEC_ID_OPUS &&
                          extra[0] != 1 && extra[0] != 0x81)) {
      return make_error(Errc::kUnsupported,
                        "publish: " + std::string(avcodec_get_name(par.codec_id)) +
                            " without an MP4 configuration record (remux to MP4 or Matroska)");
    }
    if (index == video) {
      video_fourcc = *fourcc;
      tags.push_back({9, 0,
                      *fourcc
                          ? ex_video(*fourcc, true, flv::VideoPacketType::kSequenceStart, 0, extra)
                          : legacy_avc(true, true, 0, extra)});
    } else {
      audio_fourcc = *fourcc;
      tags.push_back({8, 0,
                      *fourcc ? ex_audio(*fourcc, flv::AudioPacketType::kSequenceStart, extra)
                              : legacy_aac(true, extra)});
    }
  }
  std::unique_ptr<AVPacket, PacketFreer> pkt(av_packet_alloc());
  std::int64_t first_ms = INT64_MIN;
  while (av_read_frame(ctx.get(), pkt.get()) >= 0) {
    const int index = pkt->stream_index;
    if (index != video && index != audio) {
      av_packet_unref(pkt.get());
      continue;
    }
    const AVRational tb = ctx->streams[index]->time_base;
    const std::int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    const std::int64_t dts_ms = av_rescale_q(dts, tb, {1, 1000});
    const auto cts = static_cast<std::int32_t>(
        pkt->pts != AV_NOPTS_VALUE ? av_rescale_q(pkt->pts, tb, {1, 1000}) - dts_ms : 0);
    if (first_ms == INT64_MIN) first_ms = dts_ms;
    const std::span<const std::uint8_t> data(pkt->data, static_cast<std::size_t>(pkt->size));
    const bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    Tag tag;
    tag.timestamp_ms = std::max<std::int64_t>(0, dts_ms - first_ms);
    if (index == video) {
      tag.type = 9;
      tag.body = video_fourcc ? ex_video(video_fourcc, key,
                                         // CodedFramesX (no composition time) is
                                         // for AVC and HEVC only.
                                         cts != 0 || video_fourcc != flv::kFourCcHevc
                                             ? flv::VideoPacketType::kCodedFrames
                                             : flv::VideoPacketType::kCodedFramesX,
                                         cts, data)
                              : legacy_avc(key, false, cts, data);
    } else {
      tag.type = 8;
      tag.body = audio_fourcc ? ex_audio(audio_fourcc, flv::AudioPacketType::kCodedFrames, data)
                              : legacy_aac(false, data);
    }
    tags.push_back(std::move(tag));
    av_packet_unref(pkt.get());
  }
  return tags;
}

Result<std::vector<Tag>> read_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kIo, "publish: cannot open " + path);
  const media::Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() >= 3 && file[0] == 'F' && file[1] == 'L' && file[2] == 'V') return read_flv(file);
  return read_with_libavformat(path);
}

// A codec configuration (legacy or Enhanced RTMP sequence start) or metadata: what a server
// that takes the stream over must be sent again first.
bool is_setup(const Tag& tag) {
  if (tag.type == 18) return true;
  if (tag.body.size() < 2) return false;
  const std::uint8_t b = tag.body[0];
  if (tag.type == 9) return (b & 0x80) ? (b & 0x0f) == 0 : tag.body[1] == 0;
  if (tag.type == 8) return (b >> 4) == 9 ? (b & 0x0f) == 0 : (b >> 4) == 10 && tag.body[1] == 0;
  return false;
}

bool is_video_keyframe(const Tag& tag) {
  return tag.type == 9 && !tag.body.empty() && ((tag.body[0] >> 4) & 7) == 1 && !is_setup(tag);
}

class Connection {
 public:
  Connection(asio::io_context& io, const relay::RtmpUrl& url)
      : socket_(io),
        client_(rtmp::PublishTarget{url.app, url.tc_url, url.stream, /*follows_reconnect=*/true}) {
    tcp::resolver resolver(io);
    asio::connect(socket_, resolver.resolve(url.host, std::to_string(url.port)));
    socket_.set_option(tcp::no_delay(true));
  }

  // Handshake, connect, createStream and publish.
  Status start() {
    asio::write(socket_, asio::buffer(client_.start()));
    while (!client_.publishing()) {
      if (auto st = read_some(); !st) return st;
    }
    return Ok{};
  }

  // One tag as an RTMP message, then whatever the server said meanwhile (acks, pings).
  Status send(const Tag& tag) {
    out_.clear();
    const std::uint32_t csid = tag.type == 8 ? 4 : tag.type == 9 ? 6 : 5;
    rtmp::encode_message(csid, tag.type, client_.stream_id(),
                         static_cast<std::uint32_t>(tag.timestamp_ms), tag.body,
                         rtmp::PublishClient::kMediaChunkSize, out_);
    asio::write(socket_, asio::buffer(out_));
    while (socket_.available() > 0) {
      if (auto st = read_some(); !st) return st;
    }
    return Ok{};
  }

  bool reconnect_requested() const { return client_.reconnect_requested(); }
  const std::string& reconnect_tc_url() const { return client_.reconnect_tc_url(); }

  void finish() {
    boost::system::error_code ignored;
    asio::write(socket_, asio::buffer(client_.unpublish()), ignored);
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
  }

 private:
  Status read_some() {
    std::array<std::uint8_t, 16384> buf;
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return make_error(Errc::kIo, "publish: read: " + ec.message());
    auto reply = client_.feed(std::span(buf.data(), n));
    if (!reply) return reply.error();
    if (!reply->empty()) asio::write(socket_, asio::buffer(*reply));
    return Ok{};
  }

  tcp::socket socket_;
  rtmp::PublishClient client_;
  media::Bytes out_;
};

// A new connection where the server's reconnect request says (its tcUrl if absolute, else
// the URL this publisher was given), with `setup` sent first; null (the old connection goes
// on) if that fails.
std::unique_ptr<Connection> reconnect(asio::io_context& io, const relay::RtmpUrl& url,
                                      const Connection& old, const std::vector<Tag>& setup) {
  relay::RtmpUrl target = url;
  if (const auto& tc = old.reconnect_tc_url(); tc.starts_with("rtmp://")) {
    if (auto parsed = relay::parse_rtmp_url(tc + "/" + url.stream); parsed && !parsed->tls) {
      target = *parsed;
    }
  }
  std::fprintf(stderr, "sluice publish: the server asked to reconnect; connecting to %s:%u\n",
               target.host.c_str(), static_cast<unsigned>(target.port));
  try {
    auto conn = std::make_unique<Connection>(io, target);
    if (auto st = conn->start(); !st) {
      std::fprintf(stderr, "sluice publish: reconnect: %s\n", st.error().message.c_str());
      return nullptr;
    }
    for (const auto& tag : setup) {
      if (auto st = conn->send(tag); !st) return nullptr;
    }
    std::fprintf(stderr, "sluice publish: reconnected\n");
    return conn;
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "sluice publish: reconnect: %s\n", e.what());
    return nullptr;
  }
}

}  // namespace

int run_publish(const PublishOptions& options) {
  auto url = relay::parse_rtmp_url(options.url);
  if (!url || url->tls) {
    std::fprintf(stderr, "sluice publish: %s\n",
                 url ? "rtmps is not supported here" : url.error().message.c_str());
    return 2;
  }
  auto tags = read_input(options.input);
  if (!tags || tags->empty()) {
    std::fprintf(stderr, "sluice publish: %s\n",
                 tags ? "no tags in the input" : tags.error().message.c_str());
    return 2;
  }
  try {
    asio::io_context io;
    auto conn = std::make_unique<Connection>(io, *url);
    if (auto st = conn->start(); !st) {
      std::fprintf(stderr, "sluice publish: %s\n", st.error().message.c_str());
      return 1;
    }
    const auto started = std::chrono::steady_clock::now();
    std::int64_t offset_ms = 0;
    std::vector<Tag> setup;  // the latest sequence starts and metadata sent
    const bool has_video =
        std::any_of(tags->begin(), tags->end(), [](const Tag& t) { return t.type == 9; });
    for (int loop = 0; loop < options.loops; ++loop) {
      std::int64_t last_ms = 0;
      for (const auto& tag : *tags) {
        // Sequence starts and metadata go once; later loops repeat the media only.
        if (loop > 0 && tag.timestamp_ms == 0 && tag.type != 8 && tag.type != 9) continue;
        Tag sent = tag;
        sent.timestamp_ms += offset_ms;
        last_ms = std::max(last_ms, tag.timestamp_ms);
        if (options.realtime) {
          std::this_thread::sleep_until(started + std::chrono::milliseconds(sent.timestamp_ms));
        }
        // Asked to reconnect (Enhanced RTMP): move at a keyframe, so the new server's stream
        // starts cleanly, with the sequence starts sent again.
        if (conn->reconnect_requested() && (is_video_keyframe(tag) || !has_video)) {
          if (auto moved = reconnect(io, *url, *conn, setup)) {
            conn->finish();
            conn = std::move(moved);
          }
        }
        if (is_setup(tag)) {
          std::erase_if(setup, [&](const Tag& t) {
            return t.type == tag.type && (t.type == 18 || is_setup(t));
          });
          setup.push_back(sent);
        }
        if (auto st = conn->send(sent); !st) {
          std::fprintf(stderr, "sluice publish: %s\n", st.error().message.c_str());
          return 1;
        }
      }
      offset_ms += last_ms + 40;
    }
    conn->finish();
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "sluice publish: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace sluice::app
