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
};

inline constexpr std::size_t kMaxStreamIdLength = 512;  // SRT's own limit

// `app` is the application a resource may name before its "/" (rtmp.app); another is refused.
Result<StreamRequest> parse_stream_id(std::string_view stream_id, std::string_view app);

}  // namespace sluice::srt
