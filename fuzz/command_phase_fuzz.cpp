// Fuzzes the server's command phase with a client's bytes after the handshake (as the seed
// corpus, captured from ffmpeg, GStreamer and librtmp, holds). Every answer must be a valid
// chunk stream for the client, and a connection asks to publish or play at most once.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/rtmp/command_phase.h"

using namespace sluice::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ChunkDecoder decoder(
      {.max_message_size = 1 << 16, .max_chunk_size = 1 << 16, .max_chunk_streams = 8});
  std::vector<Message> messages;
  if (!decoder.feed(std::span(data, size), messages)) return 0;
  CommandPhase phase(
      {.app = "stream", .amf0_limits = {.max_depth = 8, .max_items = 256, .max_string = 4096}});
  ChunkDecoder client;  // what the client decodes of the answers
  std::vector<Message> answers;
  int requests = 0;
  for (const Message& m : messages) {
    if (m.type != kCommandAmf0 && m.type != kCommandAmf3) continue;
    auto step = phase.on_command(m);
    if (!step) break;
    if (!client.feed(step->reply, answers) || client.buffered_bytes() != 0) __builtin_trap();
    using Action = CommandStep::Action;
    if (step->action == Action::kPublish || step->action == Action::kPlay) ++requests;
    if (requests > 1) __builtin_trap();
    if (step->action == Action::kRefused || step->action == Action::kEnd) break;
  }
  return 0;
}
