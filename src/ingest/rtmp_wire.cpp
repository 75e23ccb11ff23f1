#include "ingest/rtmp_wire.h"

#include "proto/rtmp/chunk.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::ingest {

namespace {

std::uint8_t rtmp_type(media::TrackKind kind) {
  switch (kind) {
    case media::TrackKind::kVideo:
      return rtmp::kVideo;
    case media::TrackKind::kAudio:
      return rtmp::kAudio;
    case media::TrackKind::kData:
      return rtmp::kDataAmf0;
  }
  return rtmp::kDataAmf0;
}

// Chunk stream ids for media sent to players (any value >= 3 works; these match librtmp).
std::uint32_t play_csid(media::TrackKind kind) {
  return kind == media::TrackKind::kAudio ? 4 : kind == media::TrackKind::kVideo ? 6 : 5;
}

media::SharedBytes encode(const media::Packet& packet) {
  return rtmp_chunks_on(packet, rtmp::kMediaStreamId);
}

}  // namespace

const media::SharedBytes& rtmp_chunks(const LiveItem& item) {
  return item.encoded(encode);
}

media::SharedBytes rtmp_chunks_on(const media::Packet& packet, std::uint32_t stream_id) {
  auto chunks = std::make_shared<media::Bytes>();
  const auto& body = *packet.body;
  chunks->reserve(body.size() + body.size() / rtmp::kServerChunkSize + 16);
  rtmp::encode_message(play_csid(packet.kind), rtmp_type(packet.kind), stream_id,
                       static_cast<std::uint32_t>(packet.dts_ms), body, rtmp::kServerChunkSize,
                       *chunks);
  return chunks;
}

}  // namespace sluice::ingest
