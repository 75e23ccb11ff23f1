// The fleet's registry: which server holds which stream, and which servers exist with how much
// free capacity. Two implementations behind one interface: in memory (the embedded default of
// `sluice serve`) and Redis (a fleet). Writes never block the caller: an implementation keeps
// what this process owns and keeps it alive (heartbeat, TTL) on its own thread. Reads come from
// a local view that the implementation keeps fresh, so they never block either.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "media/result.h"

namespace sluice::registry {

// A live stream: where its HLS is served, by which publish session.
struct StreamEntry {
  std::string playback_id;
  std::string address;  // HTTP HOST:PORT of the server holding it
  std::string session;  // unique per publish session; deletes compare it
  // Where a continuation on another server starts, so players' playlists go on (a move).
  std::uint64_t next_sequence = 0;
  std::uint64_t discontinuities = 0;  // EXT-X-DISCONTINUITY tags emitted so far
  bool operator==(const StreamEntry&) const = default;
};

// A media server of the fleet.
struct NodeEntry {
  std::string address;       // HTTP HOST:PORT, the node's identity
  std::string rtmp_address;  // RTMP HOST:PORT, for the proxy
  int capacity = 0;          // transcoded streams it can take
  int load = 0;              // transcoded streams it has
  bool draining = false;     // takes no new streams
  std::string srt_address;   // SRT HOST:PORT, for the proxy; empty when it takes no SRT
  bool operator==(const NodeEntry&) const = default;
};

// Values as stored (JSON), pure and unit-tested.
std::string encode(const StreamEntry& entry);
std::string encode(const NodeEntry& entry);
Result<StreamEntry> decode_stream(std::string_view json);
Result<NodeEntry> decode_node(std::string_view json);

struct RegistryHealth {
  bool connected = true;
  std::uint64_t errors = 0;      // failed calls or connections
  std::uint64_t reconnects = 0;  // connections (re)established
  std::uint64_t events = 0;      // change notifications received
};

class Registry {
 public:
  virtual ~Registry() = default;

  // Claims or updates a stream this process holds. A new session takes the stream over (the
  // newest publish wins); an update of a session that lost the stream to another is ignored.
  // Kept alive until withdrawn.
  virtual void publish_stream(const StreamEntry& entry) = 0;
  // Compare-and-delete: removes the stream only if `session` still holds it, so a late
  // withdraw from an old server never hides a stream that moved.
  virtual void withdraw_stream(const std::string& playback_id, const std::string& session) = 0;
  // Registers or updates this node; kept alive until the registry is destroyed.
  virtual void publish_node(const NodeEntry& entry) = 0;

  virtual std::optional<StreamEntry> find_stream(std::string_view playback_id) const = 0;
  virtual std::vector<StreamEntry> streams() const = 0;
  virtual std::vector<NodeEntry> nodes() const = 0;
  virtual RegistryHealth health() const = 0;
  virtual std::string describe() const = 0;
};

struct RegistryConfig {
  std::string url = "memory";  // memory | redis://[user:password@]host:port[/db]
  double ttl_s = 10;           // entries of a silent server vanish after this
  double resync_s = 2;         // full re-read of the registry, besides change notifications
  std::string key_prefix = "sluice:";
};

// Parsed redis:// URL.
struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
};
Result<RedisAddress> parse_redis_url(std::string_view url);

// The in-memory or Redis registry, by config.url. Fails on a malformed URL only: an
// unreachable Redis is retried in the background.
Result<std::unique_ptr<Registry>> make_registry(const RegistryConfig& config);

// The registry's health as metrics (sluice_registry_*), for every role.
void append_registry_metrics(std::string& out, const Registry& registry);

}  // namespace sluice::registry
