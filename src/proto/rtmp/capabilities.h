// Enhanced RTMP capabilities in connect: what a server or client says it takes (fourCcList,
// videoFourCcInfoMap, audioFourCcInfoMap, capsEx), both ways.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/amf0/amf0.h"

namespace sluice::rtmp {

// capsEx flags (CapsExMask).
inline constexpr std::uint32_t kCapsExReconnect = 0x01;
inline constexpr std::uint32_t kCapsExMultitrack = 0x02;
inline constexpr std::uint32_t kCapsExModEx = 0x04;
inline constexpr std::uint32_t kCapsExTimestampNanoOffset = 0x08;

// What Sluice announces, as properties to add to a connect command object or _result:
// every codec it takes is decoded for the ladder and forwarded to players and relays; only
// H.264 and AAC are encoded. capsEx: multitrack (the main track is taken, the others
// skipped), ModEx and the nanosecond offset, and `reconnect` where that side sends or
// follows NetConnection.Connect.ReconnectRequest.
amf0::Properties sluice_capabilities(bool reconnect);

// The capsEx flags of a connect command object or _result (0 when absent or not a number).
std::uint32_t announced_caps_ex(const amf0::Value& object);

// The FourCCs `object` announces (a connect command object, or a connect _result's
// properties): fourCcList's entries, and the keys of the FourCcInfoMaps with any flag set,
// "*" for any. Bounded to a few dozen short strings, whatever the peer sends.
std::vector<std::string> announced_fourccs(const amf0::Value& object);

// Whether `fourccs` holds `fourcc` (compared without case, as the spec's own examples write
// "Hvc1"), or the wildcard.
bool announces(const std::vector<std::string>& fourccs, std::string_view fourcc);

}  // namespace sluice::rtmp
