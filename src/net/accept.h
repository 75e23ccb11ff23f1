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
#include <vector>

#include "proto/proxy/proxy_header.h"

namespace sluice::net {

struct AcceptConfig {
  std::string name;                             // "http", "rtmp", "proxy": for the log
  std::chrono::milliseconds backoff{100};       // after running out of descriptors
  std::chrono::milliseconds error_backoff{10};  // after any other failed accept
  // PROXY protocol: a connection from one of these networks (a balancer) must start with a
  // v1 or v2 header, whose source address then stands for the client; one from anywhere
  // else that starts with a header is refused. Empty: no header is read.
  std::vector<proxy_protocol::Network> proxy_from;
  std::chrono::milliseconds proxy_timeout{5'000};  // for the header, or a first byte
  std::size_t max_pending = 1024;                  // connections waiting for either
  proxy_protocol::Limits proxy_limits;
};

// A connection's client: its peer, or the source its PROXY header names.
using ConnectionHandler =
    std::function<void(boost::asio::ip::tcp::socket, boost::asio::ip::tcp::endpoint client)>;

// Accepts until `acceptor` is closed; each connection gets a strand of `io` and goes to
// `on_connection` (after its PROXY header, if the listener reads them), which checks the
// listener's own limits and starts the session.
void start_accepting(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
                     AcceptConfig config, ConnectionHandler on_connection);

// Raises the soft limit on open descriptors to the hard limit, as servers do at start;
// returns the limit now in force.
std::uint64_t raise_descriptor_limit();

}  // namespace sluice::net
