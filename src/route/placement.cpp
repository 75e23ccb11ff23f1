#include "route/placement.h"

#include <algorithm>

namespace sluice::route {

namespace {

// Healthy, and able to take the client's protocol.
bool usable(const PlacementInput& in, const registry::NodeEntry& n) {
  return in.healthy(n.address) && (!in.srt || !n.srt_address.empty());
}

const registry::NodeEntry* holder_node(const PlacementInput& in) {
  if (!in.holder) return nullptr;
  for (const auto& n : in.nodes) {
    if (n.address == in.holder->address && usable(in, n)) return &n;
  }
  return nullptr;
}

int load_of(const PlacementInput& in, const registry::NodeEntry& n) {
  auto it = in.own_sessions.find(n.address);
  return std::max(n.load, it == in.own_sessions.end() ? 0 : it->second);
}

}  // namespace

std::optional<registry::NodeEntry> place_publish(const PlacementInput& in) {
  if (const auto* n = holder_node(in); n && !n->draining) return *n;
  const registry::NodeEntry* best = nullptr;
  for (const auto& n : in.nodes) {
    if (n.draining || !usable(in, n) || load_of(in, n) >= n.capacity) continue;
    if (!best) {
      best = &n;
      continue;
    }
    const int free = n.capacity - load_of(in, n), best_free = best->capacity - load_of(in, *best);
    if (free > best_free || (free == best_free &&
                             (load_of(in, n) < load_of(in, *best) ||
                              (load_of(in, n) == load_of(in, *best) && n.address < best->address))))
      best = &n;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::optional<registry::NodeEntry> place_play(const PlacementInput& in) {
  if (in.publishing_to && usable(in, *in.publishing_to)) return in.publishing_to;
  if (const auto* n = holder_node(in)) return *n;
  return std::nullopt;
}

}  // namespace sluice::route
