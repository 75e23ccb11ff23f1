#include "route/srt_proxy.h"

#include <spdlog/spdlog.h>
#include <srt/srt.h>

#include <array>

#include "observe/metrics.h"
#include "proto/srt/stream_id.h"

namespace sluice::route {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kSrtPayload = 1500;  // above SRT's largest live payload (1456)

// The admission step with its own copy of the attempt, as it may outlive the caller's thread.
asio::awaitable<admission::Verdict> admit(admission::Admission& admission,
                                          admission::PublishAttempt attempt) {
  co_return co_await admission.admit(attempt);
}

// An SRT epoll set, released on every path.
class SrtEpoll {
 public:
  SrtEpoll() : id_(srt_epoll_create()) {}
  ~SrtEpoll() {
    if (id_ >= 0) srt_epoll_release(id_);
  }
  SrtEpoll(const SrtEpoll&) = delete;
  SrtEpoll& operator=(const SrtEpoll&) = delete;
  int id() const { return id_; }

 private:
  int id_;
};

}  // namespace

SrtProxy::SrtProxy(asio::io_context& io, std::string listen, SrtProxyConfig config,
                   const ProxyConfig& proxy, ProxyRoutes& routes, admission::Admission& admission,
                   ProxyCounters& counters)
    : io_(io),
      config_(std::move(config)),
      proxy_(proxy),
      routes_(routes),
      admission_(admission),
      counters_(counters),
      listener_("proxy srt", std::move(listen), config_.srt, config_.max_connections, connections_,
                [this](net::SrtSocket& caller, std::uint64_t, const std::atomic<bool>& stopping) {
                  serve(caller, stopping);
                }) {}

SrtProxy::~SrtProxy() {
  stop();
}

void SrtProxy::serve(net::SrtSocket& caller, const std::atomic<bool>& stopping) {
  const std::uint64_t id = routes_.next_session_id();
  const std::string addr = caller.peer_address();
  observe::Logger log;
  const std::string session = "proxy#" + std::to_string(id);
  log.set_tag(session + " srt " + addr);
  log.with("session", session).with("remote", addr).with("protocol", "srt");
  const auto refuse = [&](std::atomic<std::uint64_t>& counter, const std::string& why) {
    counter.fetch_add(1, std::memory_order_relaxed);
    log.log_limited(spdlog::level::warn, "proxy srt refused", fmt::format("refused: {}", why));
  };

  const std::string stream_id = caller.stream_id();
  auto request = srt::parse_stream_id(stream_id, config_.app);
  if (!request) return refuse(connections_.connections_refused, request.error().message);
  const bool publish = request->mode == srt::Mode::kPublish;
  std::string playback_id;
  std::optional<registry::NodeEntry> node;
  if (publish) {
    const admission::PublishAttempt attempt{config_.app, request->name, addr, "", "", 0, "srt"};
    auto verdict = net::run_and_wait(io_, admit(admission_, attempt), stopping);
    if (!verdict) return;
    if (auto* refusal = std::get_if<admission::Refusal>(&*verdict)) {
      return refuse(
          counters_.rejected_auth,
          "publish of key " + admission::mask_key(request->name) + ": " + refusal->description);
    }
    playback_id = std::get<admission::Admitted>(*verdict).playback_id;
    node = routes_.place_publish(playback_id, ProxyRoutes::Protocol::kSrt);
    if (!node) return refuse(counters_.rejected_capacity, "no SRT server has free capacity");
  } else {
    if (auto id_to_play = admission::Admission::playback_id_to_play(request->name))
      playback_id = *id_to_play;
    if (!playback_id.empty()) node = routes_.place_play(playback_id, ProxyRoutes::Protocol::kSrt);
    if (!node) return refuse(counters_.rejected_unknown, "no such live stream " + request->name);
  }
  log.with("stream", playback_id);

  // The server reads the same stream ID, so it admits the publish (or finds the stream) as
  // if the caller had come to it directly; with the caller's address in it for servers that
  // trust the proxy, as the RTMP door's PROXY header does.
  auto server = net::srt_connect(
      node->srt_address,
      proxy_.send_proxy_protocol ? srt::with_client_address(stream_id, addr) : stream_id,
      config_.srt, proxy_.connect_timeout);
  if (!server) {
    counters_.server_failures.fetch_add(1, std::memory_order_relaxed);
    routes_.mark_down(node->address);  // until its next health check passes
    log.log_limited(spdlog::level::warn, "proxy srt server failed",
                    fmt::format("refused: media server {} unreachable: {}", node->address,
                                server.error().message));
    return;
  }
  (publish ? counters_.publishes_routed : counters_.plays_routed)
      .fetch_add(1, std::memory_order_relaxed);
  routes_.session_started(*node, publish, playback_id, id);
  log.info("{} {} via {}", publish ? "publish" : "play", playback_id, node->address);
  const std::string why = relay(caller, **server, publish, *node, stopping);
  routes_.session_ended(*node, publish, playback_id, id);
  log.info("session of {} ended: {}", playback_id, why);
}

std::string SrtProxy::relay(net::SrtSocket& caller, net::SrtSocket& server, bool publish,
                            const registry::NodeEntry& node, const std::atomic<bool>& stopping) {
  // Reads wait in epoll (so that stopping and the server's health are looked at), writes
  // block: a live-mode send only waits for room in the sender's buffer.
  const int no = 0;
  const int send_timeout = 5'000;
  for (const int s : {caller.handle(), server.handle()}) {
    if (srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof no) != 0 ||
        srt_setsockflag(s, SRTO_SNDTIMEO, &send_timeout, sizeof send_timeout) != 0)
      return "options: " + net::srt_last_error();
  }
  SrtEpoll epoll;
  const int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  if (epoll.id() < 0 || srt_epoll_add_usock(epoll.id(), caller.handle(), &events) != 0 ||
      srt_epoll_add_usock(epoll.id(), server.handle(), &events) != 0)
    return "epoll: " + net::srt_last_error();
  std::array<char, kSrtPayload> buffer{};
  using Clock = std::chrono::steady_clock;
  auto last_media = Clock::now();  // from the publisher, or from the server to a player
  for (;;) {
    if (stopping) return "proxy stopping";
    if (routes_.lost(node.address)) return "server " + node.address + " failed its health checks";
    if (Clock::now() - last_media > config_.srt.receive_timeout) return "idle timeout";
    std::array<SRTSOCKET, 2> ready{};
    int ready_count = static_cast<int>(ready.size());
    if (srt_epoll_wait(epoll.id(), ready.data(), &ready_count, nullptr, nullptr, 200, nullptr,
                       nullptr, nullptr, nullptr) <= 0) {
      continue;  // timed out
    }
    for (int i = 0; i < ready_count; ++i) {
      const bool from_caller = ready[static_cast<std::size_t>(i)] == caller.handle();
      net::SrtSocket& from = from_caller ? caller : server;
      net::SrtSocket& to = from_caller ? server : caller;
      const char* from_name = from_caller ? "caller: " : "server: ";
      for (;;) {
        const int n = srt_recvmsg(from.handle(), buffer.data(), static_cast<int>(buffer.size()));
        if (n < 0 && srt_getlasterror(nullptr) == SRT_EASYNCRCV) break;  // drained
        if (n <= 0) {
          // A server that ends a play has ended its stream; one that ends a publish failed.
          if (!from_caller && publish)
            counters_.server_failures.fetch_add(1, std::memory_order_relaxed);
          return from_name + (n == 0 || srt_getlasterror(nullptr) == SRT_ECONNLOST
                                  ? std::string("closed the connection")
                                  : net::srt_last_error());
        }
        if (from_caller == publish) last_media = Clock::now();
        if (srt_sendmsg(to.handle(), buffer.data(), n, -1, 1) < 0) {
          return (from_caller ? "server: " : "caller: ") + net::srt_last_error();
        }
        (from_caller ? counters_.bytes_to_servers : counters_.bytes_to_clients)
            .fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      }
    }
  }
}

std::string SrtProxy::metrics_text() const {
  std::string out;
  observe::append_metric(out, "sluice_proxy_srt_connections_total", "counter",
                         "SRT connections accepted.", connections_.connections_total.load());
  observe::append_metric(out, "sluice_proxy_srt_connections_active", "gauge",
                         "Open SRT connections.", connections_.connections_active.load());
  observe::append_metric(out, "sluice_proxy_srt_connections_refused_total", "counter",
                         "SRT connections over the limit or with a stream ID not understood.",
                         connections_.connections_refused.load());
  return out;
}

}  // namespace sluice::route
