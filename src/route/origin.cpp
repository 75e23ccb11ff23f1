#include "route/origin.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "http/playlist_uris.h"
#include "http/routes.h"
#include "http/viewers.h"
#include "http/web_assets.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "route/coalescer.h"
#include "route/fleet_api.h"
#include "route/live_edge.h"
#include "route/upstream_pool.h"

namespace sluice::route {

namespace asio = boost::asio;
using http::HttpReply;
using http::RouteKind;

namespace {

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

// One object the origin asks a server for, and how it is cached.
struct Upstream {
  std::string key;  // of the cache and of coalescing
  std::string address;
  std::string path;  // with a playlist request's canonical _HLS_ query
  RouteKind kind = RouteKind::kNotFound;
  bool held = false;  // the server holds it until it exists (blocking reload, preload hint)
  // Of a media playlist request, blocking or not: the key of its rendition's live playlist.
  std::string live_key;
  bool follow = false;  // asked by the origin following the playlist, not by a viewer
};

// How long the origin follows a low-latency playlist after the last viewer asked for it.
constexpr auto kFollowIdle = std::chrono::seconds(5);

struct Origin::Impl {
  asio::io_context& io;
  const OriginConfig& config;
  const registry::Registry& registry;
  const http::HttpCounters& http_counters;
  ObjectCache cache;
  OriginCounters counters;
  // The servers see one client, the origin; so the origin counts its own viewers for
  // /api/streams.
  http::ViewerCounter viewers;

  UpstreamPool upstream;
  Coalescer flights;

  Impl(asio::io_context& i, const OriginConfig& c, const registry::Registry& r,
       const http::HttpCounters& h)
      : io(i),
        config(c),
        registry(r),
        http_counters(h),
        cache(c.cache_bytes),
        upstream(i, UpstreamPoolConfig{c.upstream_timeout, c.idle_connections_per_server,
                                       c.max_object_bytes}) {}

  // How long an answer to `u` stays fresh; zero: not cached.
  Clock::duration freshness(const Upstream& u, int status, const std::string& cache_control) const {
    // A part that is not there yet will be in a moment: no negative entry.
    if (status != 200)
      return u.kind == RouteKind::kPart ? Clock::duration{} : seconds(config.not_found_fresh_s);
    switch (u.kind) {
      case RouteKind::kMaster:
        return seconds(config.master_fresh_s);
      case RouteKind::kMediaPlaylist:
        // A blocking answer is right for its URL for good: it holds the part asked for.
        return seconds(u.held ? config.segment_fresh_s : config.playlist_fresh_s);
      case RouteKind::kRecordingPlaylist:  // grows while the stream is live
        return seconds(config.playlist_fresh_s);
      case RouteKind::kThumbnail:  // as long as the server keeps its picture
        return std::chrono::seconds(
            std::min<std::uint64_t>(http::max_age(cache_control).value_or(0), 3600));
      default:
        return seconds(config.segment_fresh_s);
    }
  }

  // Fetches `u` and completes its flight; runs detached so a client that leaves does not
  // cancel the fetch for the others.
  asio::awaitable<void> fetch(Upstream u, std::shared_ptr<Flight> flight) {
    const std::uint64_t parts_before = parts_seen(u.live_key);
    if (u.follow) counters.follows.fetch_add(1, std::memory_order_relaxed);
    std::string error;
    auto response = co_await upstream.get(
        u.address, u.path, error, u.held ? std::optional(config.held_timeout) : std::nullopt);
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
      object->cache_control = std::move(response->cache_control);
      object->body = std::move(response->body);
      object->fetched_at = Clock::now();
      object->fresh_for = freshness(u, response->status, object->cache_control);
      // A live playlist fetched before a newer part came is not kept: it is already old.
      if (object->fresh_for > Clock::duration{} &&
          (u.key != u.live_key || parts_seen(u.live_key) == parts_before)) {
        cache.put(u.key, object);
      }
      if (!u.live_key.empty() && object->status == 200) {
        learn_window(u.live_key, *object->body);
        maybe_follow(u, *object->body);
      }
      result.object = std::move(object);
    } else if (response->status == 400 || response->status == 503) {
      // The server's word on a low-latency request (too far ahead; not ready within its hold
      // bound): passed on, not cached.
      result.error_status = response->status;
      result.error.assign(response->body->begin(), response->body->end());
    } else {
      counters.upstream_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("origin: upstream {}{} answered {}", u.address, u.path, response->status);
      result.error_status = 502;
      result.error = "upstream answered " + std::to_string(response->status) + "\n";
    }
    flights.finish(u.key, flight, std::move(result));
  }

  // The live window of each live media playlist (by its live key), from the newest answer
  // seen: requests for segments or parts far outside it are answered without going upstream,
  // so a client asking for made-up names costs the servers nothing.
  struct KnownWindow {
    LiveWindow window;
    Clock::time_point read_at;
  };
  std::mutex window_mutex;                     // guards windows and windows_swept
  std::map<std::string, KnownWindow> windows;  // by live key
  std::size_t windows_swept = 0;               // their number after the last sweep
  static constexpr auto kWindowUsable = std::chrono::seconds(30);

  void learn_window(const std::string& live_key, const media::Bytes& text) {
    const auto window =
        live_window(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
    const auto now = Clock::now();
    std::lock_guard lock(window_mutex);
    if (!window) {
      windows.erase(live_key);  // ended
      return;
    }
    auto& known = windows[live_key];
    // Answers may arrive out of order: an older window never replaces a newer one.
    if (known.read_at == Clock::time_point{} ||
        std::pair(window->next_segment, window->next_part.value_or(0)) >=
            std::pair(known.window.next_segment, known.window.next_part.value_or(0))) {
      known = {*window, now};
    }
    if (windows.size() > 2 * windows_swept + 64) {
      std::erase_if(windows, [&](const auto& e) { return now - e.second.read_at > kWindowUsable; });
      windows_swept = windows.size();
    }
  }

  bool outside_window(const std::string& live_key, RouteKind kind, std::uint64_t number) {
    std::lock_guard lock(window_mutex);
    auto it = windows.find(live_key);
    if (it == windows.end()) return false;
    const auto age = Clock::now() - it->second.read_at;
    if (age > kWindowUsable) return false;
    return surely_absent(it->second.window, kind, number,
                         std::chrono::duration<double>(age).count());
  }

  // Joins the fetch of `u` in flight, or starts one. `started` tells which.
  std::shared_ptr<Flight> join(const Upstream& u, bool& started) {
    auto flight = flights.enter(u.key, started);
    if (started) asio::co_spawn(asio::make_strand(io), fetch(u, flight), asio::detached);
    return flight;
  }

  // A low-latency live playlist the origin follows while viewers watch it: one blocking
  // request for each next part, which viewers asking the same share. Each new part drops the
  // cached live playlist, so it is never older than the newest part.
  struct Follower {
    Clock::time_point asked;  // a viewer's last request of this rendition's playlists
    std::uint64_t parts = 0;  // new parts seen
  };
  std::mutex follow_mutex;                    // guards followers
  std::map<std::string, Follower> followers;  // by live playlist key

  std::uint64_t parts_seen(const std::string& live_key) {
    std::lock_guard lock(follow_mutex);
    auto it = followers.find(live_key);
    return it == followers.end() ? 0 : it->second.parts;
  }

  void viewer_asked(const std::string& live_key) {
    std::lock_guard lock(follow_mutex);
    if (auto it = followers.find(live_key); it != followers.end()) it->second.asked = Clock::now();
  }

  // Starts following `u`'s rendition if its playlist `text` can block and nobody follows it.
  void maybe_follow(const Upstream& u, const media::Bytes& text) {
    const std::string_view playlist(reinterpret_cast<const char*>(text.data()), text.size());
    if (!next_part_request(playlist)) return;
    {
      std::lock_guard lock(follow_mutex);
      if (!followers.try_emplace(u.live_key, Follower{Clock::now()}).second) return;
    }
    Upstream live = u;
    live.key = u.live_key;
    live.path = u.path.substr(0, u.path.find('?'));
    live.held = false;
    asio::co_spawn(asio::make_strand(io), follow(std::move(live), std::string(playlist)),
                   asio::detached);
  }

  asio::awaitable<void> follow(Upstream live, std::string playlist) {
    std::pair<std::uint64_t, std::uint64_t> asked{0, 0};
    for (bool first = true;; first = false) {
      const auto next = next_part_request(playlist);
      // Each answer must move the live edge on, or a broken server would spin this loop.
      const bool advanced = next && (first || std::pair(*next->msn, *next->part) > asked);
      if (advanced) asked = {*next->msn, *next->part};
      {
        std::lock_guard lock(follow_mutex);
        if (!advanced || Clock::now() - followers[live.key].asked > kFollowIdle) break;
      }
      Upstream u = live;
      u.held = true;
      u.follow = true;
      u.path += http::hls_query(*next);
      u.key = live.key + http::hls_query(*next);
      CachedPtr answer = cache.get(u.key);
      if (!answer) {
        bool started = false;
        answer =
            (co_await join(u, started)->wait(config.held_timeout + std::chrono::seconds(1))).object;
      }
      if (!answer || answer->status != 200) break;  // the stream stalled, ended or moved
      {
        std::lock_guard lock(follow_mutex);
        ++followers[live.key].parts;
      }
      cache.erase(live.key);
      playlist.assign(answer->body->begin(), answer->body->end());
    }
    // Unfollowed, the cached live playlist would age unseen: the next viewer fetches it.
    std::lock_guard lock(follow_mutex);
    followers.erase(live.key);
    cache.erase(live.key);
  }

  // One server's answer to /api/streams or /api/recordings; no body if it failed.
  asio::awaitable<NodeAnswer> ask_node(std::string address, std::string path) {
    NodeAnswer answer;
    answer.address = address;
    std::string error;
    auto response = co_await upstream.get(address, path, error);
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
    FetchResult result;
    result.object = std::move(object);
    flights.finish(key, flight, std::move(result));
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
    auto flight = flights.enter(key, started);
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
      // The server's policy where it gave one (blocking answers are cacheable for its hold
      // bound); otherwise master 60 s, media playlists not cached, segments 600 s.
      r.cache_control =
          object.cache_control.empty() ? http::cache_control(kind) : object.cache_control;
      r.bytes = object.body;
      r.accept_ranges = kind == RouteKind::kSegment || kind == RouteKind::kRecordingSegment ||
                        kind == RouteKind::kRecordingFmp4Segment;
    }
    const auto age =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - object.fetched_at);
    r.headers.emplace_back("Age", std::to_string(age.count()));
    r.headers.emplace_back("X-Cache", cache_state);
    return r;
  }

  const admission::PlaybackTokens* tokens = nullptr;  // signed playback, when set

  // Signed playback in front of answer(): the token is checked here, at the edge, and never
  // goes upstream (the cache key has no token, so one cached copy serves every viewer); a
  // token given in the query is put into the URIs of each playlist answered.
  asio::awaitable<HttpReply> handle(const http::HttpRequest& req) {
    if (!tokens) co_return co_await answer(req);
    const http::Route route = http::parse_route(req.target);
    std::optional<http::Route> guarded;
    if (http::stream_file(route.kind)) {
      guarded = route;
    } else if (auto node = parse_node_route(req.target)) {
      guarded = node->route;
    }
    if (!guarded) co_return co_await answer(req);
    auto checked =
        admission::check_request(*tokens, req.target, req.cookie, guarded->playback_id, req.remote);
    if (!checked) {
      observe::log_limited(spdlog::level::info, "origin playback token refused",
                           fmt::format("origin: 403 for {} from {}: {}", guarded->playback_id,
                                       req.remote, checked.error().message));
      co_return http::forbidden(checked.error().message);
    }
    auto reply = co_await answer(req);
    const bool playlist = guarded->kind == RouteKind::kMaster ||
                          guarded->kind == RouteKind::kMediaPlaylist ||
                          guarded->kind == RouteKind::kRecordingPlaylist;
    if (checked->empty() || !playlist || reply.status != 200) co_return reply;
    std::string text = reply.text;
    if (reply.bytes) text.assign(reply.bytes->begin(), reply.bytes->end());
    reply.bytes = nullptr;
    reply.accept_ranges = false;
    reply.text = http::with_query_parameter(text, *checked);
    co_return reply;
  }

  asio::awaitable<HttpReply> answer(const http::HttpRequest& req) {
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
      case RouteKind::kThumbnail:
      case RouteKind::kMediaPlaylist:
      case RouteKind::kSegment:
      case RouteKind::kFmp4Segment:
      case RouteKind::kPart:
      case RouteKind::kInitSegment:
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
    Upstream u;
    u.address = entry->address;
    u.kind = route.kind;
    u.path = std::string(req.target.substr(0, req.target.find('?')));
    // Keyed by publish session too: after a move or a republish the master playlist may list
    // other renditions, so nothing cached from the previous session may answer for the new.
    const std::string session_path = entry->session + " " + u.path;
    if (route.kind == RouteKind::kSegment || route.kind == RouteKind::kFmp4Segment ||
        route.kind == RouteKind::kPart) {
      const std::string live_key =
          entry->session + " /" + route.playback_id + "/" + route.rendition + "/index.m3u8";
      if (outside_window(live_key, route.kind, route.sequence)) {
        counters.outside_window.fetch_add(1, std::memory_order_relaxed);
        co_return http::not_streaming("");
      }
    }
    if (route.kind == RouteKind::kMediaPlaylist) {
      viewers.seen(route.playback_id, req.remote);
      const auto directives = http::parse_hls_directives(req.target);
      if (!directives) {
        HttpReply r;
        r.status = 400;
        r.text = "malformed _HLS_ query parameters\n";
        co_return r;
      }
      u.held = directives->blocking();
      u.live_key = session_path;
      viewer_asked(u.live_key);
      u.path += http::hls_query(*directives);
    }
    u.held = u.held || route.kind == RouteKind::kPart;
    u.key = entry->session + " " + u.path;
    co_return co_await cached_or_fetched(std::move(u));
  }

  // A recording file on the server the URL names, which must be a node of the fleet: the
  // origin is no proxy to arbitrary hosts.
  asio::awaitable<HttpReply> node_file(NodeRoute node) {
    const auto nodes = registry.nodes();
    const bool known = std::any_of(nodes.begin(), nodes.end(), [&](const registry::NodeEntry& n) {
      return n.address == node.address;
    });
    if (!known) co_return http::not_streaming("");
    Upstream u;
    u.key = "node " + node.address + " " + node.path;
    u.address = std::move(node.address);
    u.path = std::move(node.path);
    u.kind = node.route.kind;
    co_return co_await cached_or_fetched(std::move(u));
  }

  // `u` from the cache if fresh; stale while one request revalidates it (never a live media
  // playlist: a viewer would get the copy of its own previous poll); else from the fetch in
  // flight, or stale if that fails.
  asio::awaitable<HttpReply> cached_or_fetched(Upstream u) {
    const RouteKind kind = u.kind;
    const CachedPtr cached = cache.get(u.key);
    const auto now = Clock::now();
    if (cached && now - cached->fetched_at < cached->fresh_for) {
      counters.hits.fetch_add(1, std::memory_order_relaxed);
      co_return reply_from(*cached, kind, "HIT");
    }
    bool started = false;
    if (cached && kind != RouteKind::kMediaPlaylist &&
        now - cached->fetched_at < cached->fresh_for + seconds(config.stale_while_revalidate_s)) {
      join(u, started);  // revalidate in the background
      counters.stale.fetch_add(1, std::memory_order_relaxed);
      co_return reply_from(*cached, kind, "STALE");
    }
    const bool held = u.held;
    auto flight = join(u, started);
    (started ? counters.misses : counters.coalesced).fetch_add(1, std::memory_order_relaxed);
    if (held) counters.held.fetch_add(1, std::memory_order_relaxed);
    FetchResult result = co_await flight->wait(
        (held ? config.held_timeout : 2 * config.upstream_timeout) + std::chrono::seconds(1));
    if (held) counters.held.fetch_sub(1, std::memory_order_relaxed);
    if (result.object) {
      HttpReply r = reply_from(*result.object, kind, started ? "MISS" : "HIT");
      r.header_first = true;
      co_return r;
    }
    if (cached && result.error_status >= 500 &&
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
    add("sluice_origin_outside_window_total", "counter",
        "Requests for segments or parts far outside a live window, answered 404 locally.",
        counters.outside_window.load());
    add("sluice_origin_upstream_requests_total", "counter", "Requests sent to servers.",
        upstream.requests());
    add("sluice_origin_upstream_errors_total", "counter",
        "Upstream requests that failed or answered an error.", counters.upstream_errors.load());
    add("sluice_origin_upstream_seconds_total", "counter", "Total upstream request time.",
        upstream.seconds_total());
    upstream.latency().append(out, "sluice_origin_upstream_latency_seconds",
                              "Time for a server to answer one upstream request.");
    add("sluice_origin_follow_requests_total", "counter",
        "Upstream blocking requests with which the origin follows watched low-latency "
        "playlists (one per new part).",
        counters.follows.load());
    add("sluice_origin_held_requests", "gauge",
        "Requests waiting for a part a server holds them for (blocking reloads, preload hints).",
        counters.held.load());
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
    return nlohmann::json{
        {"cache",
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
         {{"requests", upstream.requests()}, {"errors", counters.upstream_errors.load()}}},
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

void Origin::require_tokens(const admission::PlaybackTokens* tokens) {
  impl_->tokens = tokens;
}

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
