// The fleet registry in Redis, through hiredis.
//
// Keys: <prefix>stream:<playbackId> and <prefix>node:<address>, JSON values (registry.h), each
// with a TTL that this process renews every ttl/3 while it holds the entry, so a dead server's
// entries vanish within ttl. Changes are published on <prefix>events, so other processes
// learn at once; a full re-read every resync_s (and after each reconnect) heals anything a
// notification missed, expiries included.
//
// Threads: one writer thread owns the command connection (claims, renewals, compare-and-delete
// in Lua, re-reads); one subscriber thread owns the pub/sub connection. Callers only touch
// in-memory state under a mutex, so no caller ever waits for Redis. Both threads reconnect
// with exponential backoff and re-register everything this process holds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "registry/registry.h"

namespace sluice::registry {

class RedisRegistry final : public Registry {
 public:
  RedisRegistry(RegistryConfig config, RedisAddress address);
  ~RedisRegistry() override;

  void publish_stream(const StreamEntry& entry) override;
  void withdraw_stream(const std::string& playback_id, const std::string& session) override;
  void publish_node(const NodeEntry& entry) override;
  std::optional<StreamEntry> find_stream(std::string_view playback_id) const override;
  std::vector<StreamEntry> streams() const override;
  std::vector<NodeEntry> nodes() const override;
  RegistryHealth health() const override;
  std::string describe() const override;

  // Applies one message from the events channel to the local view (public for tests).
  void apply_event(std::string_view message);

 private:
  class Connection;
  struct Owned {
    StreamEntry entry;
    bool claimed = false;  // written once under this session
    bool dirty = true;     // changed since last written
  };

  void writer_loop();
  void subscriber_loop();
  bool write_pending(Connection& redis);  // false on any error: reconnect, back off
  bool renew_all(Connection& redis);
  // Re-reads every entry. With keep_absent, entries the view has and Redis lacks are kept:
  // right after a reconnection, a Redis that came back empty has not heard from the servers
  // yet, and their streams are still live.
  bool resync(Connection& redis, bool keep_absent);
  void wait_backoff(std::chrono::milliseconds& backoff);
  void note_error(const std::string& what);

  const RegistryConfig config_;
  const RedisAddress address_;
  const std::string channel_;

  // What this process holds. Guarded by owned_mutex_; the writer waits on wake_.
  std::mutex owned_mutex_;
  std::condition_variable wake_;
  std::map<std::string, Owned, std::less<>> owned_;
  std::vector<std::pair<std::string, std::string>> withdrawals_;
  std::set<std::pair<std::string, std::string>> lost_;  // sessions another server took over
  std::optional<NodeEntry> node_;
  bool node_dirty_ = false;
  bool resync_requested_ = true;
  bool stopping_ = false;

  // The local view of the whole registry. Guarded by view_mutex_.
  mutable std::mutex view_mutex_;
  std::map<std::string, StreamEntry, std::less<>> streams_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;

  std::atomic<bool> writer_connected_{false};
  std::atomic<bool> subscriber_connected_{false};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> events_{0};
  std::atomic<bool> stop_{false};

  std::thread writer_;
  std::thread subscriber_;
};

}  // namespace sluice::registry
