// The output port of a stream's renditions: what the transcoder's rungs and HLS passthrough
// write into, whoever consumes it. HLS packaging implements it (package/HlsStore), and so does
// a relay's own encode (relay/), which sends its one rendition to a destination. Packets are
// shared and immutable, so an implementation keeps them without a copy.
#pragma once

#include <cstdint>
#include <string>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::media {

inline constexpr const char* kSourceRendition = "source";

struct RenditionInfo {
  std::string name;  // "720p", or kSourceRendition for the source passed through
  // A floor for the rendition's advertised bandwidth (an encoder's rate cap); 0: measured only.
  std::uint64_t declared_peak_bps = 0;
};

// One rendition. Driven from one thread at a time.
class RenditionOutput {
 public:
  virtual ~RenditionOutput() = default;
  // Every packet of the rendition in order, config packets included. An error is per packet
  // (a malformed frame), logged by the caller; the output stays usable.
  virtual Status on_packet(const PacketPtr& packet) = 0;
  // The rendition ends: flush what is pending.
  virtual void end() = 0;
};

// One publish session's renditions. Not thread-safe itself; each rendition's output may then
// be driven from its own thread.
class RenditionSink {
 public:
  virtual ~RenditionSink() = default;
  // Opens (or returns the open) output of `info.name`. A rendition opened later joins the
  // others where they are (same segment numbers for the same time span).
  virtual RenditionOutput& rendition(const RenditionInfo& info) = 0;
  // Ends one rendition early (shed under overload, or gone after an input change).
  virtual void close_rendition(const std::string& name) = 0;
  // Ends every rendition: the end of the stream. Idempotent; implementations' destructors
  // call it.
  virtual void end() = 0;
};

}  // namespace sluice::media
