// How RTMP players and relays send a stream's packets: each live item as chunks at the
// server's chunk size on its media message stream, encoded once per item by the first RTMP
// subscriber that needs it and shared by all (a pointer copy per player, never a payload copy).
#pragma once

#include <cstdint>

#include "ingest/stream_hub.h"
#include "media/packet.h"

namespace sluice::ingest {

const media::SharedBytes& rtmp_chunks(const LiveItem& item);

// The same chunks on another message stream: for a destination whose createStream answered
// an ID other than rtmp::kMediaStreamId (a relay's), encoded for it alone.
media::SharedBytes rtmp_chunks_on(const media::Packet& packet, std::uint32_t stream_id);

}  // namespace sluice::ingest
