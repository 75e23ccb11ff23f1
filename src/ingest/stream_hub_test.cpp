#include "ingest/stream_hub.h"

#include <gtest/gtest.h>

#include "ingest/rtmp_wire.h"

namespace sluice::ingest {
namespace {

media::PacketPtr packet(media::TrackKind kind, std::int64_t dts, bool key = false,
                        bool config = false) {
  auto p = std::make_shared<media::Packet>();
  p->kind = kind;
  p->dts_ms = dts;
  p->keyframe = key;
  p->config = config;
  p->body = std::make_shared<const media::Bytes>(media::Bytes{0x17, 0x01, 0, 0, 0, 1, 2, 3});
  return p;
}

struct Recorder : Subscriber {
  std::vector<LiveItemPtr> items;
  bool ended = false;
  void on_item(const LiveItemPtr& item) override { items.push_back(item); }
  void on_stream_end() override { ended = true; }
};

TEST(StreamHub, SecondPublisherIsRejectedUnlessTakeover) {
  StreamHub hub(10);
  auto first = hub.start_publish("id", false);
  ASSERT_TRUE(first);
  auto second = hub.start_publish("id", false);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kRejected);

  auto third = hub.start_publish("id", true);
  ASSERT_TRUE(third);
  EXPECT_TRUE((*first)->ended());
  EXPECT_EQ(hub.find("id"), *third);
  // The replaced publisher's late end must not remove the new one.
  hub.end_publish(*first);
  EXPECT_EQ(hub.find("id"), *third);
  hub.end_publish(*third);
  EXPECT_EQ(hub.find("id"), nullptr);
}

TEST(StreamHub, EnforcesStreamLimit) {
  StreamHub hub(1);
  ASSERT_TRUE(hub.start_publish("a", false));
  auto b = hub.start_publish("b", false);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kLimitExceeded);
}

TEST(Stream, NewSubscriberGetsConfigsThenGopFromLastKeyframe) {
  Stream s("id", 1);
  s.publish(packet(media::TrackKind::kVideo, 0, true, true));  // sequence header
  s.publish(packet(media::TrackKind::kVideo, 0, true));
  s.publish(packet(media::TrackKind::kVideo, 33));
  s.publish(packet(media::TrackKind::kVideo, 66, true));  // new GOP starts here
  s.publish(packet(media::TrackKind::kAudio, 70));
  s.publish(packet(media::TrackKind::kVideo, 100));

  auto r = std::make_shared<Recorder>();
  ASSERT_TRUE(s.subscribe(r));
  ASSERT_EQ(r->items.size(), 4u);
  EXPECT_TRUE(r->items[0]->packet->config);
  EXPECT_EQ(r->items[1]->packet->dts_ms, 66);
  EXPECT_EQ(r->items[3]->packet->dts_ms, 100);
  for (const auto& item : r->items)
    ASSERT_TRUE(rtmp_chunks(*item));

  s.publish(packet(media::TrackKind::kVideo, 133));
  ASSERT_EQ(r->items.size(), 5u);
  ASSERT_TRUE(rtmp_chunks(*r->items.back()));
  s.end();
  EXPECT_TRUE(r->ended);
  EXPECT_FALSE(s.subscribe(std::make_shared<Recorder>()));
}

TEST(Stream, WireEncodingIsSharedBetweenSubscribers) {
  Stream s("id", 1);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  s.subscribe(a);
  s.subscribe(b);
  s.publish(packet(media::TrackKind::kVideo, 0, true));
  ASSERT_EQ(a->items.size(), 1u);
  EXPECT_EQ(rtmp_chunks(*a->items[0]).get(), rtmp_chunks(*b->items[0]).get());
}

}  // namespace
}  // namespace sluice::ingest
