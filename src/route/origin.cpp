#include "route/origin.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "http/routes.h"
#include "http/viewers.h"
#include "http/web_assets.h"
#include "observe/metrics.h"
#include "route/fleet_api.h"

namespace sluice::route {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using http::HttpReply;
using http::RouteKind;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// The outcome of one upstream fetch: an object to cache and serve, or a failure (object null)
// that waiters answer with stale content or an error status.
struct FetchResult {
  CachedPtr object;
  int error_status = 502;
  std::string error;
};

// Waiters of one upstream fetch. Each waits on a timer of its own executor (its connection's
// strand); completion cancels every timer, so all are answered at once, without polling.
class Flight {
 public:
  asio::awaitable<FetchResult> wait(Clock::duration limit) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, limit);
    if (auto done = add(timer)) co_return *done;
    co_await timer->async_wait(kUseTuple);
    if (auto done = result()) co_return *done;
    FetchResult late;  // the fetch outlived its own timeout: should not happen
    late.error_status = 504;
    late.error = "upstream timed out\n";
    co_return late;
  }
  void complete(FetchResult result) {
    std::vector<std::shared_ptr<asio::steady_timer>> timers;
    {
      std::lock_guard lock(mutex_);
      result_ = std::move(result);
      timers.swap(timers_);
    }
    for (auto& t : timers)
      asio::post(t->get_executor(), [t] { t->cancel(); });
  }

 private:
  std::optional<FetchResult> add(std::shared_ptr<asio::steady_timer> timer) {
    std::lock_guard lock(mutex_);
    if (!result_) timers_.push_back(std::move(timer));
    return result_;
  }
  std::optional<FetchResult> result() {
    std::lock_guard lock(mutex_);
    return result_;
  }
  std::mutex mutex_;  // guards result_ and timers_
  std::optional<FetchResult> result_;
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
};

using StreamPtr = std::unique_ptr<beast::tcp_stream>;

struct UpstreamResponse {
  int status = 0;
  std::string content_type;
  media::SharedBytes body;
};

}  // namespace

struct Origin::Impl {
  asio::io_context& io;
  const OriginConfig& config;
  const registry::Registry& registry;
  const http::HttpCounters& http_counters;
  ObjectCache cache;
  OriginCounters counters;
  observe::Histogram upstream_latency{
      std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  // The servers see one client, the origin; so the origin counts its own viewers for
  // /api/streams.
  http::ViewerCounter viewers;

  std::mutex flights_mutex;  // guards flights
  std::map<std::string, std::shared_ptr<Flight>> flights;

  std::mutex pool_mutex;  // guards idle
  std::map<std::string, std::vector<StreamPtr>> idle;

  Impl(asio::io_context& i, const OriginConfig& c, const registry::Registry& r,
       const http::HttpCounters& h)
      : io(i), config(c), registry(r), http_counters(h), cache(c.cache_bytes) {}

  Clock::duration freshness(RouteKind kind, int status) const {
    if (status != 200) return seconds(config.not_found_fresh_s);
    switch (kind) {
      case RouteKind::kMaster:
        return seconds(config.master_fresh_s);
      case RouteKind::kMediaPlaylist:
      case RouteKind::kRecordingPlaylist:  // grows while the stream is live
        return seconds(config.playlist_fresh_s);
      default:
        return seconds(config.segment_fresh_s);
    }
  }

  StreamPtr take_idle(const std::string& address) {
    std::lock_guard lock(pool_mutex);
    auto it = idle.find(address);
    if (it == idle.end() || it->second.empty()) return nullptr;
    StreamPtr s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void give_back(const std::string& address, StreamPtr s) {
    std::lock_guard lock(pool_mutex);
    auto& list = idle[address];
    if (list.size() < config.idle_connections_per_server) list.push_back(std::move(s));
  }

  asio::awaitable<StreamPtr> connect(const std::string& address, std::string& error) {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
      error = "bad upstream address " + address;
      co_return nullptr;
    }
    tcp::resolver resolver(io);
    auto [rerr, results] = co_await resolver.async_resolve(address.substr(0, colon),
                                                           address.substr(colon + 1), kUseTuple);
    if (rerr) {
      error = "resolve " + address + ": " + rerr.message();
      co_return nullptr;
    }
    auto stream = std::make_unique<beast::tcp_stream>(io);
    stream->expires_after(config.upstream_timeout);
    auto [cerr, ep] = co_await stream->async_connect(results, kUseTuple);
    if (cerr) {
      error = (cerr == beast::error::timeout ? "timeout: connect " : "connect ") + address + ": " +
              cerr.message();
      co_return nullptr;
    }
    boost::system::error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    co_return stream;
  }

  // One GET on a pooled connection; a reused connection that the server had closed is retried
  // once on a fresh one.
  asio::awaitable<std::optional<UpstreamResponse>> get(const std::string& address,
                                                       const std::string& target,
                                                       std::string& error) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      StreamPtr stream = attempt == 0 ? take_idle(address) : nullptr;
      const bool was_reused = stream != nullptr;
      if (!stream) {
        stream = co_await connect(address, error);
        if (!stream) co_return std::nullopt;
      }
      bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
      req.set(bhttp::field::host, address);
      req.set(bhttp::field::user_agent, "sluice-origin");
      stream->expires_after(config.upstream_timeout);
      auto [werr, wn] = co_await bhttp::async_write(*stream, req, kUseTuple);
      // Room for large reads: an empty buffer makes Beast read a segment 512 bytes at a time.
      beast::flat_buffer buffer;
      buffer.reserve(256 * 1024);
      bhttp::response_parser<bhttp::vector_body<std::uint8_t>> parser;
      parser.body_limit(config.max_object_bytes);
      parser.header_limit(64 * 1024);
      boost::system::error_code rerr = werr;
      if (!werr) {
        auto [e, n] = co_await bhttp::async_read(*stream, buffer, parser, kUseTuple);
        rerr = e;
      }
      if (rerr) {
        // A pooled connection may have been closed by the server while idle.
        if (was_reused &&
            (rerr == bhttp::error::end_of_stream || rerr == asio::error::eof ||
             rerr == asio::error::connection_reset || rerr == asio::error::broken_pipe)) {
          continue;
        }
        error = (rerr == beast::error::timeout ? "timeout: GET " : "GET ") + address + target +
                ": " + rerr.message();
        co_return std::nullopt;
      }
      auto& res = parser.get();
      UpstreamResponse out;
      out.status = res.result_int();
      out.content_type = std::string(res[bhttp::field::content_type]);
      out.body = std::make_shared<const std::vector<std::uint8_t>>(std::move(res.body()));
      if (res.keep_alive()) give_back(address, std::move(stream));
      co_return out;
    }
    error = "GET " + address + target + ": connection closed";
    co_return std::nullopt;
  }

  // get(), counted and timed for the metrics.
  asio::awaitable<std::optional<UpstreamResponse>> timed_get(const std::string& address,
                                                             const std::string& target,
                                                             std::string& error) {
    counters.upstream_requests.fetch_add(1, std::memory_order_relaxed);
    const auto start = Clock::now();
    auto response = co_await get(address, target, error);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    counters.upstream_micros.fetch_add(static_cast<std::uint64_t>(micros));
    upstream_latency.observe(static_cast<double>(micros) / 1e6);
    co_return response;
  }

  // Fetches `key` from `address` and completes its flight; runs detached so a client that
  // leaves does not cancel the fetch for the others.
  asio::awaitable<void> fetch(std::string key, std::string address, std::string path,
                              RouteKind kind, std::shared_ptr<Flight> flight) {
    std::string error;
    auto response = co_await timed_get(address, path, error);
    FetchResult result;
    if (!response) {
      counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("origin: upstream {}", error);
      result.error_status = error.starts_with("timeout") ? 504 : 502;
      result.error = "upstream unavailable\n";
    } else if (response->status == 200 || response->status == 404) {
      auto object = std::make_shared<CachedObject>();
      object->status = response->status;
      object->content_type = response->content_type;
      object->body = std::move(response->body);
      object->fetched_at = Clock::now();
      object->fresh_for = freshness(kind, response->status);
      cache.put(key, object);
      result.object = std::move(object);
    } else {
      counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("origin: upstream {}{} answered {}", address, path, response->status);
      result.error_status = 502;
      result.error = "upstream answered " + std::to_string(response->status) + "\n";
    }
    {
      std::lock_guard lock(flights_mutex);
      flights.erase(key);
    }
    flight->complete(std::move(result));
  }

  // The flight of `key`: the one in progress, or a new one that the caller must start
  // (`started`).
  std::shared_ptr<Flight> enter_flight(const std::string& key, bool& started) {
    std::lock_guard lock(flights_mutex);
    auto& slot = flights[key];
    started = !slot;
    if (!slot) slot = std::make_shared<Flight>();
    return slot;
  }

  // Joins the fetch of `key` in flight, or starts one (GET `path` from `address`). `started`
  // tells which.
  std::shared_ptr<Flight> join(const std::string& key, const std::string& address,
                               const std::string& path, RouteKind kind, bool& started) {
    auto flight = enter_flight(key, started);
    if (started) {
      asio::co_spawn(asio::make_strand(io), fetch(key, address, path, kind, flight),
                     asio::detached);
    }
    return flight;
  }

  // One server's answer to /api/streams or /api/recordings; no body if it failed.
  asio::awaitable<NodeAnswer> ask_node(std::string address, std::string path) {
    NodeAnswer answer;
    answer.address = address;
    std::string error;
    auto response = co_await timed_get(address, path, error);
    if (response && response->status == 200) {
      answer.body.emplace(response->body->begin(), response->body->end());
      co_return answer;
    }
    counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
    if (response) error = address + path + " answered " + std::to_string(response->status);
    spdlog::warn("origin: {} skipped in {}: {}", address, path, error);
    co_return answer;
  }

  auto ask_on_own_strand(const std::string& address, const std::string& path) {
    return asio::co_spawn(asio::make_strand(io), ask_node(address, path), asio::deferred);
  }

  // Asks every server of the fleet at once, merges their answers into `key`'s object and
  // completes its flight. A server that fails is left out; the answer is still 200.
  asio::awaitable<void> fetch_fleet(std::string key, RouteKind kind,
                                    std::shared_ptr<Flight> flight) {
    const std::string path = kind == RouteKind::kStreams ? "/api/streams" : "/api/recordings";
    std::vector<std::string> addresses;
    for (const auto& node : registry.nodes())
      addresses.push_back(node.address);
    std::vector<NodeAnswer> answers;
    if (!addresses.empty()) {
      std::vector<decltype(ask_on_own_strand(path, path))> asks;
      for (const auto& address : addresses)
        asks.push_back(ask_on_own_strand(address, path));
      auto group = asio::experimental::make_parallel_group(std::move(asks));
      const asio::experimental::wait_for_all all;
      auto [order, exceptions, results] = co_await group.async_wait(all, asio::use_awaitable);
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (!exceptions[i]) continue;
        counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("origin: {} skipped in {}: internal error", addresses[i], path);
        results[i].address = addresses[i];
        results[i].body.reset();
      }
      answers = std::move(results);
    }
    MergedJson merged;
    if (kind == RouteKind::kStreams) {
      merged = merge_streams(
          answers,
          [&](const std::string& id) -> std::optional<std::string> {
            auto entry = registry.find_stream(id);
            if (!entry) return std::nullopt;
            return entry->address;
          },
          [&](const std::string& id) { return viewers.count(id); });
    } else {
      merged = merge_recordings(answers);
    }
    for (const auto& address : merged.unusable) {
      counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("origin: {} skipped in {}: not the expected JSON", address, path);
    }
    auto object = std::make_shared<CachedObject>();
    object->content_type = http::content_type(kind);
    object->body = std::make_shared<const media::Bytes>(merged.json.begin(), merged.json.end());
    object->fetched_at = Clock::now();
    object->fresh_for = seconds(config.api_fresh_s);
    cache.put(key, object);
    {
      std::lock_guard lock(flights_mutex);
      flights.erase(key);
    }
    FetchResult result;
    result.object = std::move(object);
    flight->complete(std::move(result));
  }

  // /api/streams or /api/recordings of the whole fleet: cached for api_fresh_s, so a herd of
  // page loads makes one fan-out.
  asio::awaitable<HttpReply> fleet_json(RouteKind kind) {
    const std::string key =
        kind == RouteKind::kStreams ? "fleet /api/streams" : "fleet /api/recordings";
    const CachedPtr cached = cache.get(key);
    if (cached && Clock::now() - cached->fetched_at < cached->fresh_for) {
      co_return reply_from(*cached, kind, "HIT");
    }
    bool started = false;
    auto flight = enter_flight(key, started);
    if (started) {
      asio::co_spawn(asio::make_strand(io), fetch_fleet(key, kind, flight), asio::detached);
    }
    FetchResult result =
        co_await flight->wait(2 * config.upstream_timeout + std::chrono::seconds(1));
    if (result.object) co_return reply_from(*result.object, kind, started ? "MISS" : "HIT");
    HttpReply r;
    r.status = result.error_status;
    r.text = result.error;
    co_return r;
  }

  HttpReply reply_from(const CachedObject& object, RouteKind kind, const char* cache_state) {
    HttpReply r;
    if (object.status == 404) {
      r = http::not_streaming("");
      r.text.assign(object.body->begin(), object.body->end());
    } else {
      r.content_type = object.content_type.empty() ? http::content_type(kind) : object.content_type;
      // The CDN policy: master 60 s, media playlists not cached, segments 600 s.
      r.cache_control = http::cache_control(kind);
      r.bytes = object.body;
      r.accept_ranges = kind == RouteKind::kSegment || kind == RouteKind::kRecordingSegment;
    }
    const auto age =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - object.fetched_at);
    r.headers.emplace_back("Age", std::to_string(age.count()));
    r.headers.emplace_back("X-Cache", cache_state);
    return r;
  }

  asio::awaitable<HttpReply> handle(const http::HttpRequest& req) {
    const http::Route route = http::parse_route(req.target);
    switch (route.kind) {
      case RouteKind::kHealth: {
        HttpReply r;
        r.text = "healthy\n";
        co_return r;
      }
      case RouteKind::kMetrics: {
        HttpReply r;
        r.content_type = http::content_type(route.kind);
        r.text = metrics_text();
        co_return r;
      }
      case RouteKind::kIndex:
      case RouteKind::kWebAsset: {
        const std::string name = route.kind == RouteKind::kIndex ? "index.html" : route.rendition;
        if (auto reply = http::web_reply(name)) co_return std::move(*reply);
        co_return http::not_streaming("");
      }
      case RouteKind::kStreams:
      case RouteKind::kRecordings:
        co_return co_await fleet_json(route.kind);
      case RouteKind::kMaster:
      case RouteKind::kMediaPlaylist:
      case RouteKind::kSegment:
        break;
      default:
        if (auto node = parse_node_route(req.target)) co_return co_await node_file(*node);
        if (req.target == "/status" || req.target.starts_with("/status?")) {
          HttpReply r;
          r.content_type = "application/json";
          r.text = status_json();
          co_return r;
        }
        co_return http::not_streaming("");
    }
    const auto entry = registry.find_stream(route.playback_id);
    if (!entry) {
      counters.unknown.fetch_add(1, std::memory_order_relaxed);
      co_return http::not_streaming(route.playback_id);
    }
    if (route.kind == RouteKind::kMediaPlaylist) viewers.seen(route.playback_id, req.remote);
    std::string path(req.target.substr(0, req.target.find('?')));
    // Keyed by publish session too: after a move or a republish the master playlist may list
    // other renditions, so nothing cached from the previous session may answer for the new.
    std::string key = entry->session + " " + path;
    co_return co_await cached_or_fetched(std::move(key), entry->address, std::move(path),
                                         route.kind);
  }

  // A recording file on the server the URL names, which must be a node of the fleet: the
  // origin is no proxy to arbitrary hosts.
  asio::awaitable<HttpReply> node_file(NodeRoute node) {
    const auto nodes = registry.nodes();
    const bool known = std::any_of(nodes.begin(), nodes.end(), [&](const registry::NodeEntry& n) {
      return n.address == node.address;
    });
    if (!known) co_return http::not_streaming("");
    std::string key = "node " + node.address + " " + node.path;
    co_return co_await cached_or_fetched(std::move(key), std::move(node.address),
                                         std::move(node.path), node.route.kind);
  }

  // `key` from the cache if fresh; stale while one request revalidates it; else from the
  // fetch in flight (GET `path` from `address`), or stale if that fails.
  asio::awaitable<HttpReply> cached_or_fetched(std::string key, std::string address,
                                               std::string path, RouteKind kind) {
    const CachedPtr cached = cache.get(key);
    const auto now = Clock::now();
    if (cached && now - cached->fetched_at < cached->fresh_for) {
      counters.hits.fetch_add(1, std::memory_order_relaxed);
      co_return reply_from(*cached, kind, "HIT");
    }
    bool started = false;
    if (cached &&
        now - cached->fetched_at < cached->fresh_for + seconds(config.stale_while_revalidate_s)) {
      join(key, address, path, kind, started);  // revalidate in the background
      counters.stale.fetch_add(1, std::memory_order_relaxed);
      co_return reply_from(*cached, kind, "STALE");
    }
    auto flight = join(key, address, path, kind, started);
    (started ? counters.misses : counters.coalesced).fetch_add(1, std::memory_order_relaxed);
    FetchResult result =
        co_await flight->wait(2 * config.upstream_timeout + std::chrono::seconds(1));
    if (result.object) {
      HttpReply r = reply_from(*result.object, kind, started ? "MISS" : "HIT");
      r.header_first = true;
      co_return r;
    }
    if (cached &&
        Clock::now() - cached->fetched_at < cached->fresh_for + seconds(config.stale_if_error_s)) {
      counters.stale.fetch_add(1, std::memory_order_relaxed);
      co_return reply_from(*cached, kind, "STALE");
    }
    HttpReply r;
    r.status = result.error_status;
    r.text = result.error;
    co_return r;
  }

  std::string metrics_text() const {
    std::string out;
    const auto add = [&](auto... args) { observe::append_metric(out, args...); };
    const auto c = cache.stats();
    add("sluice_origin_cache_hits_total", "counter", "Requests answered fresh from the cache.",
        counters.hits.load());
    add("sluice_origin_cache_stale_total", "counter",
        "Requests answered with stale content (revalidating or upstream failing).",
        counters.stale.load());
    add("sluice_origin_cache_misses_total", "counter", "Requests that started an upstream fetch.",
        counters.misses.load());
    add("sluice_origin_coalesced_total", "counter",
        "Requests that waited for another request's upstream fetch.", counters.coalesced.load());
    add("sluice_origin_unknown_stream_total", "counter",
        "Requests for streams not in the registry.", counters.unknown.load());
    add("sluice_origin_upstream_requests_total", "counter", "Requests sent to servers.",
        counters.upstream_requests.load());
    add("sluice_origin_upstream_errors_total", "counter",
        "Upstream requests that failed or answered an error.", counters.upstream_errors.load());
    add("sluice_origin_upstream_seconds_total", "counter", "Total upstream request time.",
        counters.upstream_micros.load() / 1e6);
    upstream_latency.append(out, "sluice_origin_upstream_latency_seconds",
                            "Time for a server to answer one upstream request.");
    add("sluice_origin_cache_bytes", "gauge", "Bytes held by the cache.", c.bytes);
    add("sluice_origin_cache_objects", "gauge", "Objects held by the cache.", c.objects);
    add("sluice_origin_cache_evictions_total", "counter", "Objects evicted for the budget.",
        c.evictions);
    http::append_http_metrics(out, http_counters);
    registry::append_registry_metrics(out, registry);
    observe::append_process_metrics(out);
    return out;
  }

  std::string status_json() const {
    const auto c = cache.stats();
    const double hits = static_cast<double>(counters.hits + counters.stale + counters.coalesced);
    const double lookups = hits + static_cast<double>(counters.misses);
    const auto h = registry.health();
    return nlohmann::json{{"cache",
                           {{"bytes", c.bytes},
                            {"objects", c.objects},
                            {"budget_bytes", cache.budget()},
                            {"evictions", c.evictions},
                            {"hit_ratio", lookups > 0 ? hits / lookups : 0.0}}},
                          {"requests",
                           {{"hits", counters.hits.load()},
                            {"stale", counters.stale.load()},
                            {"misses", counters.misses.load()},
                            {"coalesced", counters.coalesced.load()},
                            {"unknown_stream", counters.unknown.load()}}},
                          {"upstream",
                           {{"requests", counters.upstream_requests.load()},
                            {"errors", counters.upstream_errors.load()}}},
                          {"registry",
                           {{"description", registry.describe()},
                            {"connected", h.connected},
                            {"streams", registry.streams().size()},
                            {"nodes", registry.nodes().size()}}}}
        .dump(2);
  }
};

Origin::Origin(asio::io_context& io, const OriginConfig& config, const registry::Registry& registry,
               const http::HttpCounters& http_counters)
    : impl_(std::make_shared<Impl>(io, config, registry, http_counters)) {}

Origin::~Origin() = default;

http::HttpHandler Origin::handler() {
  return [impl = impl_](const http::HttpRequest& req) { return impl->handle(req); };
}

std::string Origin::metrics_text() const {
  return impl_->metrics_text();
}

std::string Origin::status_json() const {
  return impl_->status_json();
}

}  // namespace sluice::route
