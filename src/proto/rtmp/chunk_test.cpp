#include "proto/rtmp/chunk.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes pattern(std::size_t n, std::uint8_t seed = 0) {
  Bytes b(n);
  for (auto& x : b)
    x = seed++;
  return b;
}

struct Expected {
  std::uint32_t csid;
  std::uint8_t type;
  std::uint32_t stream_id;
  std::uint32_t timestamp;
  Bytes payload;
};

void expect_messages(const std::vector<Message>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    EXPECT_EQ(got[i].csid, want[i].csid);
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].stream_id, want[i].stream_id);
    EXPECT_EQ(got[i].timestamp, want[i].timestamp);
    ASSERT_TRUE(got[i].payload);
    EXPECT_EQ(*got[i].payload, want[i].payload);
  }
}

// Decodes `in` in one feed and again one byte at a time; both must give `want`.
void expect_decodes(const Bytes& in, const std::vector<Expected>& want, DecoderLimits limits = {}) {
  {
    SCOPED_TRACE("whole");
    ChunkDecoder d(limits);
    std::vector<Message> out;
    auto st = d.feed(in, out);
    ASSERT_TRUE(st) << st.error().message;
    expect_messages(out, want);
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
  {
    SCOPED_TRACE("bytewise");
    ChunkDecoder d(limits);
    std::vector<Message> out;
    for (std::uint8_t b : in) {
      auto st = d.feed(std::span(&b, 1), out);
      ASSERT_TRUE(st) << st.error().message;
    }
    expect_messages(out, want);
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
  // Every two-read split, for inputs small enough to make that cheap.
  for (std::size_t cut = 1; in.size() <= 400 && cut < in.size(); ++cut) {
    SCOPED_TRACE("split at " + std::to_string(cut));
    ChunkDecoder d(limits);
    std::vector<Message> out;
    ASSERT_TRUE(d.feed(std::span(in).first(cut), out));
    ASSERT_TRUE(d.feed(std::span(in).subspan(cut), out));
    expect_messages(out, want);
  }
}

// Both ways of feeding must fail with `code` and a message containing `text`.
void expect_error(const Bytes& in, Errc code, const std::string& text, DecoderLimits limits = {}) {
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "bytewise" : "whole");
    ChunkDecoder d(limits);
    std::vector<Message> out;
    Status st = Ok{};
    if (bytewise) {
      for (std::size_t i = 0; i < in.size() && st; ++i)
        st = d.feed(std::span(in).subspan(i, 1), out);
    } else {
      st = d.feed(in, out);
    }
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, code);
    EXPECT_NE(st.error().message.find(text), std::string::npos) << st.error().message;
    auto again = d.feed(Bytes{0x03}, out);
    EXPECT_FALSE(again) << "a failed decoder must stay failed";
  }
}

// ---- message header formats ------------------------------------------------------------

TEST(ChunkDecoder, Fmt0SingleChunk) {
  const Bytes in = {
      0x03,                    // fmt 0, csid 3
      0x00, 0x03, 0xE8,        // timestamp 1000
      0x00, 0x00, 0x04,        // message length 4
      0x14,                    // type 20, AMF0 command
      0x01, 0x00, 0x00, 0x00,  // message stream id 1, little-endian
      'a',  'b',  'c',  'd',   // payload
  };
  expect_decodes(in, {{3, kCommandAmf0, 1, 1000, {'a', 'b', 'c', 'd'}}});
}

TEST(ChunkDecoder, Fmt1Fmt2Fmt3CarryDeltas) {
  const Bytes in = {
      0x04,                    // fmt 0, csid 4
      0x00, 0x00, 0x64,        // timestamp 100
      0x00, 0x00, 0x02,        // length 2
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0xAF, 0x01,              // payload
      0x44,                    // fmt 1, csid 4
      0x00, 0x00, 0x14,        // delta 20
      0x00, 0x00, 0x03,        // length 3
      0x09,                    // video
      0x17, 0x01, 0x00,        // payload
      0x84,                    // fmt 2, csid 4
      0x00, 0x00, 0x1E,        // delta 30; length 3 and type 9 are kept
      0x27, 0x01, 0x00,        // payload
      0xC4,                    // fmt 3, csid 4: a new message reusing delta 30
      0x27, 0x01, 0x01,        // payload
  };
  expect_decodes(in, {
                         {4, kAudio, 1, 100, {0xAF, 0x01}},
                         {4, kVideo, 1, 120, {0x17, 0x01, 0x00}},
                         {4, kVideo, 1, 150, {0x27, 0x01, 0x00}},
                         {4, kVideo, 1, 180, {0x27, 0x01, 0x01}},
                     });
}

TEST(ChunkDecoder, Fmt3AfterFmt0UsesTheAbsoluteTimestampAsDelta) {
  const Bytes in = {
      0x06,                    // fmt 0, csid 6
      0x00, 0x00, 0x28,        // timestamp 40
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0xA0,                    // payload
      0xC6, 0xA1,              // fmt 3: new message at 40 + 40
      0xC6, 0xA2,              // fmt 3: 80 + 40
  };
  expect_decodes(
      in, {{6, kAudio, 1, 40, {0xA0}}, {6, kAudio, 1, 80, {0xA1}}, {6, kAudio, 1, 120, {0xA2}}});
}

TEST(ChunkDecoder, TwoAndThreeByteBasicHeaders) {
  const Bytes in = {
      0x00, 0x00,              // fmt 0, 2-byte form: csid 64 + 0
      0x00, 0x00, 0x01,        // timestamp 1
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x11,                    // payload
      0x00, 0xFF,              // fmt 0, 2-byte form: csid 64 + 255 = 319
      0x00, 0x00, 0x02,        // timestamp 2
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x22,                    // payload
      0x01, 0x00, 0x01,        // fmt 0, 3-byte form: csid 64 + 0 + 256 * 1 = 320
      0x00, 0x00, 0x03,        // timestamp 3
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x33,                    // payload
      0x01, 0xFF, 0xFF,        // fmt 0, 3-byte form: csid 64 + 255 + 256 * 255 = 65599
      0x00, 0x00, 0x04,        // timestamp 4
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x44,                    // payload
      0x01, 0x0A, 0x00,        // fmt 0, 3-byte form of a small csid: 64 + 10 = 74
      0x00, 0x00, 0x05,        // timestamp 5
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x55,                    // payload
      0x40, 0xFF,              // fmt 1, 2-byte form, csid 319
      0x00, 0x00, 0x01,        // delta 1
      0x00, 0x00, 0x01,        // length 1
      0x09,                    // video
      0x66,                    // payload
      0xC1, 0xFF, 0xFF,        // fmt 3, 3-byte form, csid 65599: new message, delta 4
      0x77,                    // payload
  };
  expect_decodes(in, {{64, kAudio, 0, 1, {0x11}},
                      {319, kAudio, 0, 2, {0x22}},
                      {320, kAudio, 0, 3, {0x33}},
                      {65599, kAudio, 0, 4, {0x44}},
                      {74, kAudio, 0, 5, {0x55}},
                      {319, kVideo, 0, 3, {0x66}},
                      {65599, kAudio, 0, 8, {0x77}}});
}

// ---- chunking ----------------------------------------------------------------------------

TEST(ChunkDecoder, MessageSpanningChunksAtDefaultSize) {
  const Bytes body = pattern(300);
  const Bytes in = cat({
      {
          0x05,                    // fmt 0, csid 5
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x01, 0x2C,        // length 300
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      Bytes(body.begin(), body.begin() + 128),
      {0xC5},  // fmt 3 continuation, csid 5
      Bytes(body.begin() + 128, body.begin() + 256),
      {0xC5},  // fmt 3 continuation
      Bytes(body.begin() + 256, body.end()),
  });
  expect_decodes(in, {{5, kVideo, 1, 0, body}});

  Bytes encoded;
  encode_message(5, kVideo, 1, 0, body, 128, encoded);
  EXPECT_EQ(encoded, in);
}

TEST(ChunkDecoder, InterleavedChunkStreams) {
  const Bytes audio = pattern(200, 0x10);
  const Bytes video = pattern(150, 0x80);
  const Bytes in = cat({
      {
          0x04,                    // fmt 0, csid 4
          0x00, 0x00, 0x0A,        // timestamp 10
          0x00, 0x00, 0xC8,        // length 200
          0x08,                    // audio
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      Bytes(audio.begin(), audio.begin() + 128),
      {
          0x06,                    // fmt 0, csid 6
          0x00, 0x00, 0x0B,        // timestamp 11
          0x00, 0x00, 0x96,        // length 150
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      Bytes(video.begin(), video.begin() + 128),
      {0xC4},  // fmt 3, csid 4: rest of the audio
      Bytes(audio.begin() + 128, audio.end()),
      {0xC6},  // fmt 3, csid 6: rest of the video
      Bytes(video.begin() + 128, video.end()),
  });
  expect_decodes(in, {{4, kAudio, 1, 10, audio}, {6, kVideo, 1, 11, video}});
}

TEST(ChunkDecoder, SetChunkSizeAppliesToTheNextByteInTheSameBuffer) {
  const Bytes body = pattern(200);
  const Bytes in = cat({
      {
          0x02,                    // fmt 0, csid 2 (protocol control)
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x00, 0x04,        // length 4
          0x01,                    // Set Chunk Size
          0x00, 0x00, 0x00, 0x00,  // stream 0
          0x00, 0x00, 0x01, 0x00,  // chunk size 256
          0x03,                    // fmt 0, csid 3
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x00, 0xC8,        // length 200: one chunk at the new size
          0x12,                    // AMF0 data
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      body,
  });
  expect_decodes(in,
                 {{2, kSetChunkSize, 0, 0, {0x00, 0x00, 0x01, 0x00}}, {3, kDataAmf0, 1, 0, body}});
  ChunkDecoder d;
  std::vector<Message> out;
  ASSERT_TRUE(d.feed(in, out));
  EXPECT_EQ(d.chunk_size(), 256u);
}

TEST(ChunkDecoder, ZeroLengthMessageIsDelivered) {
  const Bytes in = {
      0x03,                    // fmt 0, csid 3
      0x00, 0x00, 0x07,        // timestamp 7
      0x00, 0x00, 0x00,        // length 0
      0x12,                    // AMF0 data
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0xC3,                    // fmt 3: another empty message, at 7 + 7
  };
  expect_decodes(in, {{3, kDataAmf0, 1, 7, {}}, {3, kDataAmf0, 1, 14, {}}});
}

TEST(ChunkDecoder, AbortDiscardsThePartialMessage) {
  const Bytes in = cat({
      {
          0x04,                    // fmt 0, csid 4
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x00, 0xC8,        // length 200
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      pattern(128),  // first chunk only
      {
          0x02,                    // fmt 0, csid 2
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x00, 0x04,        // length 4
          0x02,                    // Abort
          0x00, 0x00, 0x00, 0x00,  // stream 0
          0x00, 0x00, 0x00, 0x04,  // csid 4
          0x04,                    // fmt 0, csid 4: a fresh message
          0x00, 0x00, 0x05,        // timestamp 5
          0x00, 0x00, 0x02,        // length 2
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
          0x17, 0x02,              // payload
      },
  });
  expect_decodes(in, {{2, kAbort, 0, 0, {0, 0, 0, 4}}, {4, kVideo, 1, 5, {0x17, 0x02}}});

  ChunkDecoder d;
  std::vector<Message> out;
  ASSERT_TRUE(d.feed(std::span(in).first(12 + 128), out));
  EXPECT_EQ(d.buffered_bytes(), 128u);
  ASSERT_TRUE(d.feed(std::span(in).subspan(12 + 128, 16), out));
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(ChunkDecoder, NewHeaderMidMessageDropsThePartialMessage) {
  const Bytes in = cat({
      {
          0x04,                    // fmt 0, csid 4
          0x00, 0x00, 0x00,        // timestamp 0
          0x00, 0x00, 0xC8,        // length 200
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      pattern(128),
      {
          0x44,              // fmt 1, csid 4, although 72 bytes are still owed
          0x00, 0x00, 0x21,  // delta 33
          0x00, 0x00, 0x01,  // length 1
          0x08,              // audio
          0xAF,              // payload
      },
  });
  expect_decodes(in, {{4, kAudio, 1, 33, {0xAF}}});
}

// ---- extended timestamps -----------------------------------------------------------------

// A 200-byte message in two chunks with an extended timestamp, the fmt-3 chunk with or
// without the repeated extended field.
Bytes extended_message(std::uint32_t ts, bool repeat, const Bytes& body) {
  const Bytes ext = {static_cast<std::uint8_t>(ts >> 24), static_cast<std::uint8_t>(ts >> 16),
                     static_cast<std::uint8_t>(ts >> 8), static_cast<std::uint8_t>(ts)};
  return cat({
      {
          0x06,                    // fmt 0, csid 6
          0xFF, 0xFF, 0xFF,        // timestamp escape
          0x00, 0x00, 0xC8,        // length 200
          0x09,                    // video
          0x01, 0x00, 0x00, 0x00,  // stream 1
      },
      ext,  // extended timestamp
      Bytes(body.begin(), body.begin() + 128),
      {0xC6},  // fmt 3 continuation
      repeat ? ext : Bytes{},
      Bytes(body.begin() + 128, body.end()),
  });
}

TEST(ChunkDecoder, ExtendedTimestampWithAndWithoutRepeat) {
  const Bytes body = pattern(200, 0x30);
  for (std::uint32_t ts : {0x01000000u, 0x12345678u, 0x00FFFFFFu}) {
    for (bool repeat : {true, false}) {
      SCOPED_TRACE(std::to_string(ts) + (repeat ? " repeated" : " not repeated"));
      expect_decodes(extended_message(ts, repeat, body), {{6, kVideo, 1, ts, body}});
    }
  }
  Bytes encoded;
  encode_message(6, kVideo, 1, 0x12345678, body, 128, encoded);
  EXPECT_EQ(encoded, extended_message(0x12345678, true, body));
}

TEST(ChunkDecoder, ExtendedTimestampOnNewFmt3MessageAndShortLastChunk) {
  const Bytes in = {
      0x07,                    // fmt 0, csid 7
      0xFF, 0xFF, 0xFF,        // timestamp escape
      0x00, 0x00, 0x02,        // length 2
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0x01, 0x00, 0x00, 0x00,  // extended timestamp 0x01000000
      0xAF, 0x01,              // payload
      0xC7,                    // fmt 3, new message: 0x01000000 + 0x01000000
      0x01, 0x00, 0x00, 0x00,  // repeated extended field
      0xAF, 0x02,              // payload
      0xC7,                    // fmt 3, new message, this time without the repeat
      0xAF, 0x03,              // payload: 2 bytes, so the peek also reads the next header
      0x47,                    // fmt 1, csid 7
      0x00, 0x00, 0x0A,        // delta 10, no longer extended
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0xAF,                    // payload
  };
  expect_decodes(in, {{7, kAudio, 1, 0x01000000, {0xAF, 0x01}},
                      {7, kAudio, 1, 0x02000000, {0xAF, 0x02}},
                      {7, kAudio, 1, 0x03000000, {0xAF, 0x03}},
                      {7, kAudio, 1, 0x0300000A, {0xAF}}});
}

TEST(ChunkDecoder, ExtendedDeltaInFmt1) {
  const Bytes in = {
      0x08,                    // fmt 0, csid 8
      0x00, 0x00, 0x01,        // timestamp 1
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0xA0,                    // payload
      0x48,                    // fmt 1, csid 8
      0xFF, 0xFF, 0xFF,        // delta escape
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // extended delta 0x01000000
      0xA1,                    // payload
  };
  expect_decodes(in, {{8, kAudio, 1, 1, {0xA0}}, {8, kAudio, 1, 0x01000001, {0xA1}}});
}

TEST(ChunkDecoder, TimestampWrapsAt32Bits) {
  const Bytes in = {
      0x04,                    // fmt 0, csid 4
      0xFF, 0xFF, 0xFF,        // timestamp escape
      0x00, 0x00, 0x01,        // length 1
      0x08,                    // audio
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0xFF, 0xFF, 0xFF, 0xF0,  // extended timestamp 0xFFFFFFF0
      0xA0,                    // payload
      0x84,                    // fmt 2, csid 4
      0x00, 0x00, 0x20,        // delta 0x20: 0xFFFFFFF0 + 0x20 wraps to 0x10
      0xA1,                    // payload
      0xC4,                    // fmt 3: new message, delta 0x20 again
      0xA2,                    // payload
  };
  expect_decodes(in, {{4, kAudio, 1, 0xFFFFFFF0, {0xA0}},
                      {4, kAudio, 1, 0x10, {0xA1}},
                      {4, kAudio, 1, 0x30, {0xA2}}});
}

// ---- limits and malformed input ----------------------------------------------------------

TEST(ChunkDecoder, DeclaredLengthAboveLimitFailsBeforeAllocating) {
  DecoderLimits limits;
  limits.max_message_size = 1000;
  const Bytes fmt0 = {
      0x04,                    // fmt 0, csid 4
      0x00, 0x00, 0x00,        // timestamp 0
      0x00, 0x03, 0xE9,        // length 1001
      0x09,                    // video
      0x01, 0x00, 0x00, 0x00,  // stream 1
  };
  expect_error(fmt0, Errc::kLimitExceeded, "rtmp chunk: csid 4 message length 1001 > limit 1000",
               limits);
  const Bytes fmt1 = {
      0x04,                    // fmt 0, csid 4
      0x00, 0x00, 0x00,        // timestamp 0
      0x00, 0x00, 0x01,        // length 1
      0x09,                    // video
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0x00,                    // payload
      0x44,                    // fmt 1, csid 4
      0x00, 0x00, 0x00,        // delta 0
      0xFF, 0xFF, 0xFF,        // length 16777215
      0x09,                    // video
  };
  expect_error(fmt1, Errc::kLimitExceeded, "csid 4 message length 16777215 > limit 1000", limits);
}

TEST(ChunkDecoder, MemoryGrowsWithDataNotDeclaredLength) {
  const Bytes in = {
      0x04,                    // fmt 0, csid 4
      0x00, 0x00, 0x00,        // timestamp 0
      0xFF, 0xFF, 0xFF,        // length 16777215, the 24-bit maximum
      0x09,                    // video
      0x01, 0x00, 0x00, 0x00,  // stream 1
      0x00,                    // one byte of payload
  };
  ChunkDecoder d;
  std::vector<Message> out;
  ASSERT_TRUE(d.feed(in, out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.buffered_bytes(), 1u);
}

TEST(ChunkDecoder, TooManyChunkStreams) {
  DecoderLimits limits;
  limits.max_chunk_streams = 2;
  Bytes in;
  for (std::uint8_t csid : {3, 4, 3, 5}) {
    const Bytes header = {
        csid,                    // fmt 0
        0x00, 0x00, 0x00,        // timestamp 0
        0x00, 0x00, 0x01,        // length 1
        0x08,                    // audio
        0x01, 0x00, 0x00, 0x00,  // stream 1
        0xAA,                    // payload
    };
    in.insert(in.end(), header.begin(), header.end());
  }
  expect_error(in, Errc::kLimitExceeded, "csid 5 would be chunk stream 3 > limit 2", limits);
}

TEST(ChunkDecoder, ContinuationFormatsNeedAPreviousHeader) {
  expect_error({0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08}, Errc::kMalformed,
               "csid 3 fmt 1 chunk with no previous header");
  expect_error({0x83, 0x00, 0x00, 0x00}, Errc::kMalformed, "csid 3 fmt 2");
  expect_error({0xC3, 0x00}, Errc::kMalformed, "csid 3 fmt 3");
  expect_error({0xC0, 0x10, 0x00}, Errc::kMalformed, "csid 80 fmt 3");
}

Bytes set_chunk_size_message(Bytes body) {
  return cat({{
                  0x02,                                                // fmt 0, csid 2
                  0x00, 0x00, 0x00,                                    // timestamp 0
                  0x00, 0x00, static_cast<std::uint8_t>(body.size()),  // length
                  0x01,                                                // Set Chunk Size
                  0x00, 0x00, 0x00, 0x00,                              // stream 0
              },
              body});
}

TEST(ChunkDecoder, InvalidSetChunkSize) {
  expect_error(set_chunk_size_message({0x00, 0x00, 0x00, 0x00}), Errc::kMalformed,
               "csid 2 invalid set chunk size 0x0");
  expect_error(set_chunk_size_message({0x80, 0x00, 0x10, 0x00}), Errc::kMalformed,
               "csid 2 invalid set chunk size 0x80001000");
  expect_error(set_chunk_size_message({0x01, 0x00, 0x00, 0x01}), Errc::kLimitExceeded,
               "csid 2 set chunk size 16777217 > limit 16777216");
  expect_error(set_chunk_size_message({0x00, 0x01}), Errc::kMalformed,
               "csid 2 message type 1: rtmp control: body of 2 bytes, need 4");
  DecoderLimits small;
  small.max_chunk_size = 4096;
  expect_error(set_chunk_size_message({0x00, 0x00, 0x10, 0x01}), Errc::kLimitExceeded,
               "set chunk size 4097 > limit 4096", small);
  expect_decodes(set_chunk_size_message({0x00, 0x00, 0x10, 0x00}),
                 {{2, kSetChunkSize, 0, 0, {0x00, 0x00, 0x10, 0x00}}}, small);
}

TEST(ChunkDecoder, MalformedAbort) {
  const Bytes in = {
      0x02,                    // fmt 0, csid 2
      0x00, 0x00, 0x00,        // timestamp 0
      0x00, 0x00, 0x01,        // length 1
      0x02,                    // Abort
      0x00, 0x00, 0x00, 0x00,  // stream 0
      0x04,                    // a 1-byte body
  };
  expect_error(in, Errc::kMalformed, "csid 2 message type 2");
}

TEST(ChunkDecoder, TruncatedInputIsBufferedNotAnError) {
  const Bytes in = extended_message(0x12345678, true, pattern(200));
  for (std::size_t cut = 0; cut < in.size(); ++cut) {
    ChunkDecoder d;
    std::vector<Message> out;
    ASSERT_TRUE(d.feed(std::span(in).first(cut), out));
    EXPECT_TRUE(out.empty()) << "cut at " << cut;
    ASSERT_TRUE(d.feed(std::span(in).subspan(cut), out));
    ASSERT_EQ(out.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(out[0].timestamp, 0x12345678u);
  }
}

// ---- encoder -----------------------------------------------------------------------------

TEST(EncodeMessage, BasicHeaderFormsAndRepeatedExtendedTimestamp) {
  Bytes out;
  encode_message(64, kAudio, 1, 5, Bytes{0xAA, 0xBB, 0xCC}, 2, out);
  EXPECT_EQ(out, (Bytes{
                     0x00, 0x00,              // fmt 0, 2-byte form, csid 64
                     0x00, 0x00, 0x05,        // timestamp 5
                     0x00, 0x00, 0x03,        // length 3
                     0x08,                    // audio
                     0x01, 0x00, 0x00, 0x00,  // stream 1
                     0xAA, 0xBB,              // first chunk at chunk size 2
                     0xC0, 0x00,              // fmt 3, 2-byte form
                     0xCC,                    // rest
                 }));
  out.clear();
  encode_message(1000, kVideo, 2, 0xFFFFFF, Bytes{0x01, 0x02}, 1, out);
  EXPECT_EQ(out, (Bytes{
                     0x01, 0xA8, 0x03,        // fmt 0, 3-byte form: 64 + 0xA8 + 256 * 3 = 1000
                     0xFF, 0xFF, 0xFF,        // timestamp escape: 0xFFFFFF itself is extended
                     0x00, 0x00, 0x02,        // length 2
                     0x09,                    // video
                     0x02, 0x00, 0x00, 0x00,  // stream 2
                     0x00, 0xFF, 0xFF, 0xFF,  // extended timestamp
                     0x01,                    // first chunk at chunk size 1
                     0xC1, 0xA8, 0x03,        // fmt 3, 3-byte form
                     0x00, 0xFF, 0xFF, 0xFF,  // extended timestamp repeated
                     0x02,                    // rest
                 }));
  out.clear();
  encode_message(3, kDataAmf0, 1, 0, {}, 128, out);
  EXPECT_EQ(out, (Bytes{0x03, 0, 0, 0, 0, 0, 0, 0x12, 0x01, 0, 0, 0}));  // header only
}

TEST(EncodeMessage, RoundTripThroughDecoder) {
  struct In {
    std::uint32_t csid;
    std::uint8_t type;
    std::uint32_t stream_id;
    std::uint32_t ts;
    Bytes body;
  };
  const std::vector<In> messages = {
      {3, kCommandAmf0, 0, 0, pattern(10)},
      {4, kAudio, 1, 23, pattern(1000, 1)},
      {6, kVideo, 1, 0x00FFFFFE, pattern(5000, 2)},
      {6, kVideo, 1, 0xFFFFFFFF, pattern(4097, 3)},
      {300, kDataAmf0, 1, 7, {}},
      {65599, kAggregate, 9, 0x01000000, pattern(4096)},
  };
  for (std::uint32_t chunk_size : {128u, 1u, 4096u, 60000u}) {
    SCOPED_TRACE("chunk size " + std::to_string(chunk_size));
    Bytes wire;
    std::vector<Expected> want;
    if (chunk_size != 128) {
      write_set_chunk_size(chunk_size, wire);
      const Bytes body = {
          static_cast<std::uint8_t>(chunk_size >> 24), static_cast<std::uint8_t>(chunk_size >> 16),
          static_cast<std::uint8_t>(chunk_size >> 8), static_cast<std::uint8_t>(chunk_size)};
      want.push_back({2, kSetChunkSize, 0, 0, body});
    }
    for (const auto& m : messages) {
      encode_message(m.csid, m.type, m.stream_id, m.ts, m.body, chunk_size, wire);
      want.push_back({m.csid, m.type, m.stream_id, m.ts, m.body});
    }
    expect_decodes(wire, want);
  }
}

// ---- control messages ----------------------------------------------------------------------

TEST(ControlMessages, WritersAreByteExact) {
  const Bytes control_header = {
      0x02,              // fmt 0, csid 2
      0x00, 0x00, 0x00,  // timestamp 0
  };
  Bytes out;
  write_set_chunk_size(4096, out);
  EXPECT_EQ(out, cat({control_header,
                      {
                          0x00, 0x00, 0x04,        // length 4
                          0x01,                    // Set Chunk Size
                          0x00, 0x00, 0x00, 0x00,  // stream 0
                          0x00, 0x00, 0x10, 0x00,  // 4096
                      }}));
  out.clear();
  write_window_ack_size(2500000, out);
  EXPECT_EQ(out, cat({control_header,
                      {
                          0x00, 0x00, 0x04,        // length 4
                          0x05,                    // Window Acknowledgement Size
                          0x00, 0x00, 0x00, 0x00,  // stream 0
                          0x00, 0x26, 0x25, 0xA0,  // 2500000
                      }}));
  out.clear();
  write_set_peer_bandwidth(2500000, 2, out);
  EXPECT_EQ(out, cat({control_header,
                      {
                          0x00, 0x00, 0x05,        // length 5
                          0x06,                    // Set Peer Bandwidth
                          0x00, 0x00, 0x00, 0x00,  // stream 0
                          0x00, 0x26, 0x25, 0xA0,  // 2500000
                          0x02,                    // limit type dynamic
                      }}));
  out.clear();
  write_acknowledgement(0xDEADBEEF, out);
  EXPECT_EQ(out, cat({control_header,
                      {
                          0x00, 0x00, 0x04,        // length 4
                          0x03,                    // Acknowledgement
                          0x00, 0x00, 0x00, 0x00,  // stream 0
                          0xDE, 0xAD, 0xBE, 0xEF,  // sequence number
                      }}));
  out.clear();
  write_user_control(kStreamBegin, 1, out);
  EXPECT_EQ(out, cat({control_header,
                      {
                          0x00, 0x00, 0x06,        // length 6
                          0x04,                    // User Control
                          0x00, 0x00, 0x00, 0x00,  // stream 0
                          0x00, 0x00,              // event: Stream Begin
                          0x00, 0x00, 0x00, 0x01,  // stream id 1
                      }}));
}

TEST(ControlMessages, Parsers) {
  auto v = parse_u32_body(Bytes{0x00, 0x00, 0x10, 0x00});
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 4096u);
  auto short_body = parse_u32_body(Bytes{0x00, 0x10, 0x00});
  ASSERT_FALSE(short_body);
  EXPECT_EQ(short_body.error().code, Errc::kMalformed);
  EXPECT_EQ(short_body.error().message, "rtmp control: body of 3 bytes, need 4");

  auto ping = parse_user_control(Bytes{
      0x00, 0x06,              // Ping Request
      0x00, 0x01, 0x02, 0x03,  // timestamp
  });
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->event, kPingRequest);
  EXPECT_EQ(ping->value, 0x00010203u);

  auto buffer = parse_user_control(Bytes{
      0x00, 0x03,              // Set Buffer Length
      0x00, 0x00, 0x00, 0x01,  // stream 1
      0x00, 0x00, 0x0B, 0xB8,  // 3000 ms
  });
  ASSERT_TRUE(buffer);
  EXPECT_EQ(buffer->event, kSetBufferLength);
  EXPECT_EQ(buffer->value, 1u);
  EXPECT_EQ(buffer->value2, 3000u);

  EXPECT_FALSE(parse_user_control(Bytes{0x00, 0x06, 0x00}));
  EXPECT_FALSE(parse_user_control(Bytes{}));
  auto short_buffer = parse_user_control(Bytes{0x00, 0x03, 0x00, 0x00, 0x00, 0x01});
  ASSERT_FALSE(short_buffer);
  EXPECT_NE(short_buffer.error().message.find("need 10"), std::string::npos);
}

TEST(AckCounter, AcknowledgesEachWindowAndWraps) {
  AckCounter acks;
  EXPECT_FALSE(acks.on_received(1u << 20)) << "no window: never ack";
  acks.set_window(100);
  EXPECT_EQ(acks.on_received(0), std::optional<std::uint32_t>(1u << 20));  // backlog crosses it
  EXPECT_FALSE(acks.on_received(99));
  EXPECT_EQ(acks.on_received(1), std::optional<std::uint32_t>((1u << 20) + 100));

  AckCounter wrap;
  wrap.set_window(100);
  EXPECT_EQ(wrap.on_received(0xFFFFFFC0u), std::optional<std::uint32_t>(0xFFFFFFC0u));
  EXPECT_FALSE(wrap.on_received(50));
  // 0xFFFFFFC0 + 110 wraps to 0x2E; the distance since the last ack is still 110.
  EXPECT_EQ(wrap.on_received(60), std::optional<std::uint32_t>(0x2Eu));
  EXPECT_EQ(wrap.total(), 0x2Eu);
  EXPECT_FALSE(wrap.on_received(99));
  EXPECT_EQ(wrap.on_received(1), std::optional<std::uint32_t>(0x2Eu + 100));
}

}  // namespace
}  // namespace sluice::rtmp
