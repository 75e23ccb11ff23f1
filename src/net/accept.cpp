#include "net/accept.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <mutex>

#include "observe/log.h"
#include "observe/metrics.h"

namespace sluice::net {

namespace asio = boost::asio;
using asio::ip::tcp;

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

asio::awaitable<void> accept_loop(asio::io_context& io, tcp::acceptor& acceptor,
                                  AcceptConfig config, ConnectionHandler on_connection) {
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(asio::use_awaitable));
    if (!ec) {
      on_connection(std::move(socket));
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
  asio::co_spawn(acceptor.get_executor(),
                 accept_loop(io, acceptor, std::move(config), std::move(on_connection)),
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
