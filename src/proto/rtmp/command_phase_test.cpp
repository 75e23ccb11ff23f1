#include "proto/rtmp/command_phase.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "proto/rtmp/message.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::rtmp {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Action = CommandStep::Action;

Bytes read_exchange(const std::string& name) {
  const auto path = std::filesystem::path(SLUICE_RTMP_TESTDATA) / "exchanges" / name;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f) << path;
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Runs a captured client's bytes (after its handshake) through the chunk decoder and the
// command phase, `step` bytes at a time, answering the publish or play as `sluice serve` did
// (playback ID = key). Returns every byte the server would have sent, up to that answer.
Bytes replay(const Bytes& client, std::size_t step) {
  ChunkDecoder decoder;
  CommandPhase phase({});
  std::vector<Message> messages;
  Bytes sent;
  for (std::size_t at = 0; at < client.size(); at += step) {
    messages.clear();
    const auto n = std::min(step, client.size() - at);
    EXPECT_TRUE(decoder.feed(std::span(client).subspan(at, n), messages));
    for (const auto& m : messages) {
      if (m.type != kCommandAmf0 && m.type != kCommandAmf3) continue;
      auto result = phase.on_command(m);
      EXPECT_TRUE(result) << result.error().message;
      if (!result) return sent;
      sent.insert(sent.end(), result->reply.begin(), result->reply.end());
      const std::string key = result->name.substr(0, result->name.find('?'));
      if (result->action == Action::kPublish) {
        const auto answer = CommandPhase::publish_started(key);
        sent.insert(sent.end(), answer.begin(), answer.end());
        return sent;
      }
      if (result->action == Action::kPlay) {
        const auto answer = CommandPhase::play_started(key);
        sent.insert(sent.end(), answer.begin(), answer.end());
        return sent;
      }
      EXPECT_EQ(result->action, Action::kContinue);
    }
  }
  ADD_FAILURE() << "no publish or play in the capture";
  return sent;
}

struct Capture {
  const char* name;
  std::size_t answers_end;  // where the server's answers end in <name>.s2c.bin (README.md)
};

class CapturedExchange : public ::testing::TestWithParam<Capture> {};

// A connect _result with `properties`.
Bytes connect_result(amf0::Object properties) {
  auto info = status_object("status", "NetConnection.Connect.Success", "Connection succeeded.");
  info.properties.emplace_back("objectEncoding", 0.0);
  return command_message(kCommandCsid, 0, {"_result", 1.0, std::move(properties), info});
}

// The server's bytes as captured from `sluice serve` before the command phase was shared:
// the same answers, byte for byte, for every client, whole and one byte at a time, but for
// the Enhanced RTMP properties added to the connect _result since.
TEST_P(CapturedExchange, AnswersByteForByteAsTheServerDid) {
  const auto [name, end] = GetParam();
  const Bytes client = read_exchange(std::string(name) + ".c2s.bin");
  const Bytes server = read_exchange(std::string(name) + ".s2c.bin");
  ASSERT_GE(server.size(), end);
  Bytes expected(server.begin(), server.begin() + static_cast<long>(end));
  const Bytes captured =
      connect_result(amf0::Object{{{"fmsVer", "FMS/3,0,1,123"}, {"capabilities", 31.0}}});
  const Bytes now = connect_result(server_capabilities());
  const auto at = std::search(expected.begin(), expected.end(), captured.begin(), captured.end());
  ASSERT_NE(at, expected.end());
  const auto pos = expected.erase(at, at + static_cast<long>(captured.size()));
  expected.insert(pos, now.begin(), now.end());
  EXPECT_EQ(replay(client, client.size()), expected);
  EXPECT_EQ(replay(client, 1), expected);
}

INSTANTIATE_TEST_SUITE_P(Clients, CapturedExchange,
                         ::testing::Values(Capture{"ffmpeg_publish", 504},
                                           Capture{"gstreamer_publish", 438},
                                           Capture{"ffmpeg_play", 631},
                                           Capture{"rtmpdump_play", 598}),
                         [](const auto& info) { return std::string(info.param.name); });

Message command(std::initializer_list<amf0::Value> values, std::uint8_t type = kCommandAmf0) {
  Bytes body;
  if (type == kCommandAmf3) body.push_back(0);
  for (const auto& v : values)
    amf0::encode(v, body);
  return Message{3, type, 0, 0, std::make_shared<const Bytes>(std::move(body))};
}

Message connect(const std::string& app, double txid = 1) {
  return command(
      {"connect", txid,
       amf0::Object{{{"app", app}, {"tcUrl", "rtmp://h/" + app}, {"flashVer", "FMLE/3.0"}}}});
}

// The AMF0 values of the one message in `bytes` (a server answer).
std::vector<amf0::Value> answer_values(const Bytes& bytes) {
  ChunkDecoder decoder;
  std::vector<Message> out;
  EXPECT_TRUE(decoder.feed(bytes, out));
  for (const auto& m : out) {
    if (m.type == kCommandAmf0) return *amf0::decode_all(*m.payload);
  }
  ADD_FAILURE() << "no command in the answer";
  return {};
}

TEST(CommandPhase, EnhancedRtmpCapabilitiesBothWays) {
  CommandPhase phase({});
  auto step = phase.on_command(
      command({"connect", 1.0,
               amf0::Object{{{"app", "stream"},
                             {"fourCcList", amf0::StrictArray{{"av01", "Hvc1", 7.0, "toolong"}}},
                             {"videoFourCcInfoMap", amf0::Object{{{"vp09", 4.0}, {"vp08", 0.0}}}},
                             {"audioFourCcInfoMap", amf0::EcmaArray{{{"Opus", 1.0}}}}}}}));
  ASSERT_TRUE(step);
  const auto& client = phase.client();
  EXPECT_TRUE(client.announced("av01"));
  EXPECT_TRUE(client.announced("hvc1"));  // the spec's own examples capitalize
  EXPECT_TRUE(client.announced("vp09"));
  EXPECT_TRUE(client.announced("Opus"));
  EXPECT_FALSE(client.announced("vp08"));  // no flag set
  EXPECT_FALSE(client.announced("avc1"));
  // The server says what it takes, in the _result's properties.
  const auto values = answer_values(step->reply);
  ASSERT_GE(values.size(), 3u);
  const auto& props = values[2];
  ASSERT_TRUE(props.get("videoFourCcInfoMap"));
  EXPECT_EQ(props.get("videoFourCcInfoMap")->get_number("av01", 0), 5);  // decode, forward
  EXPECT_EQ(props.get("audioFourCcInfoMap")->get_number("mp4a", 0), 7);
  EXPECT_EQ(props.get_number("capsEx", 0), 15);  // reconnect, multitrack, ModEx, nano offset

  CommandPhase wildcard({});
  ASSERT_TRUE(wildcard.on_command(
      command({"connect", 1.0,
               amf0::Object{{{"app", "stream"}, {"fourCcList", amf0::StrictArray{{"*"}}}}}})));
  EXPECT_TRUE(wildcard.client().announced("av01"));

  CommandPhase legacy({});
  ASSERT_TRUE(legacy.on_command(connect("stream")));
  EXPECT_FALSE(legacy.client().announced("hvc1"));
}

TEST(CommandPhase, ConnectRecordsTheClientAndNormalizesTheApp) {
  CommandPhase phase({});
  auto step = phase.on_command(connect("stream/?x=1"));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->action, Action::kContinue);
  EXPECT_EQ(step->reply, connect_accepted(1, 0));
  EXPECT_TRUE(phase.connected());
  EXPECT_EQ(phase.client().app, "stream");
  EXPECT_EQ(phase.client().tc_url, "rtmp://h/stream/?x=1");
  EXPECT_EQ(phase.client().flash_ver, "FMLE/3.0");
}

TEST(CommandPhase, ConnectToAnotherAppIsRefusedWithAnError) {
  CommandPhase phase({.app = "live", .amf0_limits = {}});
  auto step = phase.on_command(connect("stream", 7));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->action, Action::kRefused);
  EXPECT_EQ(step->name, "stream");
  const auto v = answer_values(step->reply);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], amf0::Value("_error"));
  EXPECT_EQ(v[1], amf0::Value(7.0));
  EXPECT_EQ(v[3].get_string("code"), "NetConnection.Connect.Rejected");
  EXPECT_FALSE(phase.connected());
  EXPECT_TRUE(phase.answered().empty());
}

TEST(CommandPhase, CommandsBeforeConnectAreProtocolErrors) {
  CommandPhase phase({});
  auto step = phase.on_command(command({"publish", 0.0, amf0::Null{}, "key"}));
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().message, "'publish' before connect");
}

TEST(CommandPhase, MalformedCommandsAreProtocolErrors) {
  CommandPhase phase({});
  EXPECT_EQ(phase.on_command(command({1.0, 2.0})).error().message, "command without a name");
  const Message garbage{3, kCommandAmf0, 0, 0, std::make_shared<const Bytes>(Bytes{0x0d, 1})};
  EXPECT_FALSE(phase.on_command(garbage));
}

TEST(CommandPhase, AnswersTransactionsButNotTransactionZero) {
  CommandPhase phase({});
  ASSERT_TRUE(phase.on_command(connect("stream")));
  auto release = phase.on_command(command({"releaseStream", 0.0, amf0::Null{}, "k"}));
  ASSERT_TRUE(release);
  EXPECT_TRUE(release->reply.empty());
  auto fc = phase.on_command(command({"FCPublish", 3.0, amf0::Null{}, "k"}));
  ASSERT_TRUE(fc);
  EXPECT_EQ(answer_values(fc->reply),
            (std::vector<amf0::Value>{"_result", 3.0, amf0::Null{}, amf0::Undefined{}}));
  auto create = phase.on_command(command({"createStream", 4.0, amf0::Null{}}));
  ASSERT_TRUE(create);
  EXPECT_EQ(answer_values(create->reply),
            (std::vector<amf0::Value>{"_result", 4.0, amf0::Null{}, double(kMediaStreamId)}));
  EXPECT_EQ(phase.answered(), (std::set<double>{1.0, 3.0, 4.0}));
}

TEST(CommandPhase, UnknownCommandsAreIgnored) {
  CommandPhase phase({});
  ASSERT_TRUE(phase.on_command(connect("stream")));
  auto step = phase.on_command(command({"FCSubscribe", 3.0, amf0::Null{}, "k"}));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->action, Action::kContinue);
  EXPECT_TRUE(step->reply.empty());
  EXPECT_EQ(step->command, "FCSubscribe");
}

TEST(CommandPhase, PublishIsAskedOnceAndCarriesItsOptions) {
  CommandPhase phase({});
  ASSERT_TRUE(phase.on_command(connect("stream")));
  auto publish = phase.on_command(command({"publish", 5.0, amf0::Null{}, "key?youtube=x", "live"}));
  ASSERT_TRUE(publish);
  EXPECT_EQ(publish->action, Action::kPublish);
  EXPECT_EQ(publish->name, "key?youtube=x");
  EXPECT_TRUE(publish->reply.empty());  // the caller answers once it has decided
  auto again = phase.on_command(command({"play", 6.0, amf0::Null{}, "key"}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "play on a connection that already publishes");
}

TEST(CommandPhase, Amf3CommandsCarryAmf0Values) {
  CommandPhase phase({});
  auto step =
      phase.on_command(command({"connect", 1.0, amf0::Object{{{"app", "stream"}}}}, kCommandAmf3));
  ASSERT_TRUE(step);
  EXPECT_TRUE(phase.connected());
  auto play = phase.on_command(command({"play", 2.0, amf0::Null{}, "id"}, kCommandAmf3));
  ASSERT_TRUE(play);
  EXPECT_EQ(play->action, Action::kPlay);
  EXPECT_EQ(play->name, "id");
}

TEST(CommandPhase, DeleteStreamEndsTheSession) {
  CommandPhase phase({});
  ASSERT_TRUE(phase.on_command(connect("stream")));
  for (const char* name : {"deleteStream", "closeStream"}) {
    auto step = phase.on_command(command({name, 0.0, amf0::Null{}, 1.0}));
    ASSERT_TRUE(step);
    EXPECT_EQ(step->action, Action::kEnd);
    EXPECT_EQ(step->command, name);
  }
}

TEST(CommandPhase, RefusalsAreErrorStatusesOnTheMediaStream) {
  ChunkDecoder decoder;
  std::vector<Message> out;
  ASSERT_TRUE(decoder.feed(CommandPhase::refused("NetStream.Publish.BadName", "why"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_id, kMediaStreamId);
  EXPECT_EQ(out[0].csid, kStreamCommandCsid);
  const auto v = *amf0::decode_all(*out[0].payload);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], amf0::Value("onStatus"));
  EXPECT_EQ(v[3].get_string("level"), "error");
  EXPECT_EQ(v[3].get_string("code"), "NetStream.Publish.BadName");
  EXPECT_EQ(v[3].get_string("description"), "why");
}

TEST(CommandPhase, PlayEndedTellsTheStreamIsOver) {
  ChunkDecoder decoder;
  std::vector<Message> out;
  ASSERT_TRUE(decoder.feed(CommandPhase::play_ended("id"), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, kUserControl);
  EXPECT_EQ(parse_user_control(*out[0].payload)->event, kStreamEof);
  EXPECT_EQ(amf0::decode_all(*out[1].payload)->at(3).get_string("code"),
            "NetStream.Play.UnpublishNotify");
}

}  // namespace
}  // namespace sluice::rtmp
