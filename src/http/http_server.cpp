#include "http/http_server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include "http/framing.h"
#include "http/routes.h"
#include "net/accept.h"
#include "observe/log.h"
#include "observe/metrics.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// Completion condition for writes: as much per write(2) as the socket takes. Asio's default
// (transfer_all) hands the kernel at most 64 KiB per call, 32 calls for a 2 MiB segment.
constexpr auto kWhole = [](const boost::system::error_code& ec, std::size_t) -> std::size_t {
  return ec ? 0 : std::numeric_limits<std::size_t>::max();
};
// Bodies up to this size go out with their header even when `header_first` asks otherwise.
constexpr std::size_t kHeaderFirstBody = 64 * 1024;

constexpr std::string_view kExposedHeaders = "Content-Length, Content-Range, Content-Type, Date";
// Browsers must not guess a type other than the one given (a playlist run as a script).
constexpr HeaderField kNoSniff{"X-Content-Type-Options", "nosniff"};

RequestHead request_head(const bhttp::request_header<>& req) {
  RequestHead head;
  head.version = req.version();
  for (const auto& field : req) {
    const auto value = std::string_view(field.value().data(), field.value().size());
    switch (field.name()) {
      case bhttp::field::host:
        head.host.push_back(value);
        break;
      case bhttp::field::transfer_encoding:
        head.transfer_encoding.push_back(value);
        break;
      case bhttp::field::content_length:
        head.content_length = true;
        break;
      case bhttp::field::expect:
        head.expect.push_back(value);
        break;
      default:
        break;
    }
  }
  return head;
}

// Sends `length` bytes of `file` from `offset` with sendfile(2), waiting for the socket to
// drain between calls; a client that takes nothing for 60 s is given up.
asio::awaitable<boost::system::error_code> send_file(beast::tcp_stream& stream,
                                                     const FileBody& file, std::uint64_t offset,
                                                     std::uint64_t length) {
  auto& socket = stream.socket();
  boost::system::error_code ec;
  socket.native_non_blocking(true, ec);
  if (ec) co_return ec;
  asio::steady_timer stall(socket.get_executor());
  while (length > 0) {
    auto from = static_cast<off_t>(offset);
    const ssize_t sent = ::sendfile(socket.native_handle(), file.fd(), &from,
                                    std::min<std::uint64_t>(length, 1u << 20));
    if (sent > 0) {
      offset += static_cast<std::uint64_t>(sent);
      length -= static_cast<std::uint64_t>(sent);
      continue;
    }
    if (sent == 0) co_return asio::error::make_error_code(asio::error::eof);  // file shrank
    if (errno == EINTR) continue;
    if (errno != EAGAIN)
      co_return boost::system::error_code(errno, boost::system::system_category());
    stall.expires_after(std::chrono::seconds(60));
    const auto woke = co_await (socket.async_wait(tcp::socket::wait_write, kUseTuple) ||
                                stall.async_wait(kUseTuple));
    if (woke.index() == 1) co_return asio::error::make_error_code(asio::error::timed_out);
    if (const auto [wait_error] = std::get<0>(woke); wait_error) co_return wait_error;
  }
  co_return boost::system::error_code{};
}

}  // namespace

std::shared_ptr<const FileBody> FileBody::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return nullptr;
  }
  return std::shared_ptr<const FileBody>(new FileBody(fd, static_cast<std::uint64_t>(st.st_size)));
}

FileBody::~FileBody() {
  ::close(fd_);
}

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint,
                       const HttpConfig& config, HttpCounters& counters, HttpHandler handler)
    : io_(io),
      acceptor_(io, endpoint),
      config_(config),
      counters_(counters),
      handler_(std::move(handler)) {}

tcp::endpoint HttpServer::local_endpoint() const {
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  net::AcceptConfig accept;
  accept.name = "http";
  accept.proxy_from = config_.proxy_from;
  accept.proxy_timeout = config_.read_timeout;
  accept.max_pending = config_.max_connections;
  net::start_accepting(io_, acceptor_, std::move(accept),
                       [this](tcp::socket socket, tcp::endpoint client) {
                         on_connection(std::move(socket), client);
                       });
}

void HttpServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> HttpServer::serve_connection(tcp::socket socket, std::string remote) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // Answers a request that will not be served and ends the connection.
  const auto refuse = [&](int status, std::string_view reason) -> asio::awaitable<void> {
    observe::log_limited(
        spdlog::level::info, "http refused request",
        fmt::format("http: refused a request from {}: {} ({})", remote, reason, status));
    const std::string body = fmt::format("{}\n", reason);
    const HeaderField fields[] = {{"Content-Type", "text/plain"}, kNoSniff};
    const std::string answer = response_head(status, 11, false, fields, body.size()).append(body);
    stream.expires_after(std::chrono::seconds(5));
    co_await asio::async_write(stream, asio::buffer(answer), kUseTuple);
  };
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config_.header_limit));
    parser.body_limit(16 * 1024);
    stream.expires_after(config_.read_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec) {
      const RequestHead head = request_head(parser.get());
      if (const auto refusal = refuse_request(head)) {
        co_await refuse(refusal->status, refusal->reason);
        break;
      }
      if (!parser.is_done()) {
        if (expects_continue(head)) {
          constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
        }
        if (!ec) std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
      }
    }
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        co_await refuse(413, "request body too large");
      } else if (ec == bhttp::error::header_limit) {
        co_await refuse(431, "request header too large");
      } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
                 ec != asio::error::connection_reset && ec != beast::error::timeout) {
        co_await refuse(400, ec.message());
      }
      break;
    }
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    const auto& req = parser.get();
    const bool keep_alive = req.keep_alive();

    int status = 200;
    std::vector<HeaderField> fields{{"Server", "sluice"},
                                    kNoSniff,
                                    {"Access-Control-Allow-Origin", "*"},
                                    {"Access-Control-Expose-Headers", kExposedHeaders}};
    std::optional<std::uint64_t> content_length;
    std::string content_range;
    std::string_view body;                          // points into reply.bytes or reply.text
    std::uint64_t file_first = 0, file_length = 0;  // the part of reply.file to send
    HttpReply reply;
    if (req.method() == bhttp::verb::options) {
      status = 204;
      fields.insert(fields.end(), {{"Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"},
                                   {"Access-Control-Allow-Headers",
                                    "Range, Origin, Accept, Content-Type, Cache-Control"},
                                   {"Access-Control-Max-Age", "86400"}});
    } else if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head &&
               !(config_.writes &&
                 (req.method() == bhttp::verb::post || req.method() == bhttp::verb::delete_))) {
      status = 405;
      fields.emplace_back("Allow", "GET, HEAD, OPTIONS");
      content_length = 0;
    } else {
      const auto range_it = req.find(bhttp::field::range);
      const std::string_view range = range_it == req.end() ? "" : range_it->value();
      const auto auth_it = req.find(bhttp::field::authorization);
      const std::string_view authorization = auth_it == req.end() ? "" : auth_it->value();
      const std::string_view method = req.method() == bhttp::verb::post      ? "POST"
                                      : req.method() == bhttp::verb::delete_ ? "DELETE"
                                                                             : "GET";
      const auto cookie_it = req.find(bhttp::field::cookie);
      const std::string_view cookie = cookie_it == req.end() ? "" : cookie_it->value();
      reply = co_await handler_(
          HttpRequest{req.target(), range, method, authorization, remote, cookie});
      status = reply.status;
      if (reply.status == 404) counters_.not_found.fetch_add(1, std::memory_order_relaxed);
      fields.emplace_back("Cache-Control", reply.cache_control);
      fields.emplace_back("Content-Type", reply.content_type);
      for (const auto& [name, value] : reply.headers)
        fields.emplace_back(name, value);
      if (reply.accept_ranges) fields.emplace_back("Accept-Ranges", "bytes");
      if (reply.bytes || reply.file) {
        const std::uint64_t size = reply.bytes ? reply.bytes->size() : reply.file->size();
        std::uint64_t first = 0, last = size - 1;
        if (reply.accept_ranges && !range.empty()) {
          if (auto r = parse_range(range, size)) {
            status = 206;
            first = r->first;
            last = r->last;
            content_range = fmt::format("bytes {}-{}/{}", first, last, size);
          } else {
            status = 416;
            content_range = fmt::format("bytes */{}", size);
            first = 1, last = 0;  // empty body
          }
          fields.emplace_back("Content-Range", content_range);
        }
        if (last + 1 > first && reply.bytes) {
          body = std::string_view(reinterpret_cast<const char*>(reply.bytes->data()) + first,
                                  last - first + 1);
        } else if (last + 1 > first) {
          file_first = first;
          file_length = last - first + 1;
        }
      } else {
        body = reply.text;
      }
      content_length = body.size() + file_length;
    }
    const std::string head =
        response_head(status, req.version(), keep_alive, fields, content_length);
    if (req.method() == bhttp::verb::head) body = {}, file_length = 0;

    // Header and body leave in one gathered write (the body is not copied), unless the reply
    // asks for its header to go first.
    stream.expires_after(std::chrono::seconds(60));
    boost::system::error_code werr;
    if (file_length > 0) {
      std::tie(werr, std::ignore) =
          co_await asio::async_write(stream, asio::buffer(head), kWhole, kUseTuple);
      if (!werr) werr = co_await send_file(stream, *reply.file, file_first, file_length);
    } else if (reply.header_first && body.size() > kHeaderFirstBody) {
      std::tie(werr, std::ignore) =
          co_await asio::async_write(stream, asio::buffer(head), kWhole, kUseTuple);
      if (!werr)
        std::tie(werr, std::ignore) =
            co_await asio::async_write(stream, asio::buffer(body), kWhole, kUseTuple);
    } else {
      const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
      std::tie(werr, std::ignore) = co_await asio::async_write(stream, buffers, kWhole, kUseTuple);
    }
    if (!werr) counters_.bytes_out.fetch_add(body.size() + file_length, std::memory_order_relaxed);
    if (werr) break;
    if (!keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void HttpServer::on_connection(tcp::socket socket, tcp::endpoint client) {
  if (counters_.connections_active.load() >= static_cast<std::int64_t>(config_.max_connections)) {
    observe::log_limited(spdlog::level::warn, "http connection limit",
                         fmt::format("http: refusing connection: {} connections is the limit",
                                     config_.max_connections));
    return;  // the socket closes as it goes out of scope
  }
  counters_.connections_active.fetch_add(1, std::memory_order_relaxed);
  // Small answers (playlists) must not wait for the client's delayed ACK.
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto executor = socket.get_executor();
  asio::co_spawn(executor, serve_connection(std::move(socket), client.address().to_string()),
                 [&counters = counters_](std::exception_ptr e) {
                   counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("http: connection failed: {}", ex.what());
                   }
                 });
}

void append_http_metrics(std::string& out, const HttpCounters& h) {
  observe::append_metric(out, "sluice_http_requests_total", "counter", "HTTP requests.",
                         h.requests.load());
  observe::append_metric(out, "sluice_http_not_found_total", "counter", "HTTP 404 answers.",
                         h.not_found.load());
  observe::append_metric(out, "sluice_http_bytes_out_total", "counter", "HTTP body bytes sent.",
                         h.bytes_out.load());
  observe::append_metric(out, "sluice_http_connections_active", "gauge", "Open HTTP connections.",
                         h.connections_active.load());
}

}  // namespace sluice::http
