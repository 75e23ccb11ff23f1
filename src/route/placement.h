// Where the proxy sends a publisher or a player. Pure: the registry's view, the proxy's
// health checks and its own sessions in, a server out; unit-tested directly.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "registry/registry.h"

namespace sluice::route {

struct PlacementInput {
  std::vector<registry::NodeEntry> nodes;
  std::optional<registry::StreamEntry> holder;  // the server holding the playback ID, if any
  std::function<bool(const std::string& address)> healthy;  // by node (HTTP) address
  // Sessions this proxy routed to each node that the registry may not count yet.
  std::map<std::string, int> own_sessions;
  // Where this proxy relays the stream's publisher now. It is live there at once, while the
  // registry may name the previous server until the new one has cut its first segment.
  std::optional<registry::NodeEntry> publishing_to;
  bool srt = false;  // the client came by SRT: only servers that take SRT will do
};

// A publisher: to the server that holds the stream (a republish within its grace period, so
// HLS continues there) if it is healthy and not draining; else to the healthy, non-draining
// server with the most free capacity (ties: fewest streams, then address). nullopt: none.
// Servers that cannot take the client's protocol (`srt`) are passed over throughout.
std::optional<registry::NodeEntry> place_publish(const PlacementInput& in);

// A player: to the server this proxy relays the publisher to, else the one holding the
// stream; if healthy.
std::optional<registry::NodeEntry> place_play(const PlacementInput& in);

}  // namespace sluice::route
