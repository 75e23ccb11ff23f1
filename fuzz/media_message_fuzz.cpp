// An RTMP audio or video message body as ingest reads it (legacy or Enhanced RTMP), then the
// codec headers the packaging reads from what it yields: no crash, and a packet's payload
// lies within its body. The first byte picks audio or video.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "ingest/media_message.h"
#include "media/av1.h"
#include "media/opus.h"
#include "media/video_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto kind =
      data[0] & 1 ? sluice::media::TrackKind::kVideo : sluice::media::TrackKind::kAudio;
  auto body = std::make_shared<const sluice::media::Bytes>(data + 1, data + size);
  sluice::ingest::MediaMessageReader reader;
  auto packet = reader.read(kind, body);
  if (!packet || !*packet) return 0;
  const auto& p = **packet;
  if (!p.body || p.payload_offset > p.body->size()) __builtin_trap();
  const auto payload = p.payload();
  if (p.kind == sluice::media::TrackKind::kVideo) {
    if (p.config) (void)sluice::media::describe_video_config(p.codec, payload);
    if (p.codec == sluice::media::Codec::kAv1) (void)sluice::media::av1_sequence_size(payload);
  } else if (p.codec == sluice::media::Codec::kOpus) {
    if (p.config) {
      (void)sluice::media::parse_opus_head(payload);
    } else if (auto samples = sluice::media::opus_packet_samples(payload);
               samples && *samples > 5760) {
      __builtin_trap();
    }
  }
  return 0;
}
