#include "ingest/rtmp_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "ingest/media_message.h"
#include "ingest/outbox.h"
#include "media/timestamps.h"
#include "net/accept.h"
#include "observe/log.h"
#include "proto/rtmp/capabilities.h"
#include "proto/rtmp/command_phase.h"
#include "proto/rtmp/handshake.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::ingest {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

enum class Role { kNone, kPublisher, kPlayer };

using TlsStream = asio::ssl::stream<tcp::socket>;

void close_transport(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

// No TLS close_notify: the peer may be gone, and waiting for its answer would hold the
// session; the TCP close ends it either way.
void close_transport(TlsStream& stream) {
  close_transport(stream.next_layer());
}

// One RTMP connection, over TCP or TLS (RTMPS). Owned by its coroutine frame; only the
// Outbox is shared (with the Stream it plays from), because the publisher's thread queues
// into it.
template <typename Transport>
class Session {
 public:
  // `tls_context` is the TLS context the transport was made with, kept for as long as it.
  Session(Transport socket, std::shared_ptr<const void> tls_context, const tcp::endpoint& client,
          IngestContext& ctx, std::uint64_t id)
      : tls_context_(std::move(tls_context)),
        socket_(std::move(socket)),
        ctx_(ctx),
        id_(id),
        decoder_(ctx.config.chunk_limits),
        phase_({ctx.config.app, ctx.config.amf0_limits}),
        outbox_(std::make_shared<Outbox>(Outbox::Executor(socket_.get_executor()),
                                         ctx.config.play_queue_bytes, ctx.counters.player_drops,
                                         ctx.config.play_coalesce)) {
    addr_ = client.address().to_string();
    const std::string session = (kTls ? "rtmps#" : "rtmp#") + std::to_string(id_);
    log_.set_tag(session + " " + addr_);
    log_.with("session", session).with("remote", addr_);
  }

  asio::awaitable<void> run() {
    read_deadline_ = Clock::now() + ctx_.config.handshake_timeout;
    auto result = co_await (handshake_and_read() || outbox_->run_writer(socket_, write_started_) ||
                            watchdog());
    (void)result;
    co_await finish();
  }

 private:
  // ---- reading -------------------------------------------------------------------------
  asio::awaitable<void> handshake_and_read() {
    if constexpr (kTls) {
      auto [ec] = co_await socket_.async_handshake(asio::ssl::stream_base::server,
                                                   asio::as_tuple(asio::use_awaitable));
      if (ec) {
        log_.log_limited(spdlog::level::info, "rtmps tls handshake failed",
                         fmt::format("closing: TLS handshake: {}", ec.message()));
        co_return;
      }
    }
    rtmp::ServerHandshake handshake;
    std::size_t leftover_at = 0, leftover_len = 0;
    while (true) {
      auto [ec, n] =
          co_await socket_.async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec != asio::error::eof) {
          log_.log_limited(spdlog::level::info, "rtmp handshake closed",
                           fmt::format("closed during handshake: {}", ec.message()));
        }
        co_return;
      }
      auto step = handshake.feed(std::span<const std::uint8_t>(buf_.data(), n));
      if (!step) {
        fail(step.error().message);
        co_return;
      }
      if (!step->out.empty()) {
        auto [werr, wn] = co_await asio::async_write(socket_, asio::buffer(step->out),
                                                     asio::as_tuple(asio::use_awaitable));
        if (werr) co_return;
      }
      ctx_.counters.bytes_in.fetch_add(step->consumed, std::memory_order_relaxed);
      if (step->done) {
        leftover_at = step->consumed;
        leftover_len = n - step->consumed;
        break;
      }
    }
    log_.debug("handshake done ({})", handshake.used_digest() ? "digest" : "simple");
    read_deadline_ = Clock::now() + ctx_.config.idle_timeout;
    if (leftover_len > 0 && !co_await on_bytes(std::span<const std::uint8_t>(
                                buf_.data() + leftover_at, leftover_len))) {
      co_return;
    }
    while (!stop_) {
      auto [ec, n] =
          co_await socket_.async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
          log_.info("read: {}", ec.message());
        }
        co_return;
      }
      if (role_ != Role::kPlayer) read_deadline_ = Clock::now() + ctx_.config.idle_timeout;
      if (!co_await on_bytes(std::span<const std::uint8_t>(buf_.data(), n))) co_return;
    }
  }

  // Returns false when the session must end.
  asio::awaitable<bool> on_bytes(std::span<const std::uint8_t> bytes) {
    ctx_.counters.bytes_in.fetch_add(bytes.size(), std::memory_order_relaxed);
    if (auto ack = acks_.on_received(bytes.size())) {
      media::Bytes out;
      rtmp::write_acknowledgement(*ack, out);
      outbox_->send(std::move(out));
    }
    messages_.clear();
    if (auto st = decoder_.feed(bytes, messages_); !st) {
      fail(st.error().message);
      co_return false;
    }
    // Each message is capped by the decoder; this caps their sum across chunk streams, so a
    // peer cannot park 64 partial 16 MiB messages.
    if (decoder_.buffered_bytes() > 2 * std::size_t{ctx_.config.chunk_limits.max_message_size}) {
      fail("rtmp chunk: " + std::to_string(decoder_.buffered_bytes()) +
           " bytes of partial messages buffered, over twice the message size limit");
      co_return false;
    }
    for (auto& m : messages_) {
      if (!co_await on_message(m) || stop_) co_return false;
    }
    if (role_ == Role::kPublisher && publication_.stream->ended()) {
      log_.warn("publish of {} taken over by a new publisher (or ended by an admin); closing",
                publication_.stream->playback_id());
      co_return false;
    }
    co_return true;
  }

  asio::awaitable<bool> on_message(rtmp::Message& m) {
    switch (m.type) {
      case rtmp::kSetChunkSize:
      case rtmp::kAbort:
      case rtmp::kAcknowledgement:
      case rtmp::kSetPeerBandwidth:
        co_return true;  // chunk size and abort were applied by the decoder
      case rtmp::kWindowAckSize: {
        auto size = rtmp::parse_u32_body(*m.payload);
        if (size) acks_.set_window(*size);
        co_return true;
      }
      case rtmp::kUserControl: {
        auto uc = rtmp::parse_user_control(*m.payload);
        if (uc && uc->event == rtmp::kPingRequest) {
          outbox_->send(rtmp::user_control(rtmp::kPingResponse, uc->value));
        }
        co_return true;
      }
      case rtmp::kCommandAmf0:
      case rtmp::kCommandAmf3:
        co_return co_await on_command(m);
      case rtmp::kDataAmf0:
      case rtmp::kDataAmf3:
        on_data(m);
        co_return true;
      case rtmp::kAudio:
      case rtmp::kVideo:
        on_media(m);
        co_return true;
      default:
        if (!warned_type_) {
          log_.info("ignoring message type {}", m.type);
          warned_type_ = true;
        }
        co_return true;
    }
  }

  asio::awaitable<bool> on_command(const rtmp::Message& m) {
    auto step = phase_.on_command(m);
    if (!step) {
      fail(step.error().message);
      co_return false;
    }
    if (!step->reply.empty()) outbox_->send(std::move(step->reply));
    using Action = rtmp::CommandStep::Action;
    switch (step->action) {
      case Action::kContinue:
        co_return true;
      case Action::kRefused:
        log_.log_limited(spdlog::level::warn, "rtmp unknown app",
                         fmt::format("connect to unknown app '{}' (expected '{}')", step->name,
                                     ctx_.config.app));
        drain_ = true;
        co_return false;
      case Action::kEnd:
        log_.info("{}", step->command);
        co_return false;
      case Action::kPublish: {
        auto published = co_await on_publish(step->name);
        co_return published;
      }
      case Action::kPlay:
        co_return on_play(step->name);
    }
    co_return true;
  }

  void reject_publish(const admission::Refusal& refusal) {
    ctx_.counters.publishes_rejected.fetch_add(1, std::memory_order_relaxed);
    log_.log_limited(spdlog::level::warn, "rtmp publish rejected",
                     fmt::format("publish of key {} rejected: {}", admission::mask_key(key_),
                                 refusal.description));
    outbox_->send(rtmp::CommandPhase::refused(admission::rtmp_status_code(refusal.kind),
                                              refusal.description));
    drain_ = true;
  }

  asio::awaitable<bool> on_publish(const std::string& publish_name) {
    key_ = admission::split_publish_name(publish_name).key;
    const auto& client = phase_.client();
    const admission::PublishAttempt attempt{
        client.app, publish_name,           addr_, client.tc_url, client.flash_ver,
        id_,        kTls ? "rtmps" : "rtmp"};
    // Reading pauses while the authorizer decides: NetStream.Publish.Start must not go out
    // before the decision (answering first makes OBS retry forever on a reject).
    auto verdict = co_await ctx_.gate.admit(attempt);
    if (auto* refusal = std::get_if<admission::Refusal>(&verdict)) {
      reject_publish(*refusal);
      co_return false;
    }
    publication_ = std::get<Publication>(std::move(verdict));
    const auto& admitted = publication_.admitted;
    role_ = Role::kPublisher;
    ctx_.counters.publishes_total.fetch_add(1, std::memory_order_relaxed);
    outbox_->send(rtmp::CommandPhase::publish_started(admitted.playback_id));
    log_.with("stream", admitted.playback_id);
    log_.info("publishing key {} as playback ID {} ({})", admission::mask_key(admitted.key),
              admitted.playback_id, admitted.reason);
    co_return true;
  }

  bool on_play(const std::string& play_name) {
    const auto name = admission::Admission::playback_id_to_play(play_name);
    if (name) {
      if (auto ok = check_play_token(ctx_.tokens, play_name, *name, addr_); !ok) {
        log_.log_limited(spdlog::level::info, "rtmp play token refused",
                         fmt::format("play of {} refused: {}", *name, ok.error().message));
        outbox_->send(rtmp::CommandPhase::refused("NetStream.Play.Failed", ok.error().message));
        drain_ = true;
        return false;
      }
    }
    auto stream = name ? ctx_.hub.find(*name) : nullptr;
    if (!stream) {
      log_.log_limited(spdlog::level::info, "rtmp play of unknown stream",
                       fmt::format("play of unknown stream '{}'", name.value_or("?")));
      outbox_->send(
          rtmp::CommandPhase::refused("NetStream.Play.StreamNotFound", "no such live stream"));
      drain_ = true;
      return false;
    }
    const auto [video, audio] = stream->codecs();
    if (auto why = unplayable_for(video, audio,
                                  [&](std::string_view f) { return phase_.client().announced(f); });
        !why.empty()) {
      log_.log_limited(spdlog::level::info, "rtmp play of an unannounced codec",
                       fmt::format("play of {} refused: {}", *name, why));
      outbox_->send(rtmp::CommandPhase::refused("NetStream.Play.Failed", why));
      drain_ = true;
      return false;
    }
    role_ = Role::kPlayer;
    read_deadline_ = Clock::time_point::max();  // players may stay silent; writes are timed
    outbox_->send(rtmp::CommandPhase::play_started(*name));
    outbox_->set_farewell(rtmp::CommandPhase::play_ended(*name));
    if (!stream->subscribe(outbox_)) {
      outbox_->send(rtmp::CommandPhase::refused("NetStream.Play.StreamNotFound", "stream ended"));
      drain_ = true;
      return false;
    }
    play_stream_ = stream;
    log_.with("stream", *name);
    ctx_.counters.players_active.fetch_add(1, std::memory_order_relaxed);
    log_.info("playing {}", *name);
    return true;
  }

  void on_data(const rtmp::Message& m) {
    if (role_ != Role::kPublisher) return;
    auto values = amf0::decode_all(*m.payload, ctx_.config.amf0_limits);
    if (!values || values->empty() || !(*values)[0].as_string()) {
      log_.info("ignoring malformed data message");
      return;
    }
    auto& v = *values;
    std::size_t first = *v[0].as_string() == "@setDataFrame" ? 1 : 0;
    if (v.size() <= first + 1 || !v[first].as_string() || *v[first].as_string() != "onMetaData") {
      return;
    }
    // Players get "onMetaData", {...} without the @setDataFrame wrapper.
    auto body = std::make_shared<media::Bytes>();
    for (std::size_t i = first; i < v.size(); ++i)
      amf0::encode(v[i], *body);
    auto packet = std::make_shared<media::Packet>();
    packet->kind = media::TrackKind::kData;
    packet->codec = media::Codec::kAmfData;
    packet->dts_ms = last_dts_;
    packet->body = std::move(body);
    publication_.stream->publish(packet);
  }

  void on_media(const rtmp::Message& m) {
    if (role_ != Role::kPublisher || !m.payload || m.payload->empty()) return;
    const auto kind = m.type == rtmp::kVideo ? media::TrackKind::kVideo : media::TrackKind::kAudio;
    auto read = media_reader_.read(kind, m.payload);
    if (!read) {
      warn_media(read.error().message);
      return;
    }
    auto& packet = *read;
    if (!packet) return;
    if (packet->codec == media::Codec::kUnknown) {
      warn_media("codec not supported for HLS; forwarding to players only");
    }
    packet->dts_ms = timestamps_.normalize(packet->kind, m.timestamp);
    last_dts_ = packet->dts_ms;
    publication_.stream->publish(packet);
  }

  void warn_media(const std::string& what) {
    // One line per distinct problem: a broken encoder must not flood the log.
    if (what == last_media_warning_) return;
    last_media_warning_ = what;
    log_.warn("{}", what);
  }

  void fail(const std::string& why) {
    ctx_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log_.log_limited(spdlog::level::warn, "rtmp protocol error", fmt::format("closing: {}", why));
    stop_ = true;
  }

  // ---- timers --------------------------------------------------------------------------
  asio::awaitable<void> watchdog() {
    asio::steady_timer timer(socket_.get_executor());
    for (;;) {
      timer.expires_after(std::chrono::milliseconds(500));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const auto now = Clock::now();
      maybe_request_reconnect();
      if (now > read_deadline_) {
        log_.log_limited(spdlog::level::warn, "rtmp timeout",
                         fmt::format("closing: {}", role_ == Role::kNone && !phase_.connected()
                                                        ? "handshake/connect timed out"
                                                        : "idle timeout"));
        co_return;
      }
      if (write_started_ != Clock::time_point{} &&
          now - write_started_ > ctx_.config.play_write_timeout) {
        log_.warn("closing: peer stopped reading for {} ms",
                  ctx_.config.play_write_timeout.count());
        co_return;
      }
    }
  }

  // A draining node asks its Enhanced RTMP publishers to move (they finish their GOP here).
  void maybe_request_reconnect() {
    if (reconnect_requested_ || role_ != Role::kPublisher || !ctx_.draining ||
        !ctx_.draining->load(std::memory_order_relaxed) ||
        !(phase_.client().caps_ex & rtmp::kCapsExReconnect)) {
      return;
    }
    reconnect_requested_ = true;
    outbox_->send(rtmp::reconnect_request("This server is draining; reconnect to continue."));
    log_.info("draining: asked the publisher to reconnect");
  }

  // ---- teardown ------------------------------------------------------------------------
  asio::awaitable<void> finish() {
    if (drain_) {
      // Let a final error status reach the client before the connection closes.
      outbox_->close();
      write_started_ = {};
      read_deadline_ = Clock::now() + std::chrono::seconds(2);
      co_await (outbox_->run_writer(socket_, write_started_) || watchdog());
    }
    if (role_ == Role::kPublisher) {
      ctx_.gate.end(publication_);
      log_.info("publish of {} ended", publication_.stream->playback_id());
    }
    if (role_ == Role::kPlayer && play_stream_) {
      play_stream_->unsubscribe(outbox_.get());
      ctx_.counters.players_active.fetch_sub(1, std::memory_order_relaxed);
      log_.info("player left {} ({} bytes sent)", play_stream_->playback_id(),
                outbox_->bytes_sent());
    }
    ctx_.counters.bytes_out.fetch_add(outbox_->bytes_sent(), std::memory_order_relaxed);
    outbox_->close();
    close_transport(socket_);
  }

  static constexpr bool kTls = std::is_same_v<Transport, TlsStream>;
  std::shared_ptr<const void> tls_context_;  // outlives socket_ (declared before it)
  Transport socket_;
  IngestContext& ctx_;
  const std::uint64_t id_;
  std::string addr_;
  observe::Logger log_;
  std::array<std::uint8_t, 64 * 1024> buf_{};
  rtmp::ChunkDecoder decoder_;
  rtmp::CommandPhase phase_;
  rtmp::AckCounter acks_;
  std::vector<rtmp::Message> messages_;
  std::shared_ptr<Outbox> outbox_;
  Clock::time_point read_deadline_{};
  Clock::time_point write_started_{};

  bool stop_ = false, drain_ = false, warned_type_ = false, reconnect_requested_ = false;
  Role role_ = Role::kNone;
  std::string key_;  // as the publisher sent it, for the log (masked)
  std::string last_media_warning_;
  media::TimestampNormalizer timestamps_;
  MediaMessageReader media_reader_;
  std::int64_t last_dts_ = 0;
  Publication publication_;              // when publishing
  std::shared_ptr<Stream> play_stream_;  // when playing
};

}  // namespace

RtmpServer::RtmpServer(asio::io_context& io, const tcp::endpoint& endpoint, IngestContext context,
                       std::shared_ptr<net::TlsCertificate> tls)
    : io_(io), acceptor_(io, endpoint), context_(context), tls_(std::move(tls)) {}

tcp::endpoint RtmpServer::local_endpoint() const {
  return acceptor_.local_endpoint();
}

void RtmpServer::start() {
  net::AcceptConfig accept;
  accept.name = tls_ ? "rtmps" : "rtmp";
  accept.proxy_from = context_.config.proxy_from;
  accept.proxy_timeout = context_.config.handshake_timeout;
  accept.max_pending = context_.config.max_connections;
  net::start_accepting(io_, acceptor_, std::move(accept),
                       [this](tcp::socket socket, tcp::endpoint client) {
                         on_connection(std::move(socket), client);
                       });
}

void RtmpServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void RtmpServer::on_connection(tcp::socket socket, tcp::endpoint client) {
  auto& counters = context_.counters;
  counters.connections_total.fetch_add(1, std::memory_order_relaxed);
  if (counters.connections_active.load() >=
      static_cast<std::int64_t>(context_.config.max_connections)) {
    counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
    observe::log_limited(spdlog::level::warn, "rtmp connection limit",
                         fmt::format("rtmp: refusing connection: {} connections is the limit",
                                     context_.config.max_connections));
    return;  // the socket closes as it goes out of scope
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  counters.connections_active.fetch_add(1, std::memory_order_relaxed);
  const auto id = next_id_++;
  auto executor = socket.get_executor();
  const auto on_end = [&counters, id](std::exception_ptr e) {
    counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("rtmp#{}: session failed: {}", id, ex.what());
    }
  };
  if (tls_) {
    auto tls_context = tls_->context();
    TlsStream stream(std::move(socket), *tls_context);
    asio::co_spawn(
        executor,
        [session = std::make_unique<Session<TlsStream>>(
             std::move(stream), std::move(tls_context), client, context_,
             id)]() mutable -> asio::awaitable<void> { co_await session->run(); },
        on_end);
    return;
  }
  asio::co_spawn(
      executor,
      [session = std::make_unique<Session<tcp::socket>>(
           std::move(socket), nullptr, client, context_, id)]() mutable -> asio::awaitable<void> {
        co_await session->run();
      },
      on_end);
}

Status check_play_token(const admission::PlaybackTokens* tokens, std::string_view play_name,
                        const std::string& playback_id, const std::string& client_address) {
  if (!tokens) return Ok{};
  // A play name carries its token as an HTTP target does, in its query.
  auto checked = admission::check_request(*tokens, play_name, "", playback_id, client_address);
  if (!checked) return checked.error();
  return Ok{};
}

}  // namespace sluice::ingest
