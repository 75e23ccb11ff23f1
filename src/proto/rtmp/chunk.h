// RTMP chunk stream, sans-I/O: a push decoder from bytes to messages and a
// stateless encoder from messages to bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::rtmp {

// Message type ids: protocol control, user control, media, data and commands.
enum MessageType : std::uint8_t {
  kSetChunkSize = 1,
  kAbort = 2,
  kAcknowledgement = 3,
  kUserControl = 4,
  kWindowAckSize = 5,
  kSetPeerBandwidth = 6,
  kAudio = 8,
  kVideo = 9,
  kDataAmf3 = 15,
  kCommandAmf3 = 17,
  kDataAmf0 = 18,
  kCommandAmf0 = 20,
  kAggregate = 22,
};

struct Message {
  std::uint32_t csid = 0;
  std::uint8_t type = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t timestamp = 0;  // absolute, 32-bit, wraps like the wire value does
  media::SharedBytes payload;   // shared so the body can become a Packet without a copy
};

struct DecoderLimits {
  std::uint32_t max_message_size = 16u << 20;  // larger declared lengths are an error
  std::uint32_t max_chunk_size = 16u << 20;    // Set Chunk Size above this is an error
  std::size_t max_chunk_streams = 64;          // distinct csids with state
};

class ChunkDecoder {
 public:
  explicit ChunkDecoder(DecoderLimits limits = {});

  // Consumes all of `in` (partial chunks are buffered) and appends complete messages to
  // `out`. Set Chunk Size and Abort are applied here, at the exact byte where they complete,
  // and still reported. After an error the decoder must not be fed again.
  Status feed(std::span<const std::uint8_t> in, std::vector<Message>& out);

  std::uint32_t chunk_size() const { return chunk_size_; }
  // Bytes buffered for incomplete messages (for memory accounting).
  std::size_t buffered_bytes() const;

 private:
  struct ChunkStream {
    bool has_header = false;
    std::uint32_t timestamp = 0;  // absolute timestamp of the current/last message
    std::uint32_t ts_field = 0;   // last raw timestamp field (absolute for fmt 0, else delta)
    bool extended = false;        // last header carried an extended timestamp
    std::uint32_t length = 0;
    std::uint8_t type = 0;
    std::uint32_t stream_id = 0;
    std::vector<std::uint8_t> partial;  // payload collected so far
  };
  // One step: a chunk header (sets need_more if `in` holds only part of it) or as much of
  // the current chunk's payload as `in` holds. `used` is the number of bytes taken.
  Status parse_one(std::span<const std::uint8_t> in, std::size_t& used, std::vector<Message>& out,
                   bool& need_more);
  Status parse_header(std::span<const std::uint8_t> in, std::size_t& used,
                      std::vector<Message>& out, bool& need_more);
  Status finish_message(std::uint32_t csid, ChunkStream& cs, std::vector<Message>& out);

  DecoderLimits limits_;
  std::uint32_t chunk_size_ = 128;
  std::unordered_map<std::uint32_t, ChunkStream> streams_;
  // Bytes of an incomplete chunk header (at most 17). Payload bytes are never buffered here:
  // they go straight into the message they belong to.
  std::vector<std::uint8_t> pending_;
  // The chunk whose payload is being read. unordered_map keeps element addresses stable.
  ChunkStream* current_ = nullptr;
  std::uint32_t current_csid_ = 0;
  std::uint32_t chunk_left_ = 0;  // payload bytes of the current chunk not yet received
  bool failed_ = false;
};

// Appends `payload` as chunks: one fmt-0 chunk then fmt-3 continuations. Always fmt 0, so
// the bytes depend only on the arguments and one encoding can be shared by every player.
// Timestamps >= 0xFFFFFF use the extended field, repeated in fmt-3 chunks (as FMS and librtmp).
void encode_message(std::uint32_t csid, std::uint8_t type, std::uint32_t stream_id,
                    std::uint32_t timestamp, std::span<const std::uint8_t> payload,
                    std::uint32_t chunk_size, std::vector<std::uint8_t>& out);

// Counts received bytes for Acknowledgement messages. The sequence number
// is a 32-bit byte count that wraps; it is compared with modular arithmetic.
class AckCounter {
 public:
  void set_window(std::uint32_t window) { window_ = window; }
  // Returns the sequence number to acknowledge when a window has been crossed.
  std::optional<std::uint32_t> on_received(std::size_t bytes);
  std::uint32_t total() const { return total_; }

 private:
  std::uint32_t window_ = 0;  // 0 = peer never asked for acks
  std::uint32_t total_ = 0;
  std::uint32_t last_ack_ = 0;
};

// Protocol control and user control messages. Each appends a whole
// chunked message on csid 2, stream 0.
void write_set_chunk_size(std::uint32_t size, std::vector<std::uint8_t>& out);
void write_window_ack_size(std::uint32_t size, std::vector<std::uint8_t>& out);
void write_set_peer_bandwidth(std::uint32_t size, std::uint8_t limit_type,
                              std::vector<std::uint8_t>& out);
void write_acknowledgement(std::uint32_t sequence, std::vector<std::uint8_t>& out);

enum UserControlEvent : std::uint16_t {
  kStreamBegin = 0,
  kStreamEof = 1,
  kStreamDry = 2,
  kSetBufferLength = 3,
  kStreamIsRecorded = 4,
  kPingRequest = 6,
  kPingResponse = 7,
};
void write_user_control(std::uint16_t event, std::uint32_t value, std::vector<std::uint8_t>& out);

// Parses the 4-byte big-endian body of Set Chunk Size / Ack / Window Ack Size.
Result<std::uint32_t> parse_u32_body(std::span<const std::uint8_t> body);
struct UserControl {
  std::uint16_t event = 0;
  std::uint32_t value = 0;  // stream id or timestamp; buffer length events carry a second u32
  std::uint32_t value2 = 0;
};
Result<UserControl> parse_user_control(std::span<const std::uint8_t> body);

}  // namespace sluice::rtmp
