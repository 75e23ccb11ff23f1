// The SRT stream ID a caller sends in its handshake, which says what it wants: SRT's access
// control form ("#!::r=stream/KEY,m=publish", comma-separated key=value pairs after "#!::")
// or a plain "KEY" (or "stream/KEY"), which publishes. Pure, so it is unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "media/result.h"

namespace sluice::srt {

enum class Mode { kPublish, kPlay };

struct StreamRequest {
  Mode mode = Mode::kPublish;
  std::string name;  // publish: "<key>[?<options>]", as an RTMP publish name; play: playback ID
  std::string user;  // "u", if given
  // "sluice_client": the caller's address, as `sluice proxy` passes it on to a server (which
  // believes it only from a proxy it trusts). Empty if not given.
  std::string client;
};

inline constexpr std::size_t kMaxStreamIdLength = 512;  // SRT's own limit

// `app` is the application a resource may name before its "/" (rtmp.app); another is refused.
Result<StreamRequest> parse_stream_id(std::string_view stream_id, std::string_view app);

// The stream ID a proxy sends on for a caller at `client_address`: the caller's, in the
// access control form, with "sluice_client" set (replacing any the caller sent). The caller's
// own stream ID if that cannot be done: a plain form that would not survive the rewriting (it
// has ',' or '='), or a result over the length limit.
std::string with_client_address(std::string_view stream_id, std::string_view client_address);

}  // namespace sluice::srt
