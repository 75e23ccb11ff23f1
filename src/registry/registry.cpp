#include "registry/registry.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

#include "observe/metrics.h"
#include "registry/redis_registry.h"

namespace sluice::registry {

Result<RedisAddress> parse_redis_url(std::string_view text) {
  auto url = boost::urls::parse_uri(text);
  if (!url || url->scheme() != "redis" || !url->has_authority() || url->encoded_host().empty()) {
    return make_error(Errc::kMalformed,
                      "registry: expected redis://[user:password@]host:port[/db]");
  }
  RedisAddress a;
  a.host = url->host();
  if (url->has_port()) {
    const auto port = url->port_number();
    if (port == 0) return make_error(Errc::kMalformed, "registry: bad port in redis URL");
    a.port = port;
  }
  if (url->has_userinfo()) {
    a.user = url->user();
    a.password = url->password();
    if (!url->has_password()) std::swap(a.user, a.password);  // redis://secret@host
  }
  std::string_view path = url->encoded_path();
  if (path.starts_with('/')) path.remove_prefix(1);
  if (!path.empty()) {
    auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), a.db);
    if (ec != std::errc{} || end != path.data() + path.size() || a.db < 0) {
      return make_error(Errc::kMalformed, "registry: the redis URL path must be a db number");
    }
  }
  return a;
}

namespace {

// One process's registry: what it publishes is what it reads back. No TTLs are needed, as
// the owner and the readers live and die together.
class MemoryRegistry final : public Registry {
 public:
  void publish_stream(const StreamEntry& entry) override {
    std::lock_guard lock(mutex_);
    if (lost_.contains({entry.playback_id, entry.session})) return;
    auto [it, inserted] = streams_.try_emplace(entry.playback_id, entry);
    if (!inserted) {
      if (it->second.session != entry.session)
        lost_.insert({entry.playback_id, it->second.session});
      it->second = entry;
    }
  }
  void withdraw_stream(const std::string& playback_id, const std::string& session) override {
    std::lock_guard lock(mutex_);
    lost_.erase({playback_id, session});
    if (auto it = streams_.find(playback_id); it != streams_.end() && it->second.session == session)
      streams_.erase(it);
  }
  void publish_node(const NodeEntry& entry) override {
    std::lock_guard lock(mutex_);
    nodes_[entry.address] = entry;
  }
  std::optional<StreamEntry> find_stream(std::string_view playback_id) const override {
    std::lock_guard lock(mutex_);
    if (auto it = streams_.find(playback_id); it != streams_.end()) return it->second;
    return std::nullopt;
  }
  std::vector<StreamEntry> streams() const override {
    std::lock_guard lock(mutex_);
    std::vector<StreamEntry> out;
    for (const auto& [id, e] : streams_)
      out.push_back(e);
    return out;
  }
  std::vector<NodeEntry> nodes() const override {
    std::lock_guard lock(mutex_);
    std::vector<NodeEntry> out;
    for (const auto& [address, e] : nodes_)
      out.push_back(e);
    return out;
  }
  RegistryHealth health() const override { return {}; }
  std::string describe() const override { return "in memory"; }

 private:
  mutable std::mutex mutex_;  // guards everything below
  std::map<std::string, StreamEntry, std::less<>> streams_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;
  // Sessions that another session took a stream from; their late updates are ignored.
  std::set<std::pair<std::string, std::string>> lost_;
};

}  // namespace

Result<std::unique_ptr<Registry>> make_registry(const RegistryConfig& config) {
  if (config.url == "memory") return std::unique_ptr<Registry>(std::make_unique<MemoryRegistry>());
  auto address = parse_redis_url(config.url);
  if (!address) return address.error();
  return std::unique_ptr<Registry>(std::make_unique<RedisRegistry>(config, *address));
}

void append_registry_metrics(std::string& out, const Registry& registry) {
  const auto h = registry.health();
  observe::append_metric(out, "sluice_registry_connected", "gauge",
                         "1 while the registry is reachable (always 1 in memory).",
                         h.connected ? 1 : 0);
  observe::append_metric(out, "sluice_registry_errors_total", "counter",
                         "Failed registry calls and connections.", static_cast<double>(h.errors));
  observe::append_metric(out, "sluice_registry_connects_total", "counter",
                         "Registry connections established.", static_cast<double>(h.reconnects));
  observe::append_metric(out, "sluice_registry_events_total", "counter",
                         "Registry change notifications received.", static_cast<double>(h.events));
  observe::append_metric(out, "sluice_registry_streams", "gauge",
                         "Streams in the registry (local view).",
                         static_cast<double>(registry.streams().size()));
  observe::append_metric(out, "sluice_registry_nodes", "gauge",
                         "Servers in the registry (local view).",
                         static_cast<double>(registry.nodes().size()));
}

}  // namespace sluice::registry
