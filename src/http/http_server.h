// An HTTP/1.1 server (Boost.Beast, one coroutine and one strand per connection, keep-alive,
// bounded headers, timed reads) that hands each GET/HEAD (and, for the admin API, POST and
// DELETE) to a handler. It answers OPTIONS
// (CORS preflight), other methods, malformed requests, HEAD and Range itself, and puts CORS
// on every answer; `sluice serve` and `sluice origin` differ only in their handlers.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "media/packet.h"
#include "proto/proxy/proxy_header.h"

namespace sluice::http {

struct HttpConfig {
  std::chrono::milliseconds read_timeout{30'000};  // per request, headers included
  std::size_t header_limit = 8 * 1024;
  std::size_t max_connections = 10'000;
  // POST and DELETE reach the handler too (the admin listener); otherwise they get 405.
  bool writes = false;
  // Balancers whose connections start with a PROXY protocol header (net::AcceptConfig).
  std::vector<proxy_protocol::Network> proxy_from;
};

struct HttpCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> not_found{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::int64_t> connections_active{0};
};

struct HttpRequest {
  std::string_view target;          // as sent, query included
  std::string_view range;           // the Range header, empty if none
  std::string_view method = "GET";  // GET (also for HEAD), or POST/DELETE with `writes`
  std::string_view authorization;   // the Authorization header, empty if none
  std::string_view remote;          // the client's IP address
  std::string_view cookie;          // the Cookie header, empty if none
};

// A body sent from an open file with sendfile(2): the server holds no copy of it, however
// many readers there are and however slowly they read.
class FileBody {
 public:
  // nullptr if the file cannot be opened or is not a regular file.
  static std::shared_ptr<const FileBody> open(const std::filesystem::path& path);
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  ~FileBody();
  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }

 private:
  FileBody(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  std::uint64_t size_;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string cache_control = "no-cache";
  std::string text;                      // the body, unless `bytes` is set
  media::SharedBytes bytes;              // an immutable shared body (segments), sent without a copy
  std::shared_ptr<const FileBody> file;  // or a body on disk (recordings)
  bool accept_ranges = false;
  // Send the header in a write of its own before a large body. For answers that waited on a
  // shared upstream fetch: all the waiters then learn at once that their answer has come,
  // instead of each waiting for the bodies written before its own. Hits do not set it (one
  // write per answer is cheaper).
  bool header_first = false;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

using HttpHandler = std::function<boost::asio::awaitable<HttpReply>(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             const HttpConfig& config, HttpCounters& counters, HttpHandler handler);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

 private:
  void on_connection(boost::asio::ip::tcp::socket socket, boost::asio::ip::tcp::endpoint client);
  boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket,
                                                std::string remote);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  const HttpConfig& config_;
  HttpCounters& counters_;
  HttpHandler handler_;
};

// The HTTP server's counters (sluice_http_*), for every role that serves HTTP.
void append_http_metrics(std::string& out, const HttpCounters& counters);

}  // namespace sluice::http
