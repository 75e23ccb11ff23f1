#include "net/srt.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <srt/logging_api.h>
#include <srt/srt.h>
#include <sys/syslog.h>

#include <array>

#include "observe/log.h"

namespace sluice::net {

namespace {

constexpr std::size_t kMaxStreamIdLength = 512;  // SRT's own limit

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text,
                sizeof text);
  } else if (address.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
                sizeof text);
  }
  return text;
}

struct SocketAddress {
  sockaddr_storage storage{};
  int size = 0;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// HOST:PORT or [HOST]:PORT, with a numeric host.
std::optional<SocketAddress> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const int port = std::atoi(text.c_str() + colon + 1);
  if (port < 0 || port > 65535) return std::nullopt;
  SocketAddress out;
  auto& in4 = reinterpret_cast<sockaddr_in&>(out.storage);
  auto& in6 = reinterpret_cast<sockaddr_in6&>(out.storage);
  if (::inet_pton(AF_INET, host.c_str(), &in4.sin_addr) == 1) {
    in4.sin_family = AF_INET;
    in4.sin_port = htons(static_cast<std::uint16_t>(port));
    out.size = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<std::uint16_t>(port));
    out.size = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  return out;
}

// Live mode, the latency, the read timeout and the passphrase; a listener's callers inherit
// them. false: libsrt refused one (srt_last_error says which).
bool set_options(SRTSOCKET socket, const SrtOptions& options, std::string& failed) {
  const int latency = static_cast<int>(options.latency.count());
  const int receive_timeout = static_cast<int>(options.receive_timeout.count());
  const int transtype = SRTT_LIVE;
  failed = "options";
  if (srt_setsockflag(socket, SRTO_TRANSTYPE, &transtype, sizeof transtype) != 0 ||
      srt_setsockflag(socket, SRTO_LATENCY, &latency, sizeof latency) != 0 ||
      srt_setsockflag(socket, SRTO_RCVTIMEO, &receive_timeout, sizeof receive_timeout) != 0) {
    return false;
  }
  // A peer without it, or with another, is refused by libsrt in the handshake.
  failed = "passphrase (10 to 79 characters)";
  return options.passphrase.empty() ||
         srt_setsockflag(socket, SRTO_PASSPHRASE, options.passphrase.data(),
                         static_cast<int>(options.passphrase.size())) == 0;
}

}  // namespace

SrtLibrary::SrtLibrary() {
  srt_startup();
  // libsrt's own lines (a wrong passphrase, a rejected handshake) into ours, at the rate limit
  // of anything a peer can cause.
  srt_setloglevel(LOG_WARNING);
  srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME | SRT_LOGF_DISABLE_SEVERITY |
                  SRT_LOGF_DISABLE_EOL);
  srt_setloghandler(nullptr, [](void*, int level, const char*, int, const char*, const char* text) {
    observe::log_limited(level <= LOG_ERR ? spdlog::level::warn : spdlog::level::info, "libsrt",
                         fmt::format("srt: {}", text));
  });
}

SrtLibrary::~SrtLibrary() {
  srt_cleanup();
}

std::string srt_last_error() {
  return srt_getlasterror_str();
}

int SrtSocket::handle() const {
  std::lock_guard lock(mutex_);
  return handle_;
}

void SrtSocket::close() {
  std::lock_guard lock(mutex_);
  if (handle_ != SRT_INVALID_SOCK) srt_close(handle_);
  handle_ = SRT_INVALID_SOCK;
}

std::string SrtSocket::peer_address() const {
  sockaddr_storage peer{};
  int peer_size = sizeof peer;
  if (srt_getpeername(handle(), reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) return "?";
  return address_text(peer);
}

std::string SrtSocket::stream_id() const {
  std::array<char, kMaxStreamIdLength + 1> buffer{};
  int size = static_cast<int>(buffer.size());
  if (srt_getsockflag(handle(), SRTO_STREAMID, buffer.data(), &size) != 0) return {};
  return std::string(buffer.data(), static_cast<std::size_t>(size));
}

Result<std::unique_ptr<SrtSocket>> srt_connect(const std::string& address,
                                               const std::string& stream_id,
                                               const SrtOptions& options,
                                               std::chrono::milliseconds timeout) {
  auto target = parse_address(address);
  if (!target) return make_error(Errc::kMalformed, "srt: address " + address);
  auto socket = std::make_unique<SrtSocket>(srt_create_socket());
  const int handle = socket->handle();
  if (handle == SRT_INVALID_SOCK) return make_error(Errc::kIo, "srt: socket: " + srt_last_error());
  std::string failed;
  const int connect_timeout = static_cast<int>(timeout.count());
  // Room for the largest message a live-mode peer may send, as a relay forwards them whole.
  const int payload_size = SRT_LIVE_MAX_PLSIZE;
  if (!set_options(handle, options, failed) ||
      srt_setsockflag(handle, SRTO_CONNTIMEO, &connect_timeout, sizeof connect_timeout) != 0 ||
      srt_setsockflag(handle, SRTO_PAYLOADSIZE, &payload_size, sizeof payload_size) != 0 ||
      srt_setsockflag(handle, SRTO_STREAMID, stream_id.data(),
                      static_cast<int>(stream_id.size())) != 0) {
    return make_error(Errc::kIo, "srt: " + failed + ": " + srt_last_error());
  }
  if (srt_connect(handle, target->get(), target->size) == SRT_ERROR) {
    // A listener's refusal has a reason (a wrong passphrase, or a stream ID it turned down).
    const int reason = srt_getrejectreason(handle);
    return make_error(
        Errc::kIo,
        "srt: connect to " + address + ": " + srt_last_error() +
            (reason == SRT_REJ_UNKNOWN ? ""
                                       : std::string(" (") + srt_rejectreason_str(reason) + ")"));
  }
  return socket;
}

struct SrtListener::Connection {
  explicit Connection(int handle) : socket(handle) {}
  SrtSocket socket;
  std::uint64_t id = 0;
  std::thread thread;
  std::atomic<bool> done{false};
};

SrtListener::SrtListener(std::string name, std::string listen, SrtOptions options,
                         std::size_t max_connections, SrtConnectionCounters& counters,
                         Handler handler)
    : name_(std::move(name)),
      listen_(std::move(listen)),
      options_(std::move(options)),
      max_connections_(max_connections),
      counters_(counters),
      handler_(std::move(handler)) {}

SrtListener::~SrtListener() {
  stop();
}

Status SrtListener::start() {
  auto address = parse_address(listen_);
  if (!address) return make_error(Errc::kMalformed, name_ + ": listen address " + listen_);
  listener_ = srt_create_socket();
  if (listener_ == SRT_INVALID_SOCK)
    return make_error(Errc::kIo, name_ + ": socket: " + srt_last_error());
  const auto fail = [&](const std::string& what) -> Status {
    auto error = make_error(Errc::kIo, name_ + ": " + what + ": " + srt_last_error());
    srt_close(listener_);
    listener_ = -1;
    return error;
  };
  std::string failed;
  const int yes = 1;
  if (!set_options(listener_, options_, failed)) return fail(failed);
  if (srt_setsockflag(listener_, SRTO_REUSEADDR, &yes, sizeof yes) != 0) return fail("options");
  if (srt_bind(listener_, address->get(), address->size) != 0) return fail("bind " + listen_);
  if (srt_listen(listener_, 64) != 0) return fail("listen");
  sockaddr_storage bound{};
  int bound_size = sizeof bound;
  if (srt_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &bound_size) == 0) {
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                              : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  }
  acceptor_ = std::thread([this] { accept_loop(); });
  return Ok{};
}

void SrtListener::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();  // within its 200 ms epoll wait
  if (listener_ != -1) srt_close(listener_);
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& c : connections)
    c->socket.close();  // a blocked read returns
  for (auto& c : connections) {
    if (c->thread.joinable()) c->thread.join();
  }
}

void SrtListener::accept_loop() {
  // Waits in epoll rather than in srt_accept, so that stop() never has accept fail on a
  // closed listener.
  const int epoll = srt_epoll_create();
  const int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock(epoll, listener_, &events);
  while (!stopping_) {
    SRTSOCKET ready[1];
    int ready_count = 1;
    if (srt_epoll_wait(epoll, ready, &ready_count, nullptr, nullptr, 200, nullptr, nullptr, nullptr,
                       nullptr) <= 0) {
      continue;  // timed out: look at stopping_ again
    }
    sockaddr_storage peer{};
    int peer_size = sizeof peer;
    const SRTSOCKET socket = srt_accept(listener_, reinterpret_cast<sockaddr*>(&peer), &peer_size);
    if (socket == SRT_INVALID_SOCK) {
      observe::log_limited(spdlog::level::warn, name_ + " accept failed",
                           fmt::format("{} accept: {}", name_, srt_last_error()));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    counters_.connections_total.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    // Threads of sessions that ended are joined here, so they never pile up.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    if (connections_.size() >= max_connections_) {
      srt_close(socket);
      counters_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      observe::log_limited(spdlog::level::warn, name_ + " connection limit",
                           fmt::format("{}: refusing {}: {} connections is the limit", name_,
                                       address_text(peer), max_connections_));
      continue;
    }
    auto connection = std::make_unique<Connection>(socket);
    connection->id = next_id_++;
    auto& c = *connection;
    connections_.push_back(std::move(connection));
    c.thread = std::thread([this, &c] {
      counters_.connections_active.fetch_add(1, std::memory_order_relaxed);
      try {
        handler_(c.socket, c.id, stopping_);
      } catch (const std::exception& e) {
        spdlog::error("{}#{}: session failed: {}", name_, c.id, e.what());
      }
      c.socket.close();
      counters_.connections_active.fetch_sub(1, std::memory_order_relaxed);
      c.done = true;
    });
  }
  srt_epoll_release(epoll);
}

}  // namespace sluice::net
