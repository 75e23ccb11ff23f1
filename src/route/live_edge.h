// Reading a low-latency media playlist from the outside, as a player does: what to ask for to
// be answered when the next part exists. Pure code, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/routes.h"

namespace sluice::route {

// The blocking request for the part after the last one `playlist` lists: (_HLS_msn of the
// open segment, the part after its last) or, when no part follows the last whole segment,
// (the next segment, part 0). With _HLS_skip=YES where the playlist offers delta updates, as
// players ask. nullopt when the playlist cannot block (no CAN-BLOCK-RELOAD=YES or no parts) or
// has ended.
std::optional<http::HlsDirectives> next_part_request(std::string_view playlist);

// What a live media playlist (whole or delta) says its server holds: whole segments from
// first_segment up to next_segment (the one being made), parts from first_part up to
// next_part (the preload hint).
struct LiveWindow {
  std::uint64_t first_segment = 0;
  std::uint64_t next_segment = 0;
  std::optional<std::uint64_t> first_part;
  std::optional<std::uint64_t> next_part;
  double target_s = 0;       // EXT-X-TARGETDURATION
  double part_target_s = 0;  // PART-TARGET, 0 without parts
};
// nullopt for a playlist that has ended or that lacks what a live one must carry.
std::optional<LiveWindow> live_window(std::string_view playlist);

// Whether the server surely no longer has, or cannot yet have, segment or part `number`
// (`kind` kSegment, kFmp4Segment or kPart), judging by `window` read `age_s` ago: behind what
// it keeps past the window, or further ahead than it could have made since. So the origin
// answers names outside a live window without asking upstream.
bool surely_absent(const LiveWindow& window, http::RouteKind kind, std::uint64_t number,
                   double age_s);

}  // namespace sluice::route
