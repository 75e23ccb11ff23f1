// Fuzzes the chunk decoder with reads of varying size; every decoded message must survive an
// encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/rtmp/chunk.h"

using namespace sluice::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = data[0] == 0 ? size : data[0];  // read size from the first byte
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  const DecoderLimits limits{
      .max_message_size = 1 << 16, .max_chunk_size = 1 << 16, .max_chunk_streams = 8};
  ChunkDecoder decoder(limits);
  std::vector<Message> messages;
  for (std::size_t i = 0; i < in.size(); i += step) {
    if (!decoder.feed(in.subspan(i, std::min(step, in.size() - i)), messages)) break;
  }
  for (const Message& m : messages) {
    if (m.csid < 2 || m.csid > 65599 || m.payload->size() > limits.max_message_size) {
      __builtin_trap();
    }
    std::vector<std::uint8_t> wire;
    encode_message(m.csid, m.type == kSetChunkSize ? kAudio : m.type, m.stream_id, m.timestamp,
                   *m.payload, 128, wire);
    ChunkDecoder again;
    std::vector<Message> out;
    if (!again.feed(wire, out) || out.size() != 1 || *out[0].payload != *m.payload ||
        out[0].timestamp != m.timestamp || out[0].stream_id != m.stream_id) {
      __builtin_trap();
    }
  }
  return 0;
}
