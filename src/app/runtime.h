// What every role's main loop shares: logging, listen addresses, I/O threads and signals.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "media/result.h"

namespace sluice::app {

void setup_logging(const std::string& level);
Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& listen);
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);
int io_thread_count(int configured);

// Runs `io` on `threads` threads until SIGINT or SIGTERM, which call `on_stop` (close
// listeners, cancel timers) and then stop the loop. SIGHUP calls `on_reload`.
void run_until_signal(boost::asio::io_context& io, int threads,
                      const std::function<void()>& on_stop, const std::function<void()>& on_reload);

}  // namespace sluice::app
