#include "admission/auth.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <sstream>

#include "admission/stream_key.h"

namespace sluice::admission {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<PublishDecision> OpenAuthorizer::authorize(const PublishRequest&) {
  co_return PublishDecision{true, "open", std::nullopt};
}

Result<std::unique_ptr<KeyFileAuthorizer>> KeyFileAuthorizer::open(std::filesystem::path path) {
  std::unique_ptr<KeyFileAuthorizer> auth(new KeyFileAuthorizer(std::move(path)));
  if (auto st = auth->load(); !st) return st.error();
  return auth;
}

Status KeyFileAuthorizer::load() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  std::ifstream in(path_);
  if (ec || !in) return make_error(Errc::kIo, "auth: cannot read key file " + path_.string());
  std::unordered_map<std::string, std::string> keys;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream fields(line);
    std::string key, playback_id;
    fields >> key >> playback_id;
    if (key.empty() || key[0] == '#') continue;
    if (!valid_stream_name(key) || (!playback_id.empty() && !valid_stream_name(playback_id))) {
      return make_error(Errc::kMalformed, "auth: key file " + path_.string() + " line " +
                                              std::to_string(line_no) +
                                              ": keys and playback IDs are 1-128 of [A-Za-z0-9_-]");
    }
    keys[key] = playback_id;
  }
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  mtime_ = mtime;
  return Ok{};
}

void KeyFileAuthorizer::reload() {
  (void)load();
}

void KeyFileAuthorizer::reload_if_changed() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (ec) return;  // keep the last good keys while the file is being replaced
  {
    std::lock_guard lock(mutex_);
    if (mtime == mtime_) return;
  }
  (void)load();
}

asio::awaitable<PublishDecision> KeyFileAuthorizer::authorize(const PublishRequest& request) {
  reload_if_changed();
  std::lock_guard lock(mutex_);
  auto it = keys_.find(request.key);
  if (it == keys_.end()) co_return PublishDecision{false, "unknown stream key", std::nullopt};
  PublishDecision d{true, "key file", std::nullopt};
  if (!it->second.empty()) d.playback_id = it->second;
  co_return d;
}

Result<std::unique_ptr<WebhookAuthorizer>> WebhookAuthorizer::create(
    const std::string& url, std::chrono::milliseconds timeout) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
    return make_error(Errc::kMalformed,
                      "auth: webhook URL must be http://host[:port]/path, got '" + url + "'");
  }
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());
  return std::unique_ptr<WebhookAuthorizer>(
      new WebhookAuthorizer(url, std::string(parsed->host()), port, target, timeout));
}

namespace {
std::string form_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// nginx-rtmp takes the new name from a Location that is not an rtmp:// URL: the whole value,
// or (for a path or URL) its last path segment.
std::string renamed_stream(std::string_view location) {
  auto end = location.find_first_of("?#");
  location = location.substr(0, end);
  while (!location.empty() && location.back() == '/')
    location.remove_suffix(1);
  const auto slash = location.rfind('/');
  return std::string(slash == std::string_view::npos ? location : location.substr(slash + 1));
}
}  // namespace

asio::awaitable<PublishDecision> WebhookAuthorizer::authorize(const PublishRequest& request) {
  std::string body =
      "call=publish&app=" + form_escape(request.app) + "&name=" + form_escape(request.key) +
      "&type=live&addr=" + form_escape(request.addr) +
      "&clientid=" + std::to_string(request.client_id) + "&tcurl=" + form_escape(request.tc_url) +
      "&flashver=" + form_escape(request.flash_ver);
  for (const auto& [k, v] : parse_query(request.query)) {
    body += "&" + form_escape(k) + "=" + form_escape(v);
  }

  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  beast::tcp_stream stream(executor);
  const auto deny = [](std::string why) {
    return PublishDecision{false, "webhook: " + why, std::nullopt};
  };

  stream.expires_after(timeout_);
  auto [rerr, endpoints] =
      co_await resolver.async_resolve(host_, port_, asio::as_tuple(asio::use_awaitable));
  if (rerr) co_return deny("resolve " + host_ + ": " + rerr.message());
  auto [cerr, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (cerr) co_return deny("connect: " + cerr.message());

  http::request<http::string_body> req{http::verb::post, target_, 11};
  req.set(http::field::host, host_);
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::user_agent, "sluice");
  req.body() = std::move(body);
  req.prepare_payload();
  auto [werr, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (werr) co_return deny("send: " + werr.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [herr, hn] =
      co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (herr) {
    co_return deny(herr == beast::error::timeout ? "timed out" : "read: " + herr.message());
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);

  const auto& res = parser.get();
  const unsigned status = res.result_int();
  if (status >= 200 && status < 300) {
    PublishDecision d{true, "webhook " + std::to_string(status), std::nullopt};
    if (auto id = res.find("X-Playback-Id"); id != res.end())
      d.playback_id = std::string(id->value());
    co_return d;
  }
  if (status >= 300 && status < 400) {
    auto loc = res.find(http::field::location);
    if (loc == res.end()) co_return deny("redirect without Location");
    std::string name = renamed_stream(loc->value());
    co_return PublishDecision{true, "webhook renamed the stream", std::move(name)};
  }
  co_return deny("answered " + std::to_string(status));
}

Result<std::unique_ptr<PublishAuthorizer>> make_authorizer(const std::string& spec,
                                                           std::chrono::milliseconds timeout) {
  if (spec == "open") return std::unique_ptr<PublishAuthorizer>(new OpenAuthorizer);
  if (spec.starts_with("file:")) {
    auto a = KeyFileAuthorizer::open(spec.substr(5));
    if (!a) return a.error();
    return std::unique_ptr<PublishAuthorizer>(std::move(a).value());
  }
  if (spec.starts_with("webhook:")) {
    auto a = WebhookAuthorizer::create(spec.substr(8), timeout);
    if (!a) return a.error();
    return std::unique_ptr<PublishAuthorizer>(std::move(a).value());
  }
  return make_error(Errc::kMalformed,
                    "auth must be open, file:PATH or webhook:URL, got '" + spec + "'");
}

}  // namespace sluice::admission
