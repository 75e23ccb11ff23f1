// AMF0 command and data messages as chunk-stream bytes, for both sides of a connection
// (the server's answers in ingest, the publishing client of relays).
#pragma once

#include <cstdint>
#include <initializer_list>

#include "media/packet.h"
#include "proto/amf0/amf0.h"

namespace sluice::rtmp {

// `type` is kCommandAmf0 or kDataAmf0; timestamp 0; chunked at `chunk_size`.
media::Bytes amf0_message(std::uint32_t csid, std::uint8_t type, std::uint32_t stream_id,
                          std::initializer_list<amf0::Value> values, std::uint32_t chunk_size);

}  // namespace sluice::rtmp
