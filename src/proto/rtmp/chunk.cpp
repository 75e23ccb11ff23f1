#include "proto/rtmp/chunk.h"

#include <algorithm>
#include <cassert>
#include <memory>
#include <string>

namespace sluice::rtmp {
namespace {

constexpr std::uint32_t kTimestampEscape = 0xFFFFFF;
// 3-byte basic header + 11-byte fmt-0 message header + 4-byte extended timestamp.
constexpr std::size_t kMaxHeaderSize = 18;
[[maybe_unused]] constexpr std::uint32_t kMinCsid = 2;
[[maybe_unused]] constexpr std::uint32_t kMaxCsid = 65599;
constexpr std::uint32_t kControlCsid = 2;
constexpr std::uint32_t kDefaultChunkSize = 128;

std::uint32_t be24(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
}
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
// The message stream id is the one little-endian field in RTMP.
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 | p[0];
}
void put_be24(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  put_be24(out, v);
}
void put_le32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_basic_header(std::vector<std::uint8_t>& out, std::uint8_t fmt, std::uint32_t csid) {
  const auto f = static_cast<std::uint8_t>(fmt << 6);
  if (csid < 64) {
    out.push_back(static_cast<std::uint8_t>(f | csid));
  } else if (csid < 64 + 256) {
    out.push_back(f);
    out.push_back(static_cast<std::uint8_t>(csid - 64));
  } else {
    out.push_back(f | 1);
    out.push_back(static_cast<std::uint8_t>((csid - 64) & 0xFF));
    out.push_back(static_cast<std::uint8_t>((csid - 64) >> 8));
  }
}

// Grows `v` geometrically but never past the declared message length, so a peer that
// declares a large message pays for the memory with bytes actually sent.
void append_capped(std::vector<std::uint8_t>& v, std::span<const std::uint8_t> data,
                   std::uint32_t length) {
  if (v.capacity() - v.size() < data.size()) {
    v.reserve(std::max<std::size_t>(v.size() + data.size(),
                                    std::min<std::size_t>(length, v.capacity() * 2)));
  }
  v.insert(v.end(), data.begin(), data.end());
}

std::string csid_prefix(std::uint32_t csid) {
  return "rtmp chunk: csid " + std::to_string(csid);
}

std::string hex(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const unsigned d = (v >> shift) & 0xF;
    if (d != 0 || started || shift == 0) {
      s.push_back(kDigits[d]);
      started = true;
    }
  }
  return s;
}

}  // namespace

ChunkDecoder::ChunkDecoder(DecoderLimits limits) : limits_(limits) {}

std::size_t ChunkDecoder::buffered_bytes() const {
  std::size_t total = pending_.size();
  for (const auto& [csid, cs] : streams_)
    total += cs.partial.size();
  return total;
}

Status ChunkDecoder::feed(std::span<const std::uint8_t> in, std::vector<Message>& out) {
  if (failed_) return make_error(Errc::kMalformed, "rtmp chunk: decoder fed after an error");
  while (!in.empty()) {
    std::size_t used = 0;
    bool need_more = false;
    if (chunk_left_ == 0 && !pending_.empty()) {
      // Complete the buffered header prefix with just enough new bytes to parse it.
      const std::size_t before = pending_.size();
      const std::size_t take = std::min(in.size(), kMaxHeaderSize - before);
      pending_.insert(pending_.end(), in.begin(), in.begin() + take);
      if (auto st = parse_header(pending_, used, out, need_more); !st) {
        failed_ = true;
        return st;
      }
      if (need_more) return Ok{};  // all of `in` is now in pending_
      if (used >= before) {
        in = in.subspan(used - before);
        pending_.clear();
        continue;
      }
      // The fmt-3 extended timestamp peek buffered bytes that turned out to be payload (at
      // most 3). Run them through first; `in` is still untouched.
      const std::vector<std::uint8_t> rest(pending_.begin() + used, pending_.begin() + before);
      pending_.clear();
      if (auto st = feed(rest, out); !st) return st;
      continue;
    }
    if (auto st = parse_one(in, used, out, need_more); !st) {
      failed_ = true;
      return st;
    }
    if (need_more) {
      pending_.assign(in.begin(), in.end());
      return Ok{};
    }
    in = in.subspan(used);
  }
  return Ok{};
}

Status ChunkDecoder::parse_one(std::span<const std::uint8_t> in, std::size_t& used,
                               std::vector<Message>& out, bool& need_more) {
  if (chunk_left_ == 0) return parse_header(in, used, out, need_more);
  const std::size_t n = std::min<std::size_t>(chunk_left_, in.size());
  ChunkStream& cs = *current_;
  append_capped(cs.partial, in.first(n), cs.length);
  chunk_left_ -= static_cast<std::uint32_t>(n);
  used = n;
  if (cs.partial.size() == cs.length) return finish_message(current_csid_, cs, out);
  return Ok{};
}

Status ChunkDecoder::parse_header(std::span<const std::uint8_t> in, std::size_t& used,
                                  std::vector<Message>& out, bool& need_more) {
  need_more = true;
  if (in.empty()) return Ok{};
  const std::uint8_t fmt = in[0] >> 6;
  std::uint32_t csid = in[0] & 0x3F;
  std::size_t pos = 1;
  if (csid == 0) {
    if (in.size() < 2) return Ok{};
    csid = 64u + in[1];
    pos = 2;
  } else if (csid == 1) {
    if (in.size() < 3) return Ok{};
    csid = 64u + in[1] + 256u * in[2];
    pos = 3;
  }

  auto it = streams_.find(csid);
  if (fmt != 0 && (it == streams_.end() || !it->second.has_header)) {
    return make_error(Errc::kMalformed, csid_prefix(csid) + " fmt " + std::to_string(fmt) +
                                            " chunk with no previous header on this chunk stream");
  }
  if (it == streams_.end() && streams_.size() >= limits_.max_chunk_streams) {
    return make_error(Errc::kLimitExceeded, csid_prefix(csid) + " would be chunk stream " +
                                                std::to_string(streams_.size() + 1) + " > limit " +
                                                std::to_string(limits_.max_chunk_streams));
  }

  static constexpr std::size_t kMessageHeaderSize[] = {11, 7, 3, 0};
  const std::size_t mh = kMessageHeaderSize[fmt];
  if (in.size() < pos + mh) return Ok{};
  const std::uint8_t* h = in.data() + pos;
  std::uint32_t ts_field = 0, length = 0, stream_id = 0;
  std::uint8_t type = 0;
  bool extended = false;
  if (fmt <= 2) {
    ts_field = be24(h);
    extended = ts_field == kTimestampEscape;
  }
  if (fmt <= 1) {
    length = be24(h + 3);
    type = h[6];
  }
  if (fmt == 0) stream_id = le32(h + 7);
  pos += mh;

  if (extended) {
    if (in.size() < pos + 4) return Ok{};
    ts_field = be32(in.data() + pos);
    pos += 4;
  } else if (fmt == 3 && it->second.extended) {
    // Clients disagree on whether fmt-3 chunks repeat the extended timestamp (FMS, librtmp
    // and FFmpeg do; some encoders don't). Take the 4 bytes as the repeat only when they
    // equal the stored value; otherwise they are payload.
    if (in.size() < pos + 4) return Ok{};
    if (be32(in.data() + pos) == it->second.ts_field) pos += 4;
  }
  if (fmt <= 1 && length > limits_.max_message_size) {
    return make_error(Errc::kLimitExceeded, csid_prefix(csid) + " message length " +
                                                std::to_string(length) + " > limit " +
                                                std::to_string(limits_.max_message_size));
  }

  // The header is complete and valid: commit it.
  need_more = false;
  used = pos;
  if (it == streams_.end()) it = streams_.emplace(csid, ChunkStream{}).first;
  ChunkStream& cs = it->second;
  if (fmt != 3 && !cs.partial.empty()) {
    // A new header in the middle of a message: the sender gave up on it without an Abort.
    // Drop it, as FFmpeg does, rather than fail the session.
    cs.partial = {};
  }
  const bool new_message = cs.partial.empty();
  if (fmt != 3) {
    cs.ts_field = ts_field;
    cs.extended = extended;
  }
  if (fmt <= 1) {
    cs.length = length;
    cs.type = type;
  }
  if (fmt == 0) {
    cs.stream_id = stream_id;
    cs.timestamp = ts_field;
    cs.has_header = true;
  } else if (new_message) {
    // fmt 1/2 carry a delta; a fmt-3 chunk that starts a message repeats the previous
    // timestamp field as its delta, which after fmt 0 is that header's absolute value
    // (as FFmpeg reads it). Unsigned addition wraps at 2^32 like the wire.
    cs.timestamp += cs.ts_field;
  }

  if (new_message && cs.length == 0) return finish_message(csid, cs, out);
  current_ = &cs;
  current_csid_ = csid;
  chunk_left_ = std::min<std::uint32_t>(chunk_size_, cs.length - cs.partial.size());
  return Ok{};
}

Status ChunkDecoder::finish_message(std::uint32_t csid, ChunkStream& cs,
                                    std::vector<Message>& out) {
  Message m;
  m.csid = csid;
  m.type = cs.type;
  m.stream_id = cs.stream_id;
  m.timestamp = cs.timestamp;
  m.payload = std::make_shared<const media::Bytes>(std::move(cs.partial));
  cs.partial = {};

  if (m.type == kSetChunkSize || m.type == kAbort) {
    auto value = parse_u32_body(*m.payload);
    if (!value) {
      return make_error(Errc::kMalformed, csid_prefix(csid) + " message type " +
                                              std::to_string(m.type) + ": " +
                                              value.error().message);
    }
    if (m.type == kSetChunkSize) {
      // Applied now, so the next chunk header in this same buffer is read with the new size.
      if (*value == 0 || (*value & 0x80000000u) != 0) {
        return make_error(Errc::kMalformed,
                          csid_prefix(csid) + " invalid set chunk size " + hex(*value));
      }
      if (*value > limits_.max_chunk_size) {
        return make_error(Errc::kLimitExceeded, csid_prefix(csid) + " set chunk size " +
                                                    std::to_string(*value) + " > limit " +
                                                    std::to_string(limits_.max_chunk_size));
      }
      chunk_size_ = *value;
    } else if (auto target = streams_.find(*value); target != streams_.end()) {
      target->second.partial = {};
    }
  }
  out.push_back(std::move(m));
  return Ok{};
}

void encode_message(std::uint32_t csid, std::uint8_t type, std::uint32_t stream_id,
                    std::uint32_t timestamp, std::span<const std::uint8_t> payload,
                    std::uint32_t chunk_size, std::vector<std::uint8_t>& out) {
  assert(csid >= kMinCsid && csid <= kMaxCsid);
  assert(chunk_size > 0);
  assert(payload.size() <= 0xFFFFFF);
  const bool extended = timestamp >= kTimestampEscape;
  const std::size_t chunks = payload.empty() ? 1 : (payload.size() + chunk_size - 1) / chunk_size;
  const std::size_t needed = out.size() + payload.size() + kMaxHeaderSize + (chunks - 1) * 7;
  // Callers append many messages to one buffer: keep growth geometric.
  if (out.capacity() < needed) out.reserve(std::max(needed, out.capacity() * 2));

  put_basic_header(out, 0, csid);
  put_be24(out, extended ? kTimestampEscape : timestamp);
  put_be24(out, static_cast<std::uint32_t>(payload.size()));
  out.push_back(type);
  put_le32(out, stream_id);
  if (extended) put_be32(out, timestamp);
  std::size_t off = 0;
  while (true) {
    const std::size_t n = std::min<std::size_t>(chunk_size, payload.size() - off);
    out.insert(out.end(), payload.begin() + off, payload.begin() + off + n);
    off += n;
    if (off == payload.size()) break;
    put_basic_header(out, 3, csid);
    if (extended) put_be32(out, timestamp);
  }
}

std::optional<std::uint32_t> AckCounter::on_received(std::size_t bytes) {
  total_ += static_cast<std::uint32_t>(bytes);
  if (window_ == 0) return std::nullopt;
  if (bytes >= window_ || static_cast<std::uint32_t>(total_ - last_ack_) >= window_) {
    last_ack_ = total_;
    return total_;
  }
  return std::nullopt;
}

namespace {
void write_control(std::uint8_t type, std::span<const std::uint8_t> body,
                   std::vector<std::uint8_t>& out) {
  encode_message(kControlCsid, type, 0, 0, body, kDefaultChunkSize, out);
}
std::vector<std::uint8_t> u32_body(std::uint32_t v) {
  std::vector<std::uint8_t> body;
  put_be32(body, v);
  return body;
}
}  // namespace

void write_set_chunk_size(std::uint32_t size, std::vector<std::uint8_t>& out) {
  assert(size > 0 && (size & 0x80000000u) == 0);
  write_control(kSetChunkSize, u32_body(size), out);
}

void write_window_ack_size(std::uint32_t size, std::vector<std::uint8_t>& out) {
  write_control(kWindowAckSize, u32_body(size), out);
}

void write_set_peer_bandwidth(std::uint32_t size, std::uint8_t limit_type,
                              std::vector<std::uint8_t>& out) {
  auto body = u32_body(size);
  body.push_back(limit_type);
  write_control(kSetPeerBandwidth, body, out);
}

void write_acknowledgement(std::uint32_t sequence, std::vector<std::uint8_t>& out) {
  write_control(kAcknowledgement, u32_body(sequence), out);
}

void write_user_control(std::uint16_t event, std::uint32_t value, std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> body = {static_cast<std::uint8_t>(event >> 8),
                                    static_cast<std::uint8_t>(event)};
  put_be32(body, value);
  write_control(kUserControl, body, out);
}

Result<std::uint32_t> parse_u32_body(std::span<const std::uint8_t> body) {
  if (body.size() < 4) {
    return make_error(Errc::kMalformed,
                      "rtmp control: body of " + std::to_string(body.size()) + " bytes, need 4");
  }
  return be32(body.data());
}

Result<UserControl> parse_user_control(std::span<const std::uint8_t> body) {
  if (body.size() < 6) {
    return make_error(Errc::kMalformed, "rtmp user control: body of " +
                                            std::to_string(body.size()) + " bytes, need 6");
  }
  UserControl uc;
  uc.event = static_cast<std::uint16_t>(body[0] << 8 | body[1]);
  uc.value = be32(body.data() + 2);
  if (uc.event == kSetBufferLength) {
    if (body.size() < 10) {
      return make_error(Errc::kMalformed, "rtmp user control: set buffer length body of " +
                                              std::to_string(body.size()) + " bytes, need 10");
    }
    uc.value2 = be32(body.data() + 6);
  }
  return uc;
}

}  // namespace sluice::rtmp
