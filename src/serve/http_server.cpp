#include "serve/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "serve/routes.h"

namespace sluice::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// An answer: headers plus a body that is either owned text or a shared immutable segment.
struct Reply {
  http::status status = http::status::ok;
  RouteKind kind = RouteKind::kNotFound;
  std::string text;
  media::SharedBytes bytes;  // set for segments (zero-copy)
  std::optional<ByteRange> range;
  std::uint64_t full_size = 0;
};

void add_cors(http::response_header<>& h) {
  h.set(http::field::access_control_allow_origin, "*");
  h.set(http::field::access_control_expose_headers,
        "Content-Length, Content-Range, Content-Type, Date");
}

std::string metrics_text(const ServeContext& ctx) {
  const auto& r = ctx.rtmp_counters;
  const auto& h = ctx.counters;
  std::string out;
  const auto add = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  add("sluice_rtmp_connections_total", "counter", "RTMP connections accepted.",
      r.connections_total.load());
  add("sluice_rtmp_connections_active", "gauge", "Open RTMP connections.",
      r.connections_active.load());
  add("sluice_rtmp_connections_refused_total", "counter", "RTMP connections over the limit.",
      r.connections_refused.load());
  add("sluice_rtmp_protocol_errors_total", "counter", "RTMP sessions closed on bad input.",
      r.protocol_errors.load());
  add("sluice_publishes_total", "counter", "Publish sessions started.", r.publishes_total.load());
  add("sluice_publishes_rejected_total", "counter", "Publish attempts refused.",
      r.publishes_rejected.load());
  add("sluice_rtmp_players_active", "gauge", "RTMP players.", r.players_active.load());
  add("sluice_rtmp_player_drops_total", "counter", "Media messages dropped for slow players.",
      r.player_drops.load());
  add("sluice_rtmp_bytes_in_total", "counter", "RTMP bytes received.", r.bytes_in.load());
  add("sluice_rtmp_bytes_out_total", "counter", "RTMP bytes sent (closed sessions).",
      r.bytes_out.load());
  add("sluice_streams_live", "gauge", "Live streams on this node.", ctx.hub.size());
  add("sluice_transcode_capacity", "gauge", "Streams this node can transcode at once.",
      ctx.transcoder.capacity());
  add("sluice_transcode_active", "gauge", "Streams being transcoded.", ctx.transcoder.active());
  add("sluice_transcode_refused_total", "counter",
      "Publishes served as source only because transcoding capacity was full.",
      ctx.transcoder.refused());
  std::uint64_t shed = 0, dropped = 0, input_dropped = 0;
  for (const auto& t : ctx.transcoder.stats()) {
    shed += t.rungs_shed;
    dropped += t.frames_dropped;
    input_dropped += t.input_dropped;
  }
  add("sluice_transcode_rungs_shed", "gauge", "Rungs shed under overload (live streams).", shed);
  add("sluice_transcode_frames_dropped", "gauge", "Pictures dropped under overload (live streams).",
      dropped);
  add("sluice_transcode_input_dropped", "gauge",
      "Input packets dropped because transcoding lagged (live streams).", input_dropped);
  add("sluice_http_requests_total", "counter", "HTTP requests.", h.requests.load());
  add("sluice_http_not_found_total", "counter", "HTTP 404 answers.", h.not_found.load());
  add("sluice_http_bytes_out_total", "counter", "HTTP body bytes sent.", h.bytes_out.load());
  add("sluice_http_connections_active", "gauge", "Open HTTP connections.",
      h.connections_active.load());
  return out;
}

std::string streams_json(const ServeContext& ctx) {
  auto list = nlohmann::json::array();
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, nlohmann::json> transcodes;
  for (const auto& t : ctx.transcoder.stats()) {
    auto rungs = nlohmann::json::array();
    for (const auto& r : t.rungs) {
      rungs.push_back({{"name", r.name},
                       {"width", r.width},
                       {"height", r.height},
                       {"passthrough", r.passthrough},
                       {"shed", r.shed},
                       {"frames_out", r.frames_out}});
    }
    transcodes[t.playback_id] = {
        {"rungs", rungs},
        {"frames_decoded", t.frames_decoded},
        {"frames_dropped", t.frames_dropped},
        {"input_dropped", t.input_dropped},
        {"rungs_shed", t.rungs_shed},
        {"speed", t.wall_seconds > 0 ? t.media_seconds / t.wall_seconds : 0.0}};
  }
  for (const auto& s : ctx.hub.list()) {
    const double uptime = std::chrono::duration<double>(now - s.started).count();
    list.push_back({{"playback_id", s.playback_id},
                    {"uptime_s", uptime},
                    {"bytes_in", s.bytes_in},
                    {"bitrate_kbps", uptime > 0 ? s.bytes_in * 8 / 1000.0 / uptime : 0.0},
                    {"video_frames", s.video_frames},
                    {"audio_frames", s.audio_frames},
                    {"fps", uptime > 0 ? s.video_frames / uptime : 0.0},
                    {"rtmp_players", s.subscribers},
                    {"master", "/" + s.playback_id + "/live.m3u8"}});
    if (auto t = transcodes.find(s.playback_id); t != transcodes.end()) {
      list.back()["transcode"] = t->second;
    }
  }
  return nlohmann::json{{"streams", list}}.dump(2);
}

Reply not_found(const std::string& playback_id) {
  // The reference's body, so scripts written against it keep working.
  Reply r;
  r.status = http::status::not_found;
  r.text = playback_id.empty() ? "not found\n" : playback_id + " is not streaming live now";
  return r;
}

Reply handle(const ServeContext& ctx, const http::request<http::string_body>& req) {
  const Route route = parse_route(req.target());
  Reply r;
  r.kind = route.kind;
  switch (route.kind) {
    case RouteKind::kHealth:
      r.text = "healthy\n";
      return r;
    case RouteKind::kMetrics:
      r.text = metrics_text(ctx);
      return r;
    case RouteKind::kStreams:
      r.text = streams_json(ctx);
      return r;
    case RouteKind::kIndex:
      r.text =
          "<!doctype html><title>Sluice</title><h1>Sluice</h1>"
          "<p>Live streams: <a href=\"/api/streams\">/api/streams</a>. "
          "Play <code>/&lt;playbackId&gt;/live.m3u8</code>.</p>\n";
      return r;
    case RouteKind::kMaster: {
      auto text = ctx.hls.master_playlist(route.playback_id);
      if (!text) return not_found(route.playback_id);
      r.text = std::move(*text);
      return r;
    }
    case RouteKind::kMediaPlaylist: {
      auto text = ctx.hls.media_playlist(route.playback_id, route.rendition);
      if (!text) return not_found(route.playback_id);
      r.text = std::move(*text);
      return r;
    }
    case RouteKind::kSegment: {
      auto seg = ctx.hls.segment(route.playback_id, route.rendition, route.sequence);
      if (!seg || !seg->data) return not_found(route.playback_id);
      r.bytes = seg->data;
      r.full_size = seg->data->size();
      if (auto range = req.find(http::field::range); range != req.end()) {
        r.range = parse_range(range->value(), r.full_size);
        r.status = r.range ? http::status::partial_content : http::status::range_not_satisfiable;
        if (!r.range) r.bytes = nullptr;
      }
      return r;
    }
    case RouteKind::kNotFound:
      return not_found("");
  }
  return not_found("");
}

asio::awaitable<void> serve_connection(beast::tcp_stream stream, ServeContext& ctx) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(ctx.config.header_limit));
    parser.body_limit(16 * 1024);
    stream.expires_after(ctx.config.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof &&
          ec != asio::error::connection_reset && ec != beast::error::timeout) {
        spdlog::info("http: bad request from client: {}", ec.message());
        // Answer malformed input with 400 before closing, as a well-behaved server does.
        http::response<http::string_body> bad{http::status::bad_request, 11};
        bad.set(http::field::content_type, "text/plain");
        bad.set(http::field::connection, "close");
        bad.body() = "bad request\n";
        bad.prepare_payload();
        stream.expires_after(std::chrono::seconds(5));
        co_await http::async_write(stream, bad, kUseTuple);
      }
      break;
    }
    ctx.counters.requests.fetch_add(1, std::memory_order_relaxed);
    const auto& req = parser.get();
    const bool keep_alive = req.keep_alive();

    http::response<http::empty_body> res;
    res.version(req.version());
    res.keep_alive(keep_alive);
    res.set(http::field::server, "sluice");
    add_cors(res.base());

    std::string_view body;  // points into hold_bytes or hold_text
    media::SharedBytes hold_bytes;
    std::string hold_text;
    if (req.method() == http::verb::options) {
      res.result(http::status::no_content);
      res.set(http::field::access_control_allow_methods, "GET, HEAD, OPTIONS");
      res.set(http::field::access_control_allow_headers,
              "Range, Origin, Accept, Content-Type, Cache-Control");
      res.set(http::field::access_control_max_age, "86400");
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD, OPTIONS");
      res.content_length(0);
    } else {
      Reply reply = handle(ctx, req);
      res.result(reply.status);
      if (reply.status == http::status::not_found) {
        ctx.counters.not_found.fetch_add(1, std::memory_order_relaxed);
        // A 404 must not be cached by a CDN: the stream may start any second.
        res.set(http::field::cache_control, "no-cache");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
      } else {
        res.set(http::field::cache_control, cache_control(reply.kind));
        res.set(http::field::content_type, content_type(reply.kind));
      }
      if (reply.kind == RouteKind::kSegment) res.set(http::field::accept_ranges, "bytes");
      if (reply.bytes) {
        const auto& data = *reply.bytes;
        std::uint64_t first = 0, last = data.size() - 1;
        if (reply.range) {
          first = reply.range->first;
          last = reply.range->last;
          res.set(http::field::content_range,
                  fmt::format("bytes {}-{}/{}", first, last, reply.full_size));
        }
        body =
            std::string_view(reinterpret_cast<const char*>(data.data()) + first, last - first + 1);
        hold_bytes = reply.bytes;
      } else if (reply.status == http::status::range_not_satisfiable) {
        res.set(http::field::content_range, fmt::format("bytes */{}", reply.full_size));
      } else {
        hold_text = std::move(reply.text);
        body = hold_text;
      }
      res.content_length(body.size());
      if (req.method() == http::verb::head) body = {};
    }

    stream.expires_after(std::chrono::seconds(60));
    http::response_serializer<http::empty_body> sr(res);
    auto [werr, wn] = co_await http::async_write_header(stream, sr, kUseTuple);
    if (werr) break;
    if (!body.empty()) {
      auto [berr, bn] = co_await asio::async_write(stream, asio::buffer(body), kUseTuple);
      if (berr) break;
      ctx.counters.bytes_out.fetch_add(bn, std::memory_order_relaxed);
    }
    if (!keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, ServeContext context)
    : io_(io), acceptor_(io, endpoint), context_(context) {}

tcp::endpoint HttpServer::local_endpoint() const {
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void HttpServer::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::error("http accept: {}", ec.message());
      continue;
    }
    auto& counters = context_.counters;
    if (counters.connections_active.load() >=
        static_cast<std::int64_t>(context_.config.max_connections)) {
      spdlog::warn("http: refusing connection: {} connections is the limit",
                   context_.config.max_connections);
      continue;
    }
    counters.connections_active.fetch_add(1, std::memory_order_relaxed);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(beast::tcp_stream(std::move(socket)), context_),
                   [&counters](std::exception_ptr e) {
                     counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("http: connection failed: {}", ex.what());
                     }
                   });
  }
}

}  // namespace sluice::serve
