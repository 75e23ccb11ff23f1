#include "transcode/interleaver.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::transcode {
namespace {

media::PacketPtr packet(media::TrackKind kind, std::int64_t dts, bool config = false) {
  auto p = std::make_shared<media::Packet>();
  p->kind = kind;
  p->dts_ms = dts;
  p->config = config;
  return p;
}

struct Recorder {
  std::vector<std::string> seen;
  Interleaver::Emit emit() {
    return [this](const media::PacketPtr& p) {
      seen.push_back((p->kind == media::TrackKind::kVideo ? "v" : "a") + std::to_string(p->dts_ms));
    };
  }
};

TEST(Interleaver, AudioWaitsForVideoToCatchUp) {
  Recorder r;
  Interleaver il(r.emit(), 1000);
  il.audio(packet(media::TrackKind::kAudio, 0), true);
  il.audio(packet(media::TrackKind::kAudio, 21), true);
  il.audio(packet(media::TrackKind::kAudio, 42), true);
  EXPECT_TRUE(r.seen.empty());
  il.video(packet(media::TrackKind::kVideo, 33));
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a0", "a21", "v33"}));
  il.flush();
  EXPECT_EQ(r.seen.back(), "a42");
}

TEST(Interleaver, AudioIsReleasedWhenVideoStalls) {
  Recorder r;
  Interleaver il(r.emit(), 100);
  for (int t = 0; t <= 210; t += 21)
    il.audio(packet(media::TrackKind::kAudio, t), true);
  // Everything older than 100 ms before the newest audio is out.
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a0", "a21", "a42", "a63", "a84", "a105"}));
}

TEST(Interleaver, AudioOnlyAndLeadingConfigPassStraight) {
  Recorder r;
  Interleaver il(r.emit(), 1000);
  il.audio(packet(media::TrackKind::kAudio, 0, true), true);
  il.audio(packet(media::TrackKind::kAudio, 5), false);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"a0", "a5"}));
}

}  // namespace
}  // namespace sluice::transcode
