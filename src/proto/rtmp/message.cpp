#include "proto/rtmp/message.h"

#include "proto/rtmp/chunk.h"

namespace sluice::rtmp {

media::Bytes amf0_message(std::uint32_t csid, std::uint8_t type, std::uint32_t stream_id,
                          std::initializer_list<amf0::Value> values, std::uint32_t chunk_size) {
  media::Bytes body;
  for (const auto& v : values)
    amf0::encode(v, body);
  media::Bytes out;
  encode_message(csid, type, stream_id, 0, body, chunk_size, out);
  return out;
}

}  // namespace sluice::rtmp
