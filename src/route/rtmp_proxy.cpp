#include "route/rtmp_proxy.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <set>
#include <variant>

#include "net/accept.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "proto/rtmp/command_phase.h"
#include "proto/rtmp/handshake.h"
#include "proto/rtmp/server_messages.h"
#include "route/proxy_routes.h"
#include "route/splice_pipe.h"

namespace sluice::route {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kRelayBuffer = 64 * 1024;
constexpr std::chrono::milliseconds kUnpublishCloseWait{500};

enum class Role { kPublish, kPlay };

// The route a session takes once publish or play has been read.
struct Route {
  Role role = Role::kPublish;
  std::string playback_id;
  registry::NodeEntry node;
};

}  // namespace

struct RtmpProxy::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  tcp::acceptor acceptor;
  const ProxyConfig& config;
  ProxyRoutes& routes;
  admission::Admission& admission;
  ProxyCounters& counters;

  Impl(asio::io_context& i, const tcp::endpoint& ep, const ProxyConfig& c, ProxyRoutes& r,
       admission::Admission& a, ProxyCounters& k)
      : io(i), acceptor(i, ep), config(c), routes(r), admission(a), counters(k) {}

  void on_connection(tcp::socket socket, tcp::endpoint client, bool tls) {
    counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    if (counters.connections_active.load() >= static_cast<std::int64_t>(config.max_connections)) {
      counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      observe::log_limited(spdlog::level::warn, "proxy connection limit",
                           fmt::format("proxy: refusing connection: {} connections is the limit",
                                       config.max_connections));
      return;
    }
    counters.connections_active.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket), client, routes.next_session_id(), tls),
                   [self = shared_from_this()](std::exception_ptr e) {
                     self->counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("proxy: session failed: {}", ex.what());
                     }
                   });
  }

  asio::awaitable<void> session(tcp::socket socket, tcp::endpoint client, std::uint64_t id,
                                bool tls);

  std::optional<tcp::acceptor> tls_acceptor;  // RTMPS, when a certificate is given
  std::shared_ptr<net::TlsCertificate> tls;
};

namespace {

using Clock = std::chrono::steady_clock;

// Activity of one relay direction, for the watchdog. Touched only on the session's strand.
struct Watch {
  Clock::time_point last_read;
  Clock::time_point write_started;
  bool writing = false;
};

using TlsClient = beast::ssl_stream<beast::tcp_stream>;

// What relayed bytes are read from and written to without a per-operation timer: the bare
// socket of a TCP stream, the TLS stream itself (its TCP layer set never to expire).
tcp::socket& untimed(beast::tcp_stream& stream) {
  return stream.socket();
}
TlsClient& untimed(TlsClient& stream) {
  return stream;
}

// One proxied connection, its client over TCP or TLS (RTMPS). Lives in its coroutine frame,
// on its strand.
template <typename ClientStream>
class ProxySession {
 public:
  // `tls_context`: what the client stream was made with (TLS), kept for as long as it.
  ProxySession(RtmpProxy::Impl& proxy, ClientStream client_stream,
               std::shared_ptr<const void> tls_context, const tcp::endpoint& client,
               std::uint64_t id)
      : proxy_(proxy),
        id_(id),
        tls_context_(std::move(tls_context)),
        client_(std::move(client_stream)),
        backend_(proxy.io),
        client_endpoint_(client),
        addr_(client.address().to_string()),
        phase_({proxy.config.app, proxy.config.amf0_limits}) {
    const std::string session = "proxy#" + std::to_string(id);
    log_.set_tag(session + " " + addr_);
    log_.with("session", session).with("remote", addr_);
  }

  asio::awaitable<void> run() {
    if (!co_await handshake()) co_return;
    auto route = co_await read_until_routed();
    if (!route) co_return;
    if (!co_await connect_backend(*route)) co_return;
    const bool publish = route->role == Role::kPublish;
    proxy_.routes.session_started(route->node, publish, route->playback_id, id_);
    log_.with("stream", route->playback_id);
    log_.info("{} {} via {}", route->role == Role::kPublish ? "publish" : "play",
              route->playback_id, route->node.address);
    up_.last_read = down_.last_read = Clock::now();
    const auto reason = co_await (ended(relay_up(route->role)) || ended(relay_down(route->role)) ||
                                  ended(watchdog(*route)));
    log_.info("session of {} ended: {}", route->playback_id,
              std::visit([](const std::string& why) { return why; }, reason));
    if (server_closed_ && route->role == Role::kPublish && !co_await publisher_left_too())
      proxy_.counters.server_failures.fetch_add(1, std::memory_order_relaxed);
    proxy_.routes.session_ended(route->node, publish, route->playback_id, id_);
    boost::system::error_code ignored;
    beast::get_lowest_layer(client_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    backend_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

 private:
  void fail(const std::string& why) {
    proxy_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    log_.log_limited(spdlog::level::warn, "proxy protocol error", fmt::format("closing: {}", why));
  }

  asio::awaitable<void> send_client(const media::Bytes& bytes) {
    beast::get_lowest_layer(client_).expires_after(std::chrono::seconds(10));
    co_await asio::async_write(client_, asio::buffer(bytes), kUseTuple);
  }

  // Refuses with a status the encoder shows (not a silent close), then closes.
  asio::awaitable<void> refuse(const std::string& code, const std::string& why) {
    log_.log_limited(spdlog::level::warn, "proxy refused", fmt::format("refused: {}", why));
    co_await send_client(rtmp::CommandPhase::refused(code, why));
  }

  asio::awaitable<bool> handshake() {
    rtmp::ServerHandshake hs;
    beast::get_lowest_layer(client_).expires_after(proxy_.config.handshake_timeout);
    if constexpr (kTls) {
      auto [ec] = co_await client_.async_handshake(asio::ssl::stream_base::server, kUseTuple);
      if (ec) {
        log_.log_limited(spdlog::level::info, "proxy tls handshake failed",
                         fmt::format("closing: TLS handshake: {}", ec.message()));
        co_return false;
      }
    }
    for (;;) {
      auto [ec, n] = co_await client_.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) {
        if (ec != asio::error::eof) {
          log_.log_limited(spdlog::level::info, "proxy handshake closed",
                           fmt::format("handshake: {}", ec.message()));
        }
        co_return false;
      }
      auto step = hs.feed(std::span(buf_.data(), n));
      if (!step) {
        fail("handshake: " + step.error().message);
        co_return false;
      }
      if (!step->out.empty()) {
        auto [werr, wn] = co_await asio::async_write(client_, asio::buffer(step->out), kUseTuple);
        if (werr) co_return false;
      }
      if (step->done) {
        preroute_.assign(buf_.begin() + static_cast<long>(step->consumed), buf_.begin() + n);
        co_return true;
      }
    }
  }

  // Answers connect/createStream like a server until publish or play names the stream.
  asio::awaitable<std::optional<Route>> read_until_routed() {
    rtmp::ChunkDecoder decoder(proxy_.config.chunk_limits);
    std::vector<rtmp::Message> messages;
    std::size_t fed = 0;
    beast::get_lowest_layer(client_).expires_after(proxy_.config.handshake_timeout);
    for (;;) {
      if (preroute_.size() > proxy_.config.max_preroute_bytes) {
        fail("no publish or play in the first " + std::to_string(proxy_.config.max_preroute_bytes) +
             " bytes");
        co_return std::nullopt;
      }
      messages.clear();
      if (auto st = decoder.feed(std::span(preroute_).subspan(fed), messages); !st) {
        fail(st.error().message);
        co_return std::nullopt;
      }
      fed = preroute_.size();
      for (const auto& m : messages) {
        if (m.type != rtmp::kCommandAmf0 && m.type != rtmp::kCommandAmf3) continue;
        auto step = phase_.on_command(m);
        if (!step) {
          fail(step.error().message);
          co_return std::nullopt;
        }
        if (!step->reply.empty()) co_await send_client(step->reply);
        using Action = rtmp::CommandStep::Action;
        if (step->action == Action::kRefused) {
          log_.log_limited(spdlog::level::warn, "proxy unknown app",
                           fmt::format("connect to unknown app '{}'", step->name));
          co_return std::nullopt;
        }
        if (step->action == Action::kEnd) co_return std::nullopt;
        // Plain statements: GCC 12 miscompiles co_await inside a conditional expression.
        if (step->action == Action::kPublish) {
          auto route = co_await route_publish(step->name);
          co_return route;
        }
        if (step->action == Action::kPlay) {
          auto route = co_await route_play(step->name);
          co_return route;
        }
      }
      auto [ec, n] = co_await client_.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) {
        if (ec == beast::error::timeout) fail("no publish or play before the handshake timeout");
        co_return std::nullopt;
      }
      preroute_.insert(preroute_.end(), buf_.begin(), buf_.begin() + n);
    }
  }

  asio::awaitable<std::optional<Route>> route_publish(const std::string& publish_name) {
    const auto& client = phase_.client();
    const admission::PublishAttempt attempt{
        client.app, publish_name,           addr_, client.tc_url, client.flash_ver,
        0,          kTls ? "rtmps" : "rtmp"};
    auto verdict = co_await proxy_.admission.admit(attempt);
    if (auto* refusal = std::get_if<admission::Refusal>(&verdict)) {
      proxy_.counters.rejected_auth.fetch_add(1, std::memory_order_relaxed);
      co_await refuse(admission::rtmp_status_code(refusal->kind), refusal->description);
      co_return std::nullopt;
    }
    const std::string playback_id = std::get<admission::Admitted>(verdict).playback_id;
    auto node = proxy_.routes.place_publish(playback_id, ProxyRoutes::Protocol::kRtmp);
    if (!node) {
      proxy_.counters.rejected_capacity.fetch_add(1, std::memory_order_relaxed);
      co_await refuse(admission::rtmp_status_code(admission::RefusalKind::kNoCapacity),
                      "no media server has free capacity");
      co_return std::nullopt;
    }
    proxy_.counters.publishes_routed.fetch_add(1, std::memory_order_relaxed);
    answered_ = phase_.answered();
    co_return Route{Role::kPublish, playback_id, *node};
  }

  asio::awaitable<std::optional<Route>> route_play(const std::string& play_name) {
    const auto playback_id = admission::Admission::playback_id_to_play(play_name);
    std::optional<registry::NodeEntry> node;
    if (playback_id) node = proxy_.routes.place_play(*playback_id, ProxyRoutes::Protocol::kRtmp);
    if (!node) {
      proxy_.counters.rejected_unknown.fetch_add(1, std::memory_order_relaxed);
      co_await refuse("NetStream.Play.StreamNotFound", "no such live stream");
      co_return std::nullopt;
    }
    proxy_.counters.plays_routed.fetch_add(1, std::memory_order_relaxed);
    answered_ = phase_.answered();
    co_return Route{Role::kPlay, *playback_id, *node};
  }

  // Connects and shakes hands with the server, then replays everything the client sent
  // since its handshake.
  asio::awaitable<bool> connect_backend(const Route& route) {
    const auto failed = [&](const std::string& why) -> asio::awaitable<bool> {
      proxy_.counters.server_failures.fetch_add(1, std::memory_order_relaxed);
      proxy_.routes.mark_down(route.node.address);
      co_await refuse(
          route.role == Role::kPublish ? "NetStream.Publish.Failed" : "NetStream.Play.Failed",
          "media server " + route.node.address + " unreachable: " + why);
      co_return false;
    };
    auto ep = parse_tcp_address(route.node.rtmp_address);
    if (!ep) co_return co_await failed("bad address " + route.node.rtmp_address);
    backend_.expires_after(proxy_.config.connect_timeout);
    if (auto [ec] = co_await backend_.async_connect(*ep, kUseTuple); ec)
      co_return co_await failed(ec.message());
    boost::system::error_code ignored;
    backend_.socket().set_option(tcp::no_delay(true), ignored);
    rtmp::ClientHandshake hs;
    auto c0c1 = hs.start();
    if (proxy_.config.send_proxy_protocol) {
      // The server sees the client's address, not the proxy's; the destination is where the
      // client connected.
      const auto local = beast::get_lowest_layer(client_).socket().local_endpoint(ignored);
      auto header = proxy_protocol::encode_v2(
          {client_endpoint_.address().to_string(), client_endpoint_.port()},
          {local.address().to_string(), local.port()});
      c0c1.insert(c0c1.begin(), header.begin(), header.end());
    }
    if (auto [ec, n] = co_await asio::async_write(backend_, asio::buffer(c0c1), kUseTuple); ec)
      co_return co_await failed(ec.message());
    for (;;) {
      auto [ec, n] = co_await backend_.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) co_return co_await failed("handshake: " + ec.message());
      auto step = hs.feed(std::span(buf_.data(), n));
      if (!step) co_return co_await failed("handshake: " + step.error().message);
      if (!step->out.empty()) {
        if (auto [werr, wn] =
                co_await asio::async_write(backend_, asio::buffer(step->out), kUseTuple);
            werr)
          co_return co_await failed(werr.message());
      }
      if (step->done) {
        backend_pending_.assign(buf_.begin() + static_cast<long>(step->consumed), buf_.begin() + n);
        break;
      }
    }
    if (auto [ec, n] = co_await asio::async_write(backend_, asio::buffer(preroute_), kUseTuple); ec)
      co_return co_await failed(ec.message());
    proxy_.counters.bytes_to_servers.fetch_add(preroute_.size(), std::memory_order_relaxed);
    preroute_ = {};
    co_return true;
  }

  // Whichever task ends first ends the others: their pending operations are cancelled.
  asio::awaitable<std::string> ended(asio::awaitable<std::string> task) {
    std::string why = co_await std::move(task);
    boost::system::error_code ignored;
    beast::get_lowest_layer(client_).socket().cancel(ignored);
    backend_.socket().cancel(ignored);
    co_return why;
  }

  // Bytes as they come from one side to the other, on the bare sockets: no per-operation
  // timer (the watchdog checks `watch` instead), as this is the path every relayed byte takes.
  template <typename From, typename To>
  asio::awaitable<std::string> pump(From& from, To& to, Watch& watch,
                                    std::atomic<std::uint64_t>& counter, bool from_client) {
    beast::get_lowest_layer(from).expires_never();
    beast::get_lowest_layer(to).expires_never();
    // Kernel pipes only between two TCP sockets: TLS bytes are decrypted in user space.
    if (!kTls && proxy_.config.splice) {
      if (auto pipe = SplicePipe::open()) {
        auto why = co_await splice_pump(beast::get_lowest_layer(from).socket(),
                                        beast::get_lowest_layer(to).socket(), *pipe, watch, counter,
                                        from_client);
        if (why) co_return *why;
      }
    }
    std::vector<std::uint8_t> buf(kRelayBuffer);
    for (;;) {
      auto [ec, n] = co_await untimed(from).async_read_some(asio::buffer(buf), kUseTuple);
      if (ec) {
        if (!from_client) note_server_error(ec);
        co_return (from_client ? "client: " : "server: ") + ec.message();
      }
      watch.last_read = Clock::now();
      watch.writing = true;
      watch.write_started = watch.last_read;
      auto [werr, wn] =
          co_await asio::async_write(untimed(to), asio::buffer(buf.data(), n), kUseTuple);
      watch.writing = false;
      if (werr) {
        if (from_client) note_server_closed(werr);
        co_return (from_client ? "server: " : "client: ") + werr.message();
      }
      counter.fetch_add(n, std::memory_order_relaxed);
    }
  }

  // pump() through a kernel pipe: the bytes never enter user space. nullopt when the first
  // splice finds that these sockets cannot be spliced (pump() copies instead).
  asio::awaitable<std::optional<std::string>> splice_pump(tcp::socket& from, tcp::socket& to,
                                                          SplicePipe& pipe, Watch& watch,
                                                          std::atomic<std::uint64_t>& counter,
                                                          bool from_client) {
    boost::system::error_code ec;
    from.non_blocking(true, ec);
    if (!ec) to.non_blocking(true, ec);
    if (ec) co_return std::nullopt;
    const std::string reader = from_client ? "client: " : "server: ";
    const std::string writer = from_client ? "server: " : "client: ";
    const auto errno_code = [] {
      return boost::system::error_code(errno, boost::system::system_category());
    };
    bool moved_any = false;
    for (;;) {
      const ssize_t n = pipe.fill(from.native_handle());
      if (n == 0) {
        if (!from_client) note_server_error(asio::error::eof);
        co_return reader + "End of file";
      }
      if (n < 0) {
        if (errno == EINVAL && !moved_any) co_return std::nullopt;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          const auto failure = errno_code();
          if (!from_client) note_server_error(failure);
          co_return reader + failure.message();
        }
        auto [werr] = co_await from.async_wait(tcp::socket::wait_read, kUseTuple);
        if (werr) {
          if (!from_client) note_server_error(werr);
          co_return reader + werr.message();
        }
        continue;
      }
      moved_any = true;
      watch.last_read = Clock::now();
      watch.writing = true;
      watch.write_started = watch.last_read;
      while (pipe.buffered() > 0) {
        const ssize_t m = pipe.drain(to.native_handle());
        if (m > 0) {
          counter.fetch_add(static_cast<std::uint64_t>(m), std::memory_order_relaxed);
          continue;
        }
        auto failure = errno_code();
        if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          auto [werr] = co_await to.async_wait(tcp::socket::wait_write, kUseTuple);
          if (!werr) continue;
          failure = werr;
        }
        if (from_client) note_server_closed(failure);
        co_return writer + failure.message();
      }
      watch.writing = false;
    }
  }

  // A server that closes the connection (EOF) may be ending a session normally: it closes a
  // publish on deleteStream, and a play when the stream ends. That is judged once the relay
  // has stopped (server_closed_); anything else is a failure now. Cancellation is ours.
  void note_server_error(const boost::system::error_code& ec) {
    if (ec == asio::error::eof) {
      server_closed_ = true;
    } else if (ec != asio::error::operation_aborted) {
      proxy_.counters.server_failures.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // A write to the server failed: it closed or vanished, judged like its EOF (it closes a
  // publish on deleteStream, and a publisher's last bytes may still be on their way).
  void note_server_closed(const boost::system::error_code& ec) {
    if (ec != asio::error::operation_aborted) server_closed_ = true;
  }

  // After the server closed a publish session: a publisher that unpublished closes its side
  // too, at once; one that keeps sending lost its server (killed, or out of its mind).
  asio::awaitable<bool> publisher_left_too() {
    beast::get_lowest_layer(client_).expires_after(kUnpublishCloseWait);
    for (;;) {
      auto [ec, n] = co_await client_.async_read_some(asio::buffer(buf_), kUseTuple);
      if (ec) co_return ec != beast::error::timeout;
    }
  }

  // Ends the relay when the side that should talk has been silent, or a side has not taken
  // a write, for idle_timeout; or when the server has failed its health checks (a server
  // that went silent may leave a publisher's writes unblocked for a long time, as socket
  // buffers take them).
  asio::awaitable<std::string> watchdog(Route route) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto limit = proxy_.config.idle_timeout;
    const Role role = route.role;
    for (;;) {
      timer.expires_after(std::min<Clock::duration>(limit / 4, std::chrono::seconds(1)));
      if (auto [ec] = co_await timer.async_wait(kUseTuple); ec) co_return "stopped";
      if (proxy_.routes.lost(route.node.address)) {
        proxy_.counters.server_failures.fetch_add(1, std::memory_order_relaxed);
        co_return "server " + route.node.address + " failed its health checks";
      }
      const auto now = Clock::now();
      if (role == Role::kPublish && now - up_.last_read > limit) co_return "publisher idle";
      if (role == Role::kPlay && now - down_.last_read > limit) co_return "server idle";
      if (up_.writing && now - up_.write_started > limit) co_return "server not reading";
      if (down_.writing && now - down_.write_started > limit) co_return "client not reading";
    }
  }

  // Client to server: bytes as they come (publishers send media; players stay mostly quiet).
  asio::awaitable<std::string> relay_up(Role role) {
    (void)role;
    return pump(client_, backend_, up_, proxy_.counters.bytes_to_servers, true);
  }

  // Server to client: messages, minus what the proxy already answered, re-chunked; then, as
  // soon as the stream is at a message boundary with every such answer skipped, bytes as
  // they come. That is exact because a sluice server starts every message with a full
  // (fmt 0) header and uses the chunk size the proxy announced, so the client's decoder needs
  // no state the proxy did not give it.
  asio::awaitable<std::string> relay_down(Role role) {
    rtmp::ChunkDecoder decoder(proxy_.config.chunk_limits);
    std::vector<rtmp::Message> messages;
    std::vector<std::uint8_t> buf(kRelayBuffer), out;
    std::vector<std::uint8_t> pending = std::move(backend_pending_);
    bool raw = false;
    for (;;) {
      out.clear();
      std::size_t fed = 0;
      while (!raw && fed < pending.size()) {
        // Once nothing is left to skip, find the next message boundary a byte at a time.
        const bool seeking = answered_.empty() && decoder.chunk_size() == rtmp::kServerChunkSize;
        const std::size_t step = seeking ? 1 : pending.size() - fed;
        messages.clear();
        if (auto st = decoder.feed(std::span(pending).subspan(fed, step), messages); !st) {
          proxy_.counters.server_failures.fetch_add(1, std::memory_order_relaxed);
          co_return "server sent bad chunks: " + st.error().message;
        }
        fed += step;
        for (const auto& m : messages) {
          if (auto why = forward(m, out)) co_return *why;
        }
        raw = seeking && !messages.empty() && decoder.buffered_bytes() == 0;
      }
      if (raw) out.insert(out.end(), pending.begin() + static_cast<long>(fed), pending.end());
      if (!out.empty()) {
        beast::get_lowest_layer(client_).expires_after(proxy_.config.idle_timeout);
        auto [werr, wn] = co_await asio::async_write(client_, asio::buffer(out), kUseTuple);
        if (werr) co_return "client: " + werr.message();
        proxy_.counters.bytes_to_clients.fetch_add(wn, std::memory_order_relaxed);
      }
      if (raw) {
        auto why = co_await pump(backend_, client_, down_, proxy_.counters.bytes_to_clients, false);
        co_return why;
      }
      if (role == Role::kPlay) {
        backend_.expires_after(proxy_.config.idle_timeout);
      } else {
        backend_.expires_never();  // a server is quiet while a publisher sends
      }
      auto [ec, n] = co_await backend_.async_read_some(asio::buffer(buf), kUseTuple);
      if (ec) {
        note_server_error(ec);
        co_return "server: " + ec.message();
      }
      down_.last_read = Clock::now();
      pending.assign(buf.begin(), buf.begin() + static_cast<long>(n));
    }
  }

  // Appends `m` for the client unless the proxy answered it already; a reason ends the relay.
  std::optional<std::string> forward(const rtmp::Message& m, std::vector<std::uint8_t>& out) {
    switch (m.type) {
      case rtmp::kSetChunkSize:  // applied by our decoder; the client has the proxy's size
      case rtmp::kWindowAckSize:
      case rtmp::kSetPeerBandwidth:
        return std::nullopt;
      case rtmp::kCommandAmf0:
      case rtmp::kCommandAmf3: {
        auto body = std::span<const std::uint8_t>(*m.payload);
        if (m.type == rtmp::kCommandAmf3 && !body.empty()) body = body.subspan(1);
        auto values = amf0::decode_all(body, proxy_.config.amf0_limits);
        if (values && values->size() > 1 && (*values)[0].as_string() && (*values)[1].as_number()) {
          const std::string& name = *(*values)[0].as_string();
          const double txid = *(*values)[1].as_number();
          if ((name == "_result" || name == "_error") && answered_.erase(txid)) {
            if (name == "_error") return "the server refused what the proxy accepted";
            return std::nullopt;
          }
        }
        break;
      }
      default:
        break;
    }
    rtmp::encode_message(m.csid, m.type, m.stream_id, m.timestamp, *m.payload,
                         rtmp::kServerChunkSize, out);
    return std::nullopt;
  }

  static constexpr bool kTls = std::is_same_v<ClientStream, TlsClient>;
  RtmpProxy::Impl& proxy_;
  const std::uint64_t id_;
  std::shared_ptr<const void> tls_context_;  // outlives client_ (declared before it)
  ClientStream client_;
  beast::tcp_stream backend_;
  const tcp::endpoint client_endpoint_;  // the client's, or what its PROXY header named
  std::string addr_;
  rtmp::CommandPhase phase_;
  bool server_closed_ = false;  // the server ended the relay with EOF
  observe::Logger log_;
  std::array<std::uint8_t, 16 * 1024> buf_{};
  std::vector<std::uint8_t> preroute_;         // client bytes since its handshake
  std::vector<std::uint8_t> backend_pending_;  // server bytes right after its handshake
  std::set<double> answered_;                  // transactions the proxy answered itself
  Watch up_, down_;                            // client to server, server to client
};

}  // namespace

asio::awaitable<void> RtmpProxy::Impl::session(tcp::socket socket, tcp::endpoint client,
                                               std::uint64_t id, bool with_tls) {
  if (with_tls) {
    auto context = tls->context();
    TlsClient stream(beast::tcp_stream(std::move(socket)), *context);
    ProxySession<TlsClient> s(*this, std::move(stream), context, client, id);
    co_await s.run();
    co_return;
  }
  ProxySession<beast::tcp_stream> s(*this, beast::tcp_stream(std::move(socket)), nullptr, client,
                                    id);
  co_await s.run();
}

RtmpProxy::RtmpProxy(asio::io_context& io, const tcp::endpoint& endpoint, const ProxyConfig& config,
                     ProxyRoutes& routes, admission::Admission& admission, ProxyCounters& counters)
    : impl_(std::make_shared<Impl>(io, endpoint, config, routes, admission, counters)) {}

RtmpProxy::~RtmpProxy() = default;

tcp::endpoint RtmpProxy::local_endpoint() const {
  return impl_->acceptor.local_endpoint();
}

void RtmpProxy::enable_tls(const tcp::endpoint& endpoint,
                           std::shared_ptr<net::TlsCertificate> certificate) {
  impl_->tls_acceptor.emplace(impl_->io, endpoint);
  impl_->tls = std::move(certificate);
}

std::optional<tcp::endpoint> RtmpProxy::tls_local_endpoint() const {
  if (!impl_->tls_acceptor) return std::nullopt;
  return impl_->tls_acceptor->local_endpoint();
}

void RtmpProxy::start() {
  for (tcp::acceptor* acceptor :
       {&impl_->acceptor, impl_->tls_acceptor ? &*impl_->tls_acceptor : nullptr}) {
    if (!acceptor) continue;
    const bool tls = acceptor != &impl_->acceptor;
    net::AcceptConfig accept;
    accept.name = tls ? "proxy rtmps" : "proxy";
    accept.proxy_from = impl_->config.proxy_from;
    accept.proxy_timeout = impl_->config.handshake_timeout;
    accept.max_pending = impl_->config.max_connections;
    net::start_accepting(impl_->io, *acceptor, std::move(accept),
                         [impl = impl_.get(), tls](tcp::socket socket, tcp::endpoint client) {
                           impl->on_connection(std::move(socket), client, tls);
                         });
  }
}

void RtmpProxy::stop() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  if (impl_->tls_acceptor) impl_->tls_acceptor->close(ec);
}

std::string RtmpProxy::metrics_text() const {
  const auto& c = impl_->counters;
  std::string out;
  const auto add = [&](auto... args) { observe::append_metric(out, args...); };
  add("sluice_proxy_connections_total", "counter", "RTMP connections accepted.",
      c.connections_total.load());
  add("sluice_proxy_connections_active", "gauge", "Open RTMP connections.",
      c.connections_active.load());
  add("sluice_proxy_connections_refused_total", "counter", "Connections over the limit.",
      c.connections_refused.load());
  add("sluice_proxy_publishes_routed_total", "counter", "Publishers sent to a server.",
      c.publishes_routed.load());
  add("sluice_proxy_plays_routed_total", "counter", "Players sent to a server.",
      c.plays_routed.load());
  add("sluice_proxy_rejected_auth_total", "counter", "Publishes refused at the edge (key).",
      c.rejected_auth.load());
  add("sluice_proxy_rejected_capacity_total", "counter",
      "Publishes refused because no server had free capacity.", c.rejected_capacity.load());
  add("sluice_proxy_rejected_unknown_total", "counter", "Plays of streams not in the registry.",
      c.rejected_unknown.load());
  add("sluice_proxy_protocol_errors_total", "counter", "Sessions closed on bad client input.",
      c.protocol_errors.load());
  add("sluice_proxy_server_failures_total", "counter",
      "Server connections that failed or broke mid-session.", c.server_failures.load());
  add("sluice_proxy_bytes_to_servers_total", "counter", "Bytes relayed to servers.",
      c.bytes_to_servers.load());
  add("sluice_proxy_bytes_to_clients_total", "counter", "Bytes relayed to clients.",
      c.bytes_to_clients.load());
  int healthy = 0, nodes = 0;
  for (const auto& n : impl_->routes.registry().nodes()) {
    ++nodes;
    healthy += impl_->routes.healthy(n.address) ? 1 : 0;
  }
  add("sluice_proxy_servers", "gauge", "Servers in the registry.", nodes);
  add("sluice_proxy_servers_healthy", "gauge", "Servers passing the RTMP handshake check.",
      healthy);
  registry::append_registry_metrics(out, impl_->routes.registry());
  observe::append_process_metrics(out);
  return out;
}

}  // namespace sluice::route
