// Signed playback's tokens travel in the URIs of the playlists: a player fetches child
// playlists, segments, parts and init segments by the URIs a playlist gives, so each of them
// gets the query parameter the playlist itself was asked with. Pure, unit-tested and fuzzed.
#pragma once

#include <string>
#include <string_view>

namespace sluice::http {

// `playlist` with `parameter` ("token=...") added to the query of every URI: the URI lines
// and the URI="..." attributes of tags (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT,
// EXT-X-RENDITION-REPORT, EXT-X-MEDIA, ...). `parameter` must need no escaping.
std::string with_query_parameter(std::string_view playlist, std::string_view parameter);

}  // namespace sluice::http
