// The RTMP messages a server sends (command answers, statuses, control), encoded once as
// bytes. Used by the server's sessions and by the proxy, which answers the command phase
// itself (both through CommandPhase), and by the players' fan-out (the chunk size and the
// message stream ID below).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "media/packet.h"
#include "proto/amf0/amf0.h"

namespace sluice::rtmp {

inline constexpr std::uint32_t kCommandCsid = 3;
inline constexpr std::uint32_t kStreamCommandCsid = 5;
inline constexpr std::uint32_t kServerWindowAckSize = 2'500'000;
// The chunk size a server announces in its connect answer and sends everything at.
inline constexpr std::uint32_t kServerChunkSize = 4096;
// The message stream ID createStream answers; publish and play happen on it.
inline constexpr std::uint32_t kMediaStreamId = 1;

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
// Size (kServerChunkSize) and the _result with NetConnection.Connect.Success, whose
// properties say what Enhanced RTMP this server takes (server_capabilities).
media::Bytes connect_accepted(double txid, double object_encoding);
// The connect _result's properties: fmsVer and capabilities, and Enhanced RTMP's fourCcList,
// videoFourCcInfoMap, audioFourCcInfoMap and capsEx.
amf0::Object server_capabilities();
media::Bytes connect_rejected(double txid, const std::string& description);
// Enhanced RTMP's NetConnection onStatus NetConnection.Connect.ReconnectRequest, without a
// tcUrl: the client reconnects to the URL it used (behind `sluice proxy`, the fleet's door,
// which places it on a server that is not draining).
media::Bytes reconnect_request(const std::string& description);
// "stream", "stream/", "stream?x=y" all name the app "stream".
std::string normalize_app(std::string app);

}  // namespace sluice::rtmp
