// The origin's fleet-wide JSON: /api/streams and /api/recordings merged from every server's
// own answers, and the /node/<address>/... route that reaches one server's recordings through
// the origin. Pure: bodies and registry lookups in, JSON out; unit-tested directly.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/routes.h"

namespace sluice::route {

// One server's answer to the fan-out: its HTTP address and, if it answered 200, the body.
struct NodeAnswer {
  std::string address;
  std::optional<std::string> body;
};

struct MergedJson {
  std::string json;
  std::vector<std::string> unusable;  // addresses whose body was not the expected JSON
};

// {"streams":[...]}: each server's streams that the registry says it holds (holder_of gives
// the HTTP address of the holder, nullopt if none), so a stream that moved and is still
// listed by its old server during the grace period appears once. "viewers" is replaced by
// viewers_of (the servers only see the origin), and "node" names the server. Sorted by
// playback ID, so the page does not reorder between polls.
MergedJson merge_streams(
    const std::vector<NodeAnswer>& answers,
    const std::function<std::optional<std::string>(const std::string& playback_id)>& holder_of,
    const std::function<std::size_t(const std::string& playback_id)>& viewers_of);

// {"recordings":[...]}: every server's recordings, newest first, each with "node"; a playable
// one's "playlist" is rewritten to node_path(address, playlist), where the origin serves it.
MergedJson merge_recordings(const std::vector<NodeAnswer>& answers);

// "/node/<address>" + path: the origin's URL of a file on one server.
std::string node_path(std::string_view address, std::string_view path);

// /node/<address>/<path>, where <path> is a recording's playlist or segment (the only files
// the origin fetches from a named server). The caller still checks that <address> is a node
// of the fleet, so the route cannot reach arbitrary hosts.
struct NodeRoute {
  std::string address;
  std::string path;   // /recordings/..., query removed
  http::Route route;  // a recording's file (http::recording_file)
};
// nullopt: not under /node/, or not a recording file (answer 404).
std::optional<NodeRoute> parse_node_route(std::string_view target);

}  // namespace sluice::route
