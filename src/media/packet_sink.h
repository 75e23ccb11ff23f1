// Where a publish session's packets go after the hub: HLS passthrough or a transcoder.
#pragma once

#include "media/packet.h"

namespace sluice::media {

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // Every packet of the session in order. Must not block: the publisher's I/O thread calls it.
  virtual void on_packet(const PacketPtr& packet) = 0;
  // The publisher left. Must not block either; the sink finishes its work in the background.
  virtual void end() = 0;
};

}  // namespace sluice::media
