#include "net/accept.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <memory>
#include <mutex>

#include "observe/log.h"
#include "observe/metrics.h"

namespace sluice::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// One reserve descriptor for the process: every listener runs out at the same time.
std::mutex reserve_mutex;
int reserve_fd = -1;

int open_reserve() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// Accepts and closes every connection waiting on `listener`, using the reserve descriptor
// for each; returns how many.
std::uint64_t shed_waiting_connections(int listener) {
  std::lock_guard lock(reserve_mutex);
  if (reserve_fd >= 0) {
    ::close(reserve_fd);
    reserve_fd = -1;
  }
  std::uint64_t shed = 0;
  for (;;) {
    pollfd ready{listener, POLLIN, 0};
    if (::poll(&ready, 1, 0) != 1) break;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) break;
    ::close(fd);
    ++shed;
  }
  reserve_fd = open_reserve();  // may fail while other threads hold the freed descriptor
  return shed;
}

// What a listener's connections share, kept alive by those still reading a PROXY header.
struct Listener {
  AcceptConfig config;
  ConnectionHandler on_connection;
  std::atomic<std::size_t> pending{0};
};

void refuse_proxied(const Listener& listener, const tcp::endpoint& peer, std::string_view why) {
  observe::process_counters().proxy_headers_refused.fetch_add(1, std::memory_order_relaxed);
  observe::log_limited(spdlog::level::warn, "proxy protocol refused",
                       fmt::format("{}: refused a connection from {}: {}", listener.config.name,
                                   peer.address().to_string(), why));
}

// Reads exactly the PROXY header of a connection from a trusted network: the client it
// names, or nullopt (refused and logged).
asio::awaitable<std::optional<tcp::endpoint>> read_header(const Listener& listener,
                                                          tcp::socket& socket,
                                                          const tcp::endpoint& peer) {
  std::vector<std::uint8_t> in;
  for (;;) {
    auto step = proxy_protocol::parse(in, listener.config.proxy_limits);
    if (!step) {
      refuse_proxied(listener, peer, step.error().message);
      co_return std::nullopt;
    }
    if (step->header) {
      observe::process_counters().proxy_headers.fetch_add(1, std::memory_order_relaxed);
      const auto& source = step->header->source;
      if (!source) co_return peer;  // LOCAL or UNKNOWN: the connection speaks for itself
      boost::system::error_code ec;
      auto address = asio::ip::make_address(source->ip, ec);
      if (ec) {
        refuse_proxied(listener, peer, "PROXY header: source " + source->ip);
        co_return std::nullopt;
      }
      co_return tcp::endpoint(address, source->port);
    }
    const auto have = in.size();
    in.resize(have + step->need);
    auto [ec, n] =
        co_await asio::async_read(socket, asio::buffer(in.data() + have, step->need), kUseTuple);
    if (ec == asio::error::operation_aborted) co_return std::nullopt;  // the deadline says
    if (ec) {
      refuse_proxied(listener, peer,
                     (have == 0 ? "no PROXY header: " : "PROXY header cut short: ") + ec.message());
      co_return std::nullopt;
    }
  }
}

// A connection from elsewhere must not start with a header: it would claim any address.
// Waits for its first bytes (the clients of RTMP and HTTP speak first) and looks at them.
asio::awaitable<bool> starts_without_header(const Listener& listener, tcp::socket& socket,
                                            const tcp::endpoint& peer) {
  auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, kUseTuple);
  if (ec) co_return false;  // closed, or nothing in time: the session would time out anyway
  std::array<std::uint8_t, proxy_protocol::kV2Signature.size()> first{};
  const auto n = ::recv(socket.native_handle(), first.data(), first.size(), MSG_PEEK);
  if (n > 0 && proxy_protocol::looks_like_header(std::span(first.data(), std::size_t(n)))) {
    refuse_proxied(listener, peer, "PROXY header from a network not in proxy_protocol_from");
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> admit_proxied(std::shared_ptr<Listener> listener, tcp::socket socket,
                                    tcp::endpoint peer) {
  struct Pending {
    Listener& l;
    ~Pending() { l.pending.fetch_sub(1, std::memory_order_relaxed); }
  } pending{*listener};
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(listener->config.proxy_timeout);
  const bool trusted =
      proxy_protocol::contains(listener->config.proxy_from, peer.address().to_string());
  std::optional<tcp::endpoint> client;
  if (trusted) {
    auto result =
        co_await (read_header(*listener, socket, peer) || deadline.async_wait(asio::use_awaitable));
    if (result.index() == 0) {
      client = std::get<0>(result);
    } else {
      refuse_proxied(*listener, peer, "no PROXY header in time");
    }
  } else {
    auto result = co_await (starts_without_header(*listener, socket, peer) ||
                            deadline.async_wait(asio::use_awaitable));
    if (result.index() == 0 && std::get<0>(result)) client = peer;
  }
  if (client) listener->on_connection(std::move(socket), *client);
}

asio::awaitable<void> accept_loop(asio::io_context& io, tcp::acceptor& acceptor,
                                  std::shared_ptr<Listener> listener) {
  const AcceptConfig& config = listener->config;
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(asio::use_awaitable));
    if (!ec) {
      boost::system::error_code peer_ec;
      const auto peer = socket.remote_endpoint(peer_ec);
      if (peer_ec) continue;  // gone already
      if (config.proxy_from.empty()) {
        listener->on_connection(std::move(socket), peer);
      } else if (listener->pending.fetch_add(1, std::memory_order_relaxed) >= config.max_pending) {
        listener->pending.fetch_sub(1, std::memory_order_relaxed);
        observe::log_limited(spdlog::level::warn, "proxy protocol pending",
                             fmt::format("{}: refusing connection: {} connections waiting for a "
                                         "PROXY header or a first byte is the limit",
                                         config.name, config.max_pending));
      } else {
        auto executor = socket.get_executor();
        asio::co_spawn(executor, admit_proxied(listener, std::move(socket), peer), asio::detached);
      }
      continue;
    }
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec == asio::error::connection_aborted) continue;  // the client left before accept
    auto wait = config.error_backoff;
    if (out_of_descriptors(ec)) {
      const auto shed = shed_waiting_connections(acceptor.native_handle());
      observe::process_counters().connections_shed.fetch_add(shed, std::memory_order_relaxed);
      observe::log_limited(spdlog::level::warn, "accept: out of descriptors",
                           fmt::format("{} accept: {}: closed {} waiting connection(s)",
                                       config.name, ec.message(), shed));
      wait = config.backoff;
    } else {
      observe::log_limited(spdlog::level::err, "accept: failed",
                           fmt::format("{} accept: {}", config.name, ec.message()));
    }
    pause.expires_after(wait);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

void start_accepting(asio::io_context& io, tcp::acceptor& acceptor, AcceptConfig config,
                     ConnectionHandler on_connection) {
  {
    std::lock_guard lock(reserve_mutex);
    if (reserve_fd < 0) reserve_fd = open_reserve();
  }
  auto listener = std::make_shared<Listener>();
  listener->config = std::move(config);
  listener->on_connection = std::move(on_connection);
  asio::co_spawn(acceptor.get_executor(), accept_loop(io, acceptor, std::move(listener)),
                 asio::detached);
}

std::uint64_t raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace sluice::net
