// SRT sockets (libsrt) for the threads that serve them: the process-wide library, a listener
// whose callers each get a thread, and a caller's connection. libsrt is blocking per socket,
// so each caller has a thread of its own: their number is bounded, the threads of ended
// callers are joined as new ones come, and stop() closes and joins every one. Used by the
// server's SRT ingest and by the proxy's SRT front door.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "media/result.h"

namespace sluice::net {

// libsrt's process-wide start and end (srt_startup/srt_cleanup), held while any socket lives.
class SrtLibrary {
 public:
  SrtLibrary();
  ~SrtLibrary();
  SrtLibrary(const SrtLibrary&) = delete;
  SrtLibrary& operator=(const SrtLibrary&) = delete;
};

struct SrtOptions {
  std::string passphrase;                  // empty: no encryption; else 10 to 79 characters
  std::chrono::milliseconds latency{120};  // SRTO_LATENCY, both directions
  std::chrono::milliseconds receive_timeout{30'000};  // a blocking read without data returns
};

// One SRT socket. close() may come from another thread (a stopping listener): a read blocked
// on the socket then returns.
class SrtSocket {
 public:
  explicit SrtSocket(int handle) : handle_(handle) {}
  ~SrtSocket() { close(); }
  SrtSocket(const SrtSocket&) = delete;
  SrtSocket& operator=(const SrtSocket&) = delete;

  int handle() const;  // an SRTSOCKET, or -1 once closed
  void close();
  std::string peer_address() const;  // the peer's IP address, as text
  std::string stream_id() const;     // what the caller asked for in its handshake

 private:
  mutable std::mutex mutex_;
  int handle_;
};

// The text of libsrt's last error on this thread.
std::string srt_last_error();

// Connects to `address` (HOST:PORT, numeric) in live mode, as a caller asking for
// `stream_id`, within `timeout`. The error says what failed.
Result<std::unique_ptr<SrtSocket>> srt_connect(const std::string& address,
                                               const std::string& stream_id,
                                               const SrtOptions& options,
                                               std::chrono::milliseconds timeout);

struct SrtConnectionCounters {
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};  // by the listener's limit, or its owner
};

class SrtListener {
 public:
  // Serves one caller on its own thread, until the caller ends or `stopping` turns true. The
  // socket is closed after it returns.
  using Handler =
      std::function<void(SrtSocket& caller, std::uint64_t id, const std::atomic<bool>& stopping)>;

  // `name` is for the log ("srt", "proxy srt").
  SrtListener(std::string name, std::string listen, SrtOptions options, std::size_t max_connections,
              SrtConnectionCounters& counters, Handler handler);
  ~SrtListener();

  // Binds and starts accepting. An error names what libsrt refused.
  Status start();
  // Closes the listener and every connection, and joins their threads.
  void stop();
  std::uint16_t local_port() const { return port_; }

 private:
  struct Connection;
  void accept_loop();

  const std::string name_, listen_;
  const SrtOptions options_;
  const std::size_t max_connections_;
  SrtConnectionCounters& counters_;
  const Handler handler_;
  int listener_ = -1;  // SRTSOCKET
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;  // guards connections_
  std::list<std::unique_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
};

// Runs `task` on `io` and waits for its result on this (SRT) thread: how a caller's thread
// takes a step that runs on the I/O threads (an admission that may call a webhook). nullopt
// if `stopping` turns true first: the task may then run on, so it must own what it reads (a
// coroutine that takes its arguments by value).
template <typename T>
std::optional<T> run_and_wait(boost::asio::io_context& io, boost::asio::awaitable<T> task,
                              const std::atomic<bool>& stopping) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  boost::asio::co_spawn(io, std::move(task), [promise](std::exception_ptr e, T value) {
    if (e) {
      promise->set_exception(e);
    } else {
      promise->set_value(std::move(value));
    }
  });
  while (future.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    if (stopping) return std::nullopt;
  }
  return future.get();
}

}  // namespace sluice::net
