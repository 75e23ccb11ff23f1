// The one admission step for every publisher, whatever protocol it came in on: split the
// publish name into key and options, validate the key, ask the authorizer, derive and check
// the playback ID. `sluice serve`'s ingests and `sluice proxy` run the same step, so a key
// is judged the same at the edge and on the server. The pure parts are free functions with
// unit tests; Admission adds the authorizer's asynchronous call between them.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "admission/auth.h"
#include "admission/stream_key.h"

namespace sluice::admission {

struct AdmissionConfig {
  PlaybackIdMode playback_id_mode = PlaybackIdMode::kHash;
  std::string playback_secret;
};

// A publish as an ingest protocol hands it over, after turning its own wire format into it.
struct PublishAttempt {
  std::string app;                // normalized application name
  std::string name;               // "<key>?<options>" as the client sent it
  std::string addr;               // the publisher's address
  std::string tc_url, flash_ver;  // RTMP connect fields; empty for other protocols
  std::uint64_t client_id = 0;
  std::string protocol = "rtmp";  // what it came in on: rtmp, rtmps
};

enum class RefusalKind {
  kDraining,       // this server is draining before it exits
  kBadKey,         // not 1-128 of [A-Za-z0-9_-]
  kUnauthorized,   // the authorizer said no
  kBadPlaybackId,  // the authorizer named an invalid playback ID
  kTaken,          // the server's hub would not take it: held by another publisher (take-over
                   // off) or the node is at its stream limit
  kNoCapacity,     // no server of the fleet can take it (the proxy's placement)
};

struct Refusal {
  RefusalKind kind;
  std::string description;  // for the log and the client
};

struct Admitted {
  std::string key;          // the secret stream key
  std::string options;      // the raw publish options after '?'
  std::string playback_id;  // public
  std::string reason;       // why the authorizer allowed it, for the log
};

using Verdict = std::variant<Admitted, Refusal>;

// The RTMP onStatus code a refusal is told with: NetStream.Publish.Failed where the client
// should try elsewhere (draining, no capacity), NetStream.Publish.BadName otherwise.
const char* rtmp_status_code(RefusalKind kind);

// First step, before the authorizer: the key must be valid and the server not draining.
std::variant<PublishName, Refusal> check_publish_name(std::string_view name, bool draining);

// Last step, with the authorizer's decision: the playback ID it named, or one derived from
// the key, and either must be valid.
Verdict settle(PublishName name, const PublishDecision& decision, const AdmissionConfig& config);

class Admission {
 public:
  // `auth` and `draining` (may be null: never draining) outlive this object.
  Admission(AdmissionConfig config, PublishAuthorizer& auth,
            const std::atomic<bool>* draining = nullptr);

  boost::asio::awaitable<Verdict> admit(const PublishAttempt& attempt);
  // The playback ID a play name asks for, if it is a valid one.
  static std::optional<std::string> playback_id_to_play(std::string_view name);

 private:
  const AdmissionConfig config_;
  PublishAuthorizer& auth_;
  const std::atomic<bool>* draining_;
};

}  // namespace sluice::admission
