// The accept loop of every TCP listener (RTMP, HTTP, the proxy). Out of file descriptors,
// accept(2) fails at once for as long as a connection waits in the backlog: a plain retry
// loop spins a core and writes a log line per try. This one keeps a reserve descriptor:
// it frees it, accepts and closes each waiting connection (the client sees the connection
// closed rather than hanging), takes the reserve back, counts the shed connections, and
// waits a little before accepting again. Sessions already open are not touched.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace sluice::net {

struct AcceptConfig {
  std::string name;                             // "http", "rtmp", "proxy": for the log
  std::chrono::milliseconds backoff{100};       // after running out of descriptors
  std::chrono::milliseconds error_backoff{10};  // after any other failed accept
};

using ConnectionHandler = std::function<void(boost::asio::ip::tcp::socket)>;

// Accepts until `acceptor` is closed; each connection gets a strand of `io` and goes to
// `on_connection`, which checks the listener's own limits and starts the session.
void start_accepting(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
                     AcceptConfig config, ConnectionHandler on_connection);

// Raises the soft limit on open descriptors to the hard limit, as servers do at start;
// returns the limit now in force.
std::uint64_t raise_descriptor_limit();

}  // namespace sluice::net
