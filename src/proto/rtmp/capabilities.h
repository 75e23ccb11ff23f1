// Enhanced RTMP capabilities in connect: what a server or client says it takes (fourCcList,
// videoFourCcInfoMap, audioFourCcInfoMap, capsEx), both ways.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proto/amf0/amf0.h"

namespace sluice::rtmp {

// What Sluice announces, as properties to add to a connect command object or _result:
// every codec it takes is decoded for the ladder and forwarded to players and relays; only
// H.264 and AAC are encoded.
amf0::Properties sluice_capabilities();

// The FourCCs `object` announces (a connect command object, or a connect _result's
// properties): fourCcList's entries, and the keys of the FourCcInfoMaps with any flag set,
// "*" for any. Bounded to a few dozen short strings, whatever the peer sends.
std::vector<std::string> announced_fourccs(const amf0::Value& object);

// Whether `fourccs` holds `fourcc` (compared without case, as the spec's own examples write
// "Hvc1"), or the wildcard.
bool announces(const std::vector<std::string>& fourccs, std::string_view fourcc);

}  // namespace sluice::rtmp
