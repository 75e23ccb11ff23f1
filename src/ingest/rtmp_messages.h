// The RTMP messages a server sends (command answers, statuses, control), encoded once as
// bytes. Shared by the ingest sessions and the proxy, which answers connect itself.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "media/packet.h"
#include "proto/amf0/amf0.h"

namespace sluice::ingest {

inline constexpr std::uint32_t kCommandCsid = 3;
inline constexpr std::uint32_t kStreamCommandCsid = 5;
inline constexpr std::uint32_t kWindowAckSize = 2'500'000;

media::Bytes command_message(std::uint32_t csid, std::uint32_t stream_id,
                             std::initializer_list<amf0::Value> values);
media::Bytes data_message(std::uint32_t stream_id, std::initializer_list<amf0::Value> values);
amf0::Object status_object(const std::string& level, const std::string& code,
                           const std::string& description);
// onStatus on the play/publish stream.
media::Bytes on_status(const std::string& level, const std::string& code,
                       const std::string& description);
media::Bytes user_control(std::uint16_t event, std::uint32_t value);
// What a server sends to accept `connect`: Window Ack Size, Set Peer Bandwidth, Set Chunk
// Size (kPlayChunkSize) and the _result with NetConnection.Connect.Success.
media::Bytes connect_accepted(double txid, double object_encoding);
media::Bytes connect_rejected(double txid, const std::string& description);
// "stream", "stream/", "stream?x=y" all name the app "stream".
std::string normalize_app(std::string app);

}  // namespace sluice::ingest
