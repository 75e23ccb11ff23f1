#include "proto/rtmp/publish_client.h"

#include <gtest/gtest.h>

#include "proto/amf0/amf0.h"

namespace sluice::rtmp {
namespace {

// What a server says, at the default chunk size.
media::Bytes say(std::initializer_list<amf0::Value> values, std::uint32_t stream_id = 0) {
  media::Bytes body, out;
  for (const auto& v : values)
    amf0::encode(v, body);
  encode_message(3, kCommandAmf0, stream_id, 0, body, 128, out);
  return out;
}

amf0::Object info(const char* level, const char* code, const char* description) {
  return amf0::Object{{{"level", level}, {"code", code}, {"description", description}}};
}

media::Bytes connect_accepted() {
  media::Bytes out;
  write_window_ack_size(2'500'000, out);
  auto result = say({"_result", 1.0, amf0::Object{{{"fmsVer", "FMS/3,0,1,123"}}},
                     info("status", "NetConnection.Connect.Success", "ok")});
  out.insert(out.end(), result.begin(), result.end());
  return out;
}

media::Bytes on_status(const char* level, const char* code, const char* description) {
  return say({"onStatus", 0.0, amf0::Null{}, info(level, code, description)}, 1);
}

// A scripted server: handshake, then decodes what the client sends.
struct Server {
  ServerHandshake handshake;
  bool shaken = false;
  ChunkDecoder decoder;
  std::vector<Message> received;

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
  EXPECT_EQ(server.received[0].type, kSetChunkSize);
  EXPECT_EQ(server.command(1), "connect");

  media::Bytes answer = connect_accepted();
  write_user_control(kPingRequest, 77, answer);
  out = client.feed(answer);
  ASSERT_TRUE(out);
  server.take(*out);
  std::vector<std::string> names;
  for (std::size_t i = 2; i < server.received.size(); ++i)
    names.push_back(server.received[i].type == kUserControl ? "pong" : server.command(i));
  EXPECT_EQ(names,
            (std::vector<std::string>{"releaseStream", "FCPublish", "createStream", "pong"}));

  out = client.feed(say({"_result", 4.0, amf0::Null{}, 3.0}));
  ASSERT_TRUE(out);
  server.take(*out);
  EXPECT_EQ(server.command(server.received.size() - 1), "publish");
  EXPECT_EQ(server.received.back().stream_id, 3u);
  EXPECT_FALSE(client.publishing());
  out = client.feed(on_status("status", "NetStream.Publish.Start", "go"));
  ASSERT_TRUE(out);
  EXPECT_TRUE(client.publishing());
  EXPECT_EQ(client.stream_id(), 3u);
}

TEST(PublishClient, ARefusalIsAnErrorWithTheServersWords) {
  PublishClient client({"live", "rtmp://h/live", "abc"});
  Server server;
  ASSERT_TRUE(client.feed(server.take(client.start())));
  auto out = client.feed(say(
      {"_error", 1.0, amf0::Null{}, info("error", "NetConnection.Connect.Rejected", "go away")}));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("go away"), std::string::npos);

  PublishClient second({"live", "rtmp://h/live", "abc"});
  Server server2;
  ASSERT_TRUE(second.feed(server2.take(second.start())));
  ASSERT_TRUE(second.feed(connect_accepted()));
  ASSERT_TRUE(second.feed(say({"_result", 4.0, amf0::Null{}, 1.0})));
  out = second.feed(on_status("error", "NetStream.Publish.BadName", "taken"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("NetStream.Publish.BadName"), std::string::npos);
}

TEST(PublishClient, ReadsTheServersCodecsAndItsReconnectRequest) {
  PublishClient client({"live", "rtmp://h/live", "abc", /*follows_reconnect=*/true});
  Server server;
  auto out = client.feed(server.take(client.start()));
  ASSERT_TRUE(out);
  server.take(*out);
  // The client announces what it may send, and that it follows reconnect requests.
  const auto& connect = server.received[1];
  auto values = amf0::decode_all(*connect.payload);
  ASSERT_TRUE(values && values->size() >= 3);
  EXPECT_EQ((*values)[2].get_number("capsEx", 0), 15);
  ASSERT_TRUE((*values)[2].get("fourCcList"));

  auto answer = say({"_result", 1.0,
                     amf0::Object{{{"fmsVer", "FMS/3,0,1,123"},
                                   {"videoFourCcInfoMap", amf0::Object{{{"av01", 5.0}}}}}},
                     info("status", "NetConnection.Connect.Success", "ok")});
  ASSERT_TRUE(client.feed(answer));
  EXPECT_EQ(client.server_fourccs(), (std::vector<std::string>{"av01"}));
  ASSERT_TRUE(client.feed(say({"_result", 4.0, amf0::Null{}, 1.0})));
  ASSERT_TRUE(client.feed(on_status("status", "NetStream.Publish.Start", "go")));
  EXPECT_FALSE(client.reconnect_requested());
  auto reconnect = info("status", "NetConnection.Connect.ReconnectRequest", "draining");
  reconnect.properties.emplace_back("tcUrl", "rtmp://other/live");
  ASSERT_TRUE(client.feed(say({"onStatus", 0.0, amf0::Null{}, reconnect})));
  EXPECT_TRUE(client.reconnect_requested());
  EXPECT_EQ(client.reconnect_tc_url(), "rtmp://other/live");
}

TEST(PublishClient, GarbageFromTheServerIsAnError) {
  PublishClient client({"live", "rtmp://h/live", "abc"});
  client.start();
  std::vector<std::uint8_t> junk(4000, 0xff);
  EXPECT_FALSE(client.feed(junk));
}

}  // namespace
}  // namespace sluice::rtmp
