#include "relay/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <optional>

#include "ingest/media_message.h"
#include "ingest/outbox.h"
#include "ingest/rtmp_wire.h"
#include "observe/log.h"
#include "proto/rtmp/capabilities.h"
#include "proto/rtmp/publish_client.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::relay {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
static_assert(rtmp::PublishClient::kMediaChunkSize == rtmp::kServerChunkSize,
              "relays send the players' chunk encoding as is");
constexpr auto kKeepStopped = std::chrono::seconds(60);  // stopped relays stay in the stats

// The live items as RTMP players get them (shared chunks on message stream 1), or encoded
// for this destination alone when its createStream gave another stream ID. A codec beyond
// legacy FLV's that the destination did not announce in its connect answer stops the feed:
// it would not decode it.
class Feed final : public ingest::Subscriber {
 public:
  Feed(std::shared_ptr<ingest::Outbox> out, std::uint32_t stream_id,
       std::vector<std::string> destination_fourccs)
      : out_(std::move(out)),
        stream_id_(stream_id),
        destination_fourccs_(std::move(destination_fourccs)) {}

  // Why the feed stopped, or empty while it runs. Thread-safe.
  std::string refusal() const {
    std::lock_guard lock(mutex_);
    return refusal_;
  }

  void on_item(const ingest::LiveItemPtr& item) override {
    if (!accepted(*item->packet)) return;
    if (stream_id_ == rtmp::kMediaStreamId) {
      out_->on_item(item);
    } else {
      out_->queue_media(*item->packet, ingest::rtmp_chunks_on(*item->packet, stream_id_));
    }
  }
  void on_stream_end() override { out_->on_stream_end(); }

 private:
  bool accepted(const media::Packet& packet) {
    if (packet.kind == media::TrackKind::kData) return true;
    const bool video = packet.kind == media::TrackKind::kVideo;
    media::Codec& checked = video ? checked_video_ : checked_audio_;
    if (packet.codec == checked) return !refused_;
    checked = packet.codec;
    const auto why = ingest::unplayable_for(
        video ? packet.codec : media::Codec::kUnknown,
        video ? media::Codec::kUnknown : packet.codec,
        [&](std::string_view fourcc) { return rtmp::announces(destination_fourccs_, fourcc); });
    if (!why.empty()) {
      std::lock_guard lock(mutex_);
      refused_ = true;
      refusal_ = "the destination cannot take this stream: " + why;
    }
    return !refused_;
  }

  std::shared_ptr<ingest::Outbox> out_;
  std::uint32_t stream_id_;
  const std::vector<std::string> destination_fourccs_;
  // Under the stream's lock (on_item's caller) only.
  media::Codec checked_video_ = media::Codec::kUnknown;
  media::Codec checked_audio_ = media::Codec::kUnknown;
  bool refused_ = false;
  mutable std::mutex mutex_;  // guards refusal_
  std::string refusal_;
};

// The renditions of an encoding profile's pipeline (it has one) go into a Stream of their
// own, which a relay sends like any other: the port's shared packets are published as they
// are.
class StreamRenditions final : public media::RenditionSink, media::RenditionOutput {
 public:
  explicit StreamRenditions(std::shared_ptr<ingest::Stream> out) : out_(std::move(out)) {}
  ~StreamRenditions() override { StreamRenditions::end(); }
  media::RenditionOutput& rendition(const media::RenditionInfo&) override { return *this; }
  Status on_packet(const media::PacketPtr& packet) override {
    out_->publish(packet);
    return Ok{};
  }
  void close_rendition(const std::string&) override { end(); }
  void end() override { out_->end(); }

 private:
  std::shared_ptr<ingest::Stream> out_;
};

// Feeds a stream's packets to an encoding pipeline whose output is `output()`.
class Encoded final : public ingest::Subscriber {
 public:
  static std::shared_ptr<Encoded> open(transcode::TranscodeService& transcoder,
                                       const std::shared_ptr<ingest::Stream>& source,
                                       const transcode::RungSpec& profile,
                                       const std::string& name) {
    auto out = std::make_shared<ingest::Stream>(source->playback_id(), source->session_id());
    auto sink = transcoder.open_encoder(source->playback_id() + "#" + name, {profile},
                                        std::make_unique<StreamRenditions>(out));
    if (!sink) return nullptr;
    auto encoded = std::shared_ptr<Encoded>(new Encoded(std::move(out), std::move(sink)));
    if (!source->subscribe(encoded)) encoded->on_stream_end();
    return encoded;
  }

  const std::shared_ptr<ingest::Stream>& output() const { return out_; }
  // Called under the source's lock: the pipeline's push never blocks (it drops when behind).
  void on_item(const ingest::LiveItemPtr& item) override { sink_->on_packet(item->packet); }
  void on_stream_end() override { sink_->end(); }

 private:
  Encoded(std::shared_ptr<ingest::Stream> out, std::unique_ptr<media::PacketSink> sink)
      : out_(std::move(out)), sink_(std::move(sink)) {}
  std::shared_ptr<ingest::Stream> out_;
  std::unique_ptr<media::PacketSink> sink_;
};

}  // namespace

// What every relay shares; outlives the service if a relay's coroutine is the last owner.
struct Shared {
  RelayConfig config;
  ssl::context tls{ssl::context::tls_client};
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  // `encoded`, when set, is the stream's encode for this relay, sent instead of `stream`.
  Relay(asio::io_context& io, std::shared_ptr<const Shared> shared,
        std::shared_ptr<ingest::Stream> stream, std::shared_ptr<Encoded> encoded,
        std::string profile, RelayTarget target, RtmpUrl url)
      : shared_(std::move(shared)),
        config_(shared_->config),
        strand_(asio::make_strand(io)),
        retry_timer_(strand_),
        encoded_(std::move(encoded)),
        stream_(encoded_ ? encoded_->output() : std::move(stream)),
        target_(std::move(target)),
        url_(std::move(url)) {
    stats_.playback_id = stream_->playback_id();
    stats_.name = target_.name;
    stats_.url = redact(target_.url);
    stats_.state = "connecting";
    stats_.profile = std::move(profile);
    log_.set_tag(fmt::format("relay {} of {} to {}", target_.name, stats_.playback_id, stats_.url));
    log_.with("component", "relay").with("stream", stats_.playback_id);
    log_.with("destination", target_.name).with("url", stats_.url);
  }

  void start() { asio::co_spawn(strand_, run(shared_from_this()), asio::detached); }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->retry_timer_.cancel();
      self->close();
    });
  }

  RelayStats stats() const {
    std::lock_guard lock(mutex_);
    RelayStats s = stats_;
    s.media_dropped = drops_.load();
    if (auto out = outbox_.lock()) s.bytes_sent += out->bytes_sent();
    return s;
  }

  bool expired(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    return stats_.state == "stopped" && now - stopped_at_ > kKeepStopped;
  }

 private:
  void set_state(const char* state) {
    std::lock_guard lock(mutex_);
    stats_.state = state;
  }

  void close() {
    boost::system::error_code ignored;
    if (tcp_) tcp_->close(ignored);
    if (tls_) tls_->lowest_layer().close(ignored);
  }

  asio::awaitable<void> run(std::shared_ptr<Relay> self) {
    auto delay = config_.retry_min;
    while (!stopping_ && !stream_->ended()) {
      set_state("connecting");
      const auto began = Clock::now();
      const std::string why = co_await session();
      close();
      if (stopping_ || stream_->ended()) break;
      {
        std::lock_guard lock(mutex_);
        ++stats_.failures;
        stats_.last_error = why;
        stats_.state = "retrying";
      }
      if (Clock::now() - began > std::chrono::minutes(1)) delay = config_.retry_min;
      log_.warn("{}; retrying in {} ms", why, delay.count());
      retry_timer_.expires_after(delay);
      co_await retry_timer_.async_wait(kUseTuple);
      delay = std::min(delay * 2, config_.retry_max);
    }
    {
      std::lock_guard lock(mutex_);
      stats_.state = "stopped";
      stopped_at_ = Clock::now();
    }
    log_.info("stopped");
    tcp_.reset();
    tls_.reset();
    (void)self;
  }

  // One connection, from resolving to the end of publishing. Returns why it ended ("" when
  // the stream ended).
  asio::awaitable<std::string> session() {
    tcp_.reset();
    tls_.reset();
    asio::steady_timer timeout(strand_);
    timeout.expires_after(config_.connect_timeout);
    auto connected = co_await (connect() || timeout.async_wait(asio::use_awaitable));
    if (connected.index() == 1) {
      co_return fmt::format("no publish within {} ms", config_.connect_timeout.count());
    }
    std::string error = std::get<0>(std::move(connected));
    if (!error.empty()) co_return error;
    if (tls_) co_return co_await publish(*tls_);
    co_return co_await publish(*tcp_);
  }

  asio::awaitable<std::string> connect() {
    tcp::resolver resolver(strand_);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(url_.host, std::to_string(url_.port), kUseTuple);
    if (rec) co_return "resolve " + url_.host + ": " + rec.message();
    tcp::socket socket(strand_);
    auto [cec, endpoint] = co_await asio::async_connect(socket, endpoints, kUseTuple);
    if (cec) co_return "connect: " + cec.message();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (!url_.tls) {
      tcp_.emplace(std::move(socket));
      co_return co_await rtmp_handshake(*tcp_);
    }
    tls_.emplace(std::move(socket), const_cast<ssl::context&>(shared_->tls));
    // SNI, and the name the certificate must carry.
    SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str());
    if (config_.tls_verify) tls_->set_verify_callback(ssl::host_name_verification(url_.host));
    auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, kUseTuple);
    if (hec) co_return "tls: " + hec.message();
    co_return co_await rtmp_handshake(*tls_);
  }

  template <typename Stream>
  asio::awaitable<std::string> rtmp_handshake(Stream& s) {
    client_.emplace(rtmp::PublishTarget{url_.app, url_.tc_url, url_.stream});
    const media::Bytes hello = client_->start();
    if (auto [ec, n] = co_await asio::async_write(s, asio::buffer(hello), kUseTuple); ec) {
      co_return "write: " + ec.message();
    }
    while (!client_->publishing()) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) co_return "read: " + ec.message();
      auto out = client_->feed(std::span(buf_.data(), n));
      if (!out) co_return out.error().message;
      if (out->empty()) continue;
      if (auto [wec, wn] = co_await asio::async_write(s, asio::buffer(*out), kUseTuple); wec) {
        co_return "write: " + wec.message();
      }
    }
    co_return std::string();
  }

  template <typename Stream>
  asio::awaitable<std::string> publish(Stream& s) {
    auto outbox = std::make_shared<ingest::Outbox>(strand_, config_.queue_bytes, drops_);
    outbox->set_farewell(client_->unpublish());
    auto feed = std::make_shared<Feed>(outbox, client_->stream_id(), client_->server_fourccs());
    {
      std::lock_guard lock(mutex_);
      outbox_ = outbox;
      ++stats_.connects;
      stats_.state = "live";
    }
    log_.info("publishing");
    if (!stream_->subscribe(feed)) co_return std::string();
    reason_.clear();
    Clock::time_point write_started{};
    co_await (outbox->run_writer(s, write_started) || read_loop(s, *outbox) ||
              watchdog(write_started, *feed));
    stream_->unsubscribe(feed.get());
    {
      std::lock_guard lock(mutex_);
      stats_.bytes_sent += outbox->bytes_sent();
      outbox_.reset();
    }
    if (stream_->ended()) co_return std::string();
    // A refused codec ends the other loops too: their cancellation is not the reason.
    if (auto why = feed->refusal(); !why.empty()) co_return why;
    co_return reason_.empty() ? std::string("connection lost") : reason_;
  }

  // Server messages while publishing: acks, pings, and a late refusal.
  template <typename Stream>
  asio::awaitable<void> read_loop(Stream& s, ingest::Outbox& outbox) {
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) {
        reason_ = "read: " + ec.message();
        co_return;
      }
      auto out = client_->feed(std::span(buf_.data(), n));
      if (!out) {
        reason_ = out.error().message;
        co_return;
      }
      if (!out->empty()) outbox.send(std::move(*out));
    }
  }

  asio::awaitable<void> watchdog(const Clock::time_point& write_started, const Feed& feed) {
    asio::steady_timer tick(strand_);
    for (;;) {
      tick.expires_after(std::chrono::seconds(1));
      auto [ec] = co_await tick.async_wait(kUseTuple);
      if (ec) co_return;
      if (!feed.refusal().empty()) co_return;
      if (write_started != Clock::time_point{} &&
          Clock::now() - write_started > config_.write_timeout) {
        reason_ = fmt::format("a write took over {} ms", config_.write_timeout.count());
        co_return;
      }
    }
  }

  const std::shared_ptr<const Shared> shared_;
  const RelayConfig& config_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer retry_timer_;
  const std::shared_ptr<Encoded> encoded_;
  const std::shared_ptr<ingest::Stream> stream_;
  const RelayTarget target_;
  const RtmpUrl url_;
  observe::Logger log_;  // set in the constructor, then only read

  // Strand only.
  bool stopping_ = false;
  std::optional<tcp::socket> tcp_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::optional<rtmp::PublishClient> client_;
  std::array<std::uint8_t, 16 * 1024> buf_{};
  std::string reason_;

  std::atomic<std::uint64_t> drops_{0};
  mutable std::mutex mutex_;  // guards stats_, stopped_at_, outbox_
  RelayStats stats_;
  Clock::time_point stopped_at_;
  std::weak_ptr<ingest::Outbox> outbox_;
};

struct RelayService::Impl {
  Impl(asio::io_context& context, transcode::TranscodeService* t) : io(context), transcoder(t) {}
  asio::io_context& io;
  transcode::TranscodeService* transcoder;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  mutable std::mutex mutex;
  std::vector<std::shared_ptr<Relay>> relays;

  void prune() {
    const auto now = Clock::now();
    std::erase_if(relays, [now](const auto& r) { return r->expired(now); });
  }
};

RelayService::RelayService(asio::io_context& io, RelayConfig config,
                           transcode::TranscodeService* transcoder)
    : impl_(std::make_shared<Impl>(io, transcoder)) {
  impl_->shared->config = std::move(config);
  auto& tls = impl_->shared->tls;
  tls.set_default_verify_paths();
  if (!impl_->shared->config.tls_ca_file.empty()) {
    boost::system::error_code ec;
    tls.load_verify_file(impl_->shared->config.tls_ca_file, ec);
    if (ec) {
      spdlog::error("relay: cannot load CA file {}: {}", impl_->shared->config.tls_ca_file,
                    ec.message());
    }
  }
  tls.set_verify_mode(impl_->shared->config.tls_verify ? ssl::verify_peer : ssl::verify_none);
}

RelayService::~RelayService() {
  stop();
}

void RelayService::start(const std::shared_ptr<ingest::Stream>& stream,
                         const std::string& publish_options) {
  if (publish_options.empty()) return;
  const auto& config = impl_->shared->config;
  const TargetList list = relay_targets(publish_options, config.destinations, config.policy);
  for (const auto& why : list.refused)
    spdlog::warn("relay of {}: ignored {}", stream->playback_id(), why);
  std::lock_guard lock(impl_->mutex);
  impl_->prune();
  for (const auto& target : list.targets) {
    auto url = parse_rtmp_url(target.url);
    if (!url) {
      spdlog::warn("relay {} of {}: {}", target.name, stream->playback_id(), url.error().message);
      continue;
    }
    // An encoding profile for this kind of destination (push1, push2, ... are "push").
    const std::string kind = target.name.starts_with("push") ? "push" : target.name;
    const auto profile = std::find_if(config.encode.begin(), config.encode.end(),
                                      [&](const transcode::RungSpec& r) { return r.name == kind; });
    std::shared_ptr<Encoded> encoded;
    std::string profile_name = "copy";
    if (profile != config.encode.end()) {
      if (impl_->transcoder) {
        encoded = Encoded::open(*impl_->transcoder, stream, *profile, target.name);
      }
      if (encoded) {
        profile_name = fmt::format("{}x{}", profile->box_width, profile->box_height);
      } else {
        spdlog::warn("relay {} of {}: no transcoding capacity left; relaying a copy", target.name,
                     stream->playback_id());
      }
    }
    auto relay = std::make_shared<Relay>(impl_->io, impl_->shared, stream, std::move(encoded),
                                         profile_name, target, std::move(*url));
    relay->start();
    impl_->relays.push_back(std::move(relay));
  }
}

std::vector<RelayStats> RelayService::stats() const {
  std::lock_guard lock(impl_->mutex);
  impl_->prune();
  std::vector<RelayStats> out;
  for (const auto& r : impl_->relays)
    out.push_back(r->stats());
  return out;
}

void RelayService::stop() {
  std::lock_guard lock(impl_->mutex);
  for (const auto& r : impl_->relays)
    r->stop();
}

}  // namespace sluice::relay
