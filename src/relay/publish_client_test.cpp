#include "relay/publish_client.h"

#include <gtest/gtest.h>

#include "ingest/rtmp_messages.h"
#include "proto/amf0/amf0.h"

namespace sluice::relay {
namespace {

// A scripted server: handshake, then decodes what the client sends.
struct Server {
  rtmp::ServerHandshake handshake;
  bool shaken = false;
  rtmp::ChunkDecoder decoder;
  std::vector<rtmp::Message> received;

  media::Bytes take(const media::Bytes& from_client) {
    std::span<const std::uint8_t> in(from_client);
    media::Bytes out;
    if (!shaken) {
      auto step = handshake.feed(in);
      EXPECT_TRUE(step);
      out = step->out;
      in = in.subspan(step->consumed);
      shaken = step->done;
    }
    EXPECT_TRUE(decoder.feed(in, received));
    return out;
  }
  std::string command(std::size_t i) const {
    auto v = amf0::decode_all(*received.at(i).payload);
    return v && !v->empty() && v->at(0).as_string() ? *v->at(0).as_string() : "";
  }
};

TEST(PublishClient, WalksThePublishSequence) {
  PublishClient client({"live", "rtmp://h/live", "abc?x=1"});
  Server server;
  auto s0s1s2 = server.take(client.start());
  auto out = client.feed(s0s1s2);
  ASSERT_TRUE(out);
  server.take(*out);  // C2, Set Chunk Size, connect
  ASSERT_GE(server.received.size(), 2u);
  EXPECT_EQ(server.received[0].type, rtmp::kSetChunkSize);
  EXPECT_EQ(server.command(1), "connect");

  media::Bytes answer = ingest::connect_accepted(1, 0);
  rtmp::write_user_control(rtmp::kPingRequest, 77, answer);
  out = client.feed(answer);
  ASSERT_TRUE(out);
  server.take(*out);
  std::vector<std::string> names;
  for (std::size_t i = 2; i < server.received.size(); ++i)
    names.push_back(server.received[i].type == rtmp::kUserControl ? "pong" : server.command(i));
  EXPECT_EQ(names,
            (std::vector<std::string>{"releaseStream", "FCPublish", "createStream", "pong"}));

  out = client.feed(
      ingest::command_message(ingest::kCommandCsid, 0, {"_result", 4.0, amf0::Null{}, 3.0}));
  ASSERT_TRUE(out);
  server.take(*out);
  EXPECT_EQ(server.command(server.received.size() - 1), "publish");
  EXPECT_EQ(server.received.back().stream_id, 3u);
  EXPECT_FALSE(client.publishing());
  out = client.feed(ingest::on_status("status", "NetStream.Publish.Start", "go"));
  ASSERT_TRUE(out);
  EXPECT_TRUE(client.publishing());
  EXPECT_EQ(client.stream_id(), 3u);
}

TEST(PublishClient, ARefusalIsAnErrorWithTheServersWords) {
  PublishClient client({"live", "rtmp://h/live", "abc"});
  Server server;
  ASSERT_TRUE(client.feed(server.take(client.start())));
  auto out = client.feed(ingest::connect_rejected(1, "go away"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("go away"), std::string::npos);

  PublishClient second({"live", "rtmp://h/live", "abc"});
  Server server2;
  ASSERT_TRUE(second.feed(server2.take(second.start())));
  ASSERT_TRUE(second.feed(ingest::connect_accepted(1, 0)));
  ASSERT_TRUE(second.feed(
      ingest::command_message(ingest::kCommandCsid, 0, {"_result", 4.0, amf0::Null{}, 1.0})));
  out = second.feed(ingest::on_status("error", "NetStream.Publish.BadName", "taken"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("NetStream.Publish.BadName"), std::string::npos);
}

TEST(PublishClient, GarbageFromTheServerIsAnError) {
  PublishClient client({"live", "rtmp://h/live", "abc"});
  client.start();
  std::vector<std::uint8_t> junk(4000, 0xff);
  EXPECT_FALSE(client.feed(junk));
}

}  // namespace
}  // namespace sluice::relay
