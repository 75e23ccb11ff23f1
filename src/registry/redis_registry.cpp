#include "registry/redis_registry.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cmath>

namespace sluice::registry {

namespace {

using namespace std::chrono_literals;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

constexpr auto kIoTimeout = 2s;
constexpr auto kMaxBackoff = 5000ms;

timeval to_timeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

// Claims a stream for a new session: the newest publish wins.
constexpr const char* kClaimScript = R"(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1)";

// Renews or updates a stream only while this session still holds it (or the key expired,
// for example because Redis restarted empty); announces real changes.
constexpr const char* kRenewScript = R"(
local v = redis.call('GET', KEYS[1])
if v then
  local ok, cur = pcall(cjson.decode, v)
  if ok and type(cur) == 'table' and cur.session ~= ARGV[5] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if v ~= ARGV[1] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1)";

// Compare-and-delete on the session.
constexpr const char* kWithdrawScript = R"(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, cur = pcall(cjson.decode, v)
if ok and type(cur) == 'table' and cur.session == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0)";

constexpr const char* kNodeScript = R"(
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if v ~= ARGV[1] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1)";

}  // namespace

// One hiredis connection with timeouts; any failure leaves it broken, to be replaced.
class RedisRegistry::Connection {
 public:
  static std::unique_ptr<Connection> open(const RedisAddress& a, std::string& error) {
    const timeval tv = to_timeval(kIoTimeout);
    ContextPtr ctx(redisConnectWithTimeout(a.host.c_str(), a.port, tv));
    if (!ctx || ctx->err) {
      error = ctx ? ctx->errstr : "out of memory";
      return nullptr;
    }
    redisSetTimeout(ctx.get(), tv);
    auto c = std::unique_ptr<Connection>(new Connection(std::move(ctx)));
    if (!a.password.empty()) {
      auto r = a.user.empty() ? c->command({"AUTH", a.password})
                              : c->command({"AUTH", a.user, a.password});
      if (!r || r->type == REDIS_REPLY_ERROR) {
        error = "AUTH: " + c->describe(r.get());
        return nullptr;
      }
    }
    if (a.db != 0) {
      auto r = c->command({"SELECT", std::to_string(a.db)});
      if (!r || r->type == REDIS_REPLY_ERROR) {
        error = "SELECT: " + c->describe(r.get());
        return nullptr;
      }
    }
    return c;
  }

  // nullptr on a connection error (the connection is then unusable).
  ReplyPtr command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

  // Reads one pushed message, waiting at most `wait`; nullptr and ok() on a quiet timeout.
  ReplyPtr next_push(std::chrono::milliseconds wait) {
    void* reply = nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &reply) != REDIS_OK) return nullptr;
    if (reply) return ReplyPtr(static_cast<redisReply*>(reply));
    pollfd p{ctx_->fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (n <= 0) return nullptr;
    if (redisBufferRead(ctx_.get()) != REDIS_OK) return nullptr;
    if (redisGetReplyFromReader(ctx_.get(), &reply) != REDIS_OK) return nullptr;
    return ReplyPtr(static_cast<redisReply*>(reply));
  }

  bool ok() const { return ctx_->err == 0; }
  std::string describe(const redisReply* r) const {
    if (ctx_->err) return ctx_->errstr;
    if (r && r->type == REDIS_REPLY_ERROR) return std::string(r->str, r->len);
    return "unexpected reply";
  }

 private:
  explicit Connection(ContextPtr ctx) : ctx_(std::move(ctx)) {}
  ContextPtr ctx_;
};

RedisRegistry::RedisRegistry(RegistryConfig config, RedisAddress address)
    : config_(std::move(config)),
      address_(std::move(address)),
      channel_(config_.key_prefix + "events") {
  writer_ = std::thread([this] { writer_loop(); });
  subscriber_ = std::thread([this] { subscriber_loop(); });
}

RedisRegistry::~RedisRegistry() {
  stop_ = true;
  {
    std::lock_guard lock(owned_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();  // withdraws what this process holds on its way out
  subscriber_.join();
}

void RedisRegistry::publish_stream(const StreamEntry& entry) {
  {
    std::lock_guard lock(owned_mutex_);
    if (lost_.contains({entry.playback_id, entry.session})) return;
    auto [it, inserted] = owned_.try_emplace(entry.playback_id, Owned{entry});
    if (!inserted) {
      if (it->second.entry == entry) return;
      if (it->second.entry.session != entry.session) it->second.claimed = false;
      it->second.entry = entry;
      it->second.dirty = true;
    }
  }
  {
    // Reads of this process see its own writes at once.
    std::lock_guard lock(view_mutex_);
    streams_[entry.playback_id] = entry;
  }
  wake_.notify_all();
}

void RedisRegistry::withdraw_stream(const std::string& playback_id, const std::string& session) {
  {
    std::lock_guard lock(owned_mutex_);
    lost_.erase({playback_id, session});
    if (auto it = owned_.find(playback_id);
        it != owned_.end() && it->second.entry.session == session)
      owned_.erase(it);
    withdrawals_.emplace_back(playback_id, session);
  }
  {
    std::lock_guard lock(view_mutex_);
    if (auto it = streams_.find(playback_id); it != streams_.end() && it->second.session == session)
      streams_.erase(it);
  }
  wake_.notify_all();
}

void RedisRegistry::publish_node(const NodeEntry& entry) {
  {
    std::lock_guard lock(owned_mutex_);
    if (node_ && *node_ == entry) return;
    node_ = entry;
    node_dirty_ = true;
  }
  {
    std::lock_guard lock(view_mutex_);
    nodes_[entry.address] = entry;
  }
  wake_.notify_all();
}

std::optional<StreamEntry> RedisRegistry::find_stream(std::string_view playback_id) const {
  std::lock_guard lock(view_mutex_);
  if (auto it = streams_.find(playback_id); it != streams_.end()) return it->second;
  return std::nullopt;
}

std::vector<StreamEntry> RedisRegistry::streams() const {
  std::lock_guard lock(view_mutex_);
  std::vector<StreamEntry> out;
  for (const auto& [id, e] : streams_)
    out.push_back(e);
  return out;
}

std::vector<NodeEntry> RedisRegistry::nodes() const {
  std::lock_guard lock(view_mutex_);
  std::vector<NodeEntry> out;
  for (const auto& [address, e] : nodes_)
    out.push_back(e);
  return out;
}

RegistryHealth RedisRegistry::health() const {
  return RegistryHealth{writer_connected_ && subscriber_connected_, errors_.load(),
                        reconnects_.load(), events_.load()};
}

std::string RedisRegistry::describe() const {
  return "redis " + address_.host + ":" + std::to_string(address_.port) + "/" +
         std::to_string(address_.db) + " (ttl " + std::to_string(config_.ttl_s) + " s)";
}

void RedisRegistry::apply_event(std::string_view message) {
  if (message.empty()) return;
  const char kind = message.front();
  message.remove_prefix(1);
  std::lock_guard lock(view_mutex_);
  if (kind == 'S') {
    if (auto e = decode_stream(message)) streams_[e->playback_id] = *e;
  } else if (kind == 'N') {
    if (auto e = decode_node(message)) nodes_[e->address] = *e;
  } else if (kind == 'D') {
    // "D<playbackId> <session>"
    const auto space = message.find(' ');
    if (space == std::string_view::npos) return;
    const auto id = message.substr(0, space);
    if (auto it = streams_.find(id);
        it != streams_.end() && it->second.session == message.substr(space + 1))
      streams_.erase(it);
  }
}

void RedisRegistry::note_error(const std::string& what) {
  const auto n = errors_.fetch_add(1) + 1;
  // One line per outage rather than one per retry.
  if (n == 1 || writer_connected_ || subscriber_connected_) spdlog::warn("registry: {}", what);
}

void RedisRegistry::wait_backoff(std::chrono::milliseconds& backoff) {
  std::unique_lock lock(owned_mutex_);
  wake_.wait_for(lock, backoff, [this] { return stopping_; });
  backoff = std::min(backoff * 2, kMaxBackoff);
}

bool RedisRegistry::write_pending(Connection& redis) {
  const std::string ttl =
      std::to_string(static_cast<long long>(std::llround(config_.ttl_s * 1000)));
  std::vector<std::pair<std::string, std::string>> withdrawals;
  std::vector<Owned> dirty;
  std::optional<NodeEntry> node;
  {
    std::lock_guard lock(owned_mutex_);
    withdrawals.swap(withdrawals_);
    for (auto& [id, o] : owned_) {
      if (!o.dirty) continue;
      dirty.push_back(o);
      o.dirty = false;
      o.claimed = true;
    }
    if (node_dirty_) node = node_;
    node_dirty_ = false;
  }
  const auto requeue = [&] {
    std::lock_guard lock(owned_mutex_);
    withdrawals_.insert(withdrawals_.begin(), withdrawals.begin(), withdrawals.end());
    for (const auto& o : dirty) {
      if (auto it = owned_.find(o.entry.playback_id);
          it != owned_.end() && it->second.entry.session == o.entry.session) {
        it->second.dirty = true;
        it->second.claimed = it->second.claimed && o.claimed;
      }
    }
    if (node) node_dirty_ = true;
  };
  for (std::size_t i = 0; i < withdrawals.size(); ++i) {
    const auto& [id, session] = withdrawals[i];
    auto r = redis.command({"EVAL", kWithdrawScript, "1", config_.key_prefix + "stream:" + id,
                            session, channel_, "D" + id + " " + session});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      note_error("withdraw " + id + ": " + redis.describe(r.get()));
      withdrawals.erase(withdrawals.begin(), withdrawals.begin() + static_cast<long>(i));
      requeue();
      return false;  // reconnect with backoff rather than retry at once
    }
  }
  withdrawals.clear();
  for (std::size_t i = 0; i < dirty.size(); ++i) {
    const Owned& o = dirty[i];
    const std::string value = encode(o.entry);
    const std::string key = config_.key_prefix + "stream:" + o.entry.playback_id;
    auto r =
        o.claimed
            ? redis.command({"EVAL", kRenewScript, "1", key, value, ttl, channel_, "S" + value,
                             o.entry.session})
            : redis.command({"EVAL", kClaimScript, "1", key, value, ttl, channel_, "S" + value});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      note_error("register " + o.entry.playback_id + ": " + redis.describe(r.get()));
      dirty.erase(dirty.begin(), dirty.begin() + static_cast<long>(i));
      requeue();
      return false;  // reconnect with backoff rather than retry at once
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
      spdlog::info("registry: stream {} is now held by another session; no longer renewing it",
                   o.entry.playback_id);
      std::lock_guard lock(owned_mutex_);
      lost_.insert({o.entry.playback_id, o.entry.session});
      if (auto it = owned_.find(o.entry.playback_id);
          it != owned_.end() && it->second.entry.session == o.entry.session)
        owned_.erase(it);
    }
  }
  if (node) {
    const std::string value = encode(*node);
    auto r = redis.command({"EVAL", kNodeScript, "1", config_.key_prefix + "node:" + node->address,
                            value, ttl, channel_, "N" + value});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      note_error("register node: " + redis.describe(r.get()));
      dirty.clear();
      requeue();
      return false;  // reconnect with backoff rather than retry at once
    }
  }
  return true;
}

bool RedisRegistry::renew_all(Connection& redis) {
  {
    std::lock_guard lock(owned_mutex_);
    for (auto& [id, o] : owned_)
      o.dirty = true;
    node_dirty_ = node_.has_value();
  }
  return write_pending(redis);
}

bool RedisRegistry::resync(Connection& redis, bool keep_absent) {
  // SCAN, then MGET per batch; entries that expire in between are simply absent.
  const auto read_all = [&](const std::string& pattern, std::vector<std::string>& values) {
    std::string cursor = "0";
    do {
      auto r = redis.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        note_error("resync: " + redis.describe(r.get()));
        return false;
      }
      cursor.assign(r->element[0]->str, r->element[0]->len);
      const redisReply* keys = r->element[1];
      if (keys->elements == 0) continue;
      std::vector<std::string> args{"MGET"};
      for (std::size_t i = 0; i < keys->elements; ++i)
        args.emplace_back(keys->element[i]->str, keys->element[i]->len);
      auto m = redis.command(args);
      if (!m || m->type != REDIS_REPLY_ARRAY) {
        note_error("resync: " + redis.describe(m.get()));
        return false;
      }
      for (std::size_t i = 0; i < m->elements; ++i) {
        if (m->element[i]->type == REDIS_REPLY_STRING)
          values.emplace_back(m->element[i]->str, m->element[i]->len);
      }
    } while (cursor != "0");
    return true;
  };
  std::vector<std::string> stream_values, node_values;
  if (!read_all(config_.key_prefix + "stream:*", stream_values) ||
      !read_all(config_.key_prefix + "node:*", node_values)) {
    return false;
  }
  std::map<std::string, StreamEntry, std::less<>> streams;
  std::map<std::string, NodeEntry, std::less<>> nodes;
  for (const auto& v : stream_values) {
    if (auto e = decode_stream(v)) streams[e->playback_id] = *e;
  }
  for (const auto& v : node_values) {
    if (auto e = decode_node(v)) nodes[e->address] = *e;
  }
  {
    // What this process holds is authoritative for it, even before Redis has it.
    std::lock_guard lock(owned_mutex_);
    for (const auto& [id, o] : owned_)
      streams[id] = o.entry;
    if (node_) nodes[node_->address] = *node_;
  }
  std::lock_guard lock(view_mutex_);
  if (keep_absent) {
    streams.merge(streams_);
    nodes.merge(nodes_);
  }
  streams_.swap(streams);
  nodes_.swap(nodes);
  return true;
}

void RedisRegistry::writer_loop() {
  using Clock = std::chrono::steady_clock;
  const auto heartbeat = std::chrono::milliseconds(std::llround(config_.ttl_s * 1000 / 3));
  const auto resync_every = std::chrono::milliseconds(std::llround(config_.resync_s * 1000));
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    {
      std::lock_guard lock(owned_mutex_);
      if (stopping_) return;  // never connected since the last failure: nothing to withdraw
    }
    std::string error;
    auto redis = Connection::open(address_, error);
    if (!redis) {
      note_error("cannot connect to " + address_.host + ":" + std::to_string(address_.port) + ": " +
                 error);
      writer_connected_ = false;
      wait_backoff(backoff);
      continue;
    }
    // Every server renews what it holds as soon as it reconnects, retrying at most
    // kMaxBackoff apart: until then (or a TTL), what a Redis that came back empty lacks may be
    // live, so the view keeps it.
    const auto keep_absent_until =
        Clock::now() + std::max<Clock::duration>(heartbeat * 3, kMaxBackoff + 1s);
    if (!renew_all(*redis) || !resync(*redis, true)) {
      writer_connected_ = false;
      wait_backoff(backoff);
      continue;
    }
    if (!writer_connected_.exchange(true) && errors_ > 0) spdlog::info("registry: connected");
    reconnects_.fetch_add(1);
    backoff = std::chrono::milliseconds(100);
    auto next_heartbeat = Clock::now() + heartbeat;
    auto next_resync = Clock::now() + resync_every;
    bool healthy = true;
    while (healthy) {
      bool stopping = false, want_resync = false;
      {
        std::unique_lock lock(owned_mutex_);
        wake_.wait_until(lock, std::min(next_heartbeat, next_resync), [this] {
          if (stopping_ || resync_requested_ || node_dirty_ || !withdrawals_.empty()) return true;
          for (const auto& [id, o] : owned_)
            if (o.dirty) return true;
          return false;
        });
        stopping = stopping_;
        want_resync = std::exchange(resync_requested_, false);
      }
      if (stopping) {
        // Leave cleanly: withdraw what this process holds and the node itself.
        std::vector<std::pair<std::string, std::string>> held;
        std::optional<NodeEntry> node;
        {
          std::lock_guard lock(owned_mutex_);
          for (const auto& [id, o] : owned_)
            held.emplace_back(id, o.entry.session);
          owned_.clear();
          withdrawals_.insert(withdrawals_.end(), held.begin(), held.end());
          node_dirty_ = false;
          node = node_;
        }
        write_pending(*redis);
        if (node) redis->command({"DEL", config_.key_prefix + "node:" + node->address});
        return;
      }
      const auto now = Clock::now();
      if (now >= next_heartbeat) {
        healthy = renew_all(*redis);
        next_heartbeat = now + heartbeat;
      } else {
        healthy = write_pending(*redis);
      }
      if (healthy && (want_resync || now >= next_resync)) {
        healthy = resync(*redis, now < keep_absent_until);
        next_resync = now + resync_every;
      }
      healthy = healthy && redis->ok();
    }
    writer_connected_ = false;
    note_error("connection lost; reconnecting");
  }
}

void RedisRegistry::subscriber_loop() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    std::string error;
    auto redis = Connection::open(address_, error);
    if (!redis) {
      subscriber_connected_ = false;
      wait_backoff(backoff);
      continue;
    }
    auto r = redis->command({"SUBSCRIBE", channel_});
    if (!r || r->type != REDIS_REPLY_ARRAY) {
      subscriber_connected_ = false;
      wait_backoff(backoff);
      continue;
    }
    subscriber_connected_ = true;
    backoff = std::chrono::milliseconds(100);
    {
      // Anything published while we were away is only in the keys: re-read them.
      std::lock_guard lock(owned_mutex_);
      resync_requested_ = true;
    }
    wake_.notify_all();
    while (!stop_) {
      auto msg = redis->next_push(200ms);
      if (!redis->ok()) break;
      if (!msg) continue;
      // ["message", channel, payload]
      if (msg->type == REDIS_REPLY_ARRAY && msg->elements == 3 &&
          msg->element[2]->type == REDIS_REPLY_STRING) {
        events_.fetch_add(1, std::memory_order_relaxed);
        apply_event(std::string_view(msg->element[2]->str, msg->element[2]->len));
      }
    }
    subscriber_connected_ = false;
  }
}

}  // namespace sluice::registry
