#include "transcode/interleaver.h"

namespace sluice::transcode {

void Interleaver::audio(const media::PacketPtr& packet, bool has_video) {
  if (!has_video || (packet->config && held_.empty())) {
    emit_(packet);
    return;
  }
  held_.push_back(packet);
  while (!held_.empty() && packet->dts_ms - held_.front()->dts_ms > max_hold_ms_) {
    emit_(held_.front());
    held_.pop_front();
  }
}

void Interleaver::video(const media::PacketPtr& packet) {
  while (!held_.empty() && held_.front()->dts_ms <= packet->dts_ms) {
    emit_(held_.front());
    held_.pop_front();
  }
  emit_(packet);
}

void Interleaver::flush() {
  while (!held_.empty()) {
    emit_(held_.front());
    held_.pop_front();
  }
}

}  // namespace sluice::transcode
