// Reading a low-latency media playlist from the outside, as a player does: what to ask for to
// be answered when the next part exists. Pure code, unit-tested.
#pragma once

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

}  // namespace sluice::route
