#include "route/fleet_api.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace sluice::route {
namespace {

using nlohmann::json;

std::string streams_body(std::initializer_list<std::string> ids) {
  auto list = json::array();
  for (const auto& id : ids)
    list.push_back({{"playback_id", id}, {"viewers", 1}, {"master", "/" + id + "/live.m3u8"}});
  return json{{"streams", list}}.dump();
}

// "moved" is listed by both servers (a's copy is in its grace period); the registry says b.
const std::map<std::string, std::string> kHolders = {
    {"zeta", "a:1"}, {"alpha", "b:2"}, {"moved", "b:2"}};

std::optional<std::string> holder(const std::string& id) {
  auto it = kHolders.find(id);
  if (it == kHolders.end()) return std::nullopt;
  return it->second;
}

TEST(MergeStreams, KeepsEachStreamOnceFromItsHolderWithTheOriginsViewers) {
  const std::vector<NodeAnswer> answers = {
      {"a:1", streams_body({"zeta", "moved", "unregistered"})},
      {"b:2", streams_body({"moved", "alpha"})},
  };
  const auto merged = merge_streams(answers, holder, [](const std::string& id) {
    return id == "moved" ? std::size_t{7} : std::size_t{0};
  });
  EXPECT_TRUE(merged.unusable.empty());
  const auto streams = json::parse(merged.json)["streams"];
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_EQ(streams[0]["playback_id"], "alpha");
  EXPECT_EQ(streams[1]["playback_id"], "moved");
  EXPECT_EQ(streams[1]["node"], "b:2");
  EXPECT_EQ(streams[1]["viewers"], 7);
  EXPECT_EQ(streams[1]["master"], "/moved/live.m3u8");  // everything else is kept as is
  EXPECT_EQ(streams[2]["playback_id"], "zeta");
  EXPECT_EQ(streams[2]["viewers"], 0);
}

TEST(MergeStreams, SkipsServersThatFailedOrAnsweredSomethingElse) {
  const std::vector<NodeAnswer> answers = {
      {"a:1", std::nullopt},
      {"b:2", std::string("<html>bad gateway</html>")},
      {"c:3", std::string(R"({"streams": 5})")},
  };
  const auto merged = merge_streams(answers, holder, [](const std::string&) { return 0; });
  EXPECT_EQ(json::parse(merged.json), json::parse(R"({"streams": []})"));
  EXPECT_EQ(merged.unusable, (std::vector<std::string>{"b:2", "c:3"}));
}

TEST(MergeRecordings, RewritesPlaylistsToTheNodeRouteNewestFirst) {
  const auto body = [](const char* started, json playlist) {
    return json{
        {"store", "data/recordings"},
        {"recordings",
         json::array(
             {{{"playback_id", "p"}, {"id", "R1"}, {"started", started}, {"playlist", playlist}}})}}
        .dump();
  };
  const std::vector<NodeAnswer> answers = {
      {"10.0.0.1:8000", body("2026-01-01T00:00:00.000Z", "/recordings/p/vod-R1.m3u8")},
      {"10.0.0.2:8000", body("2026-01-02T00:00:00.000Z", nullptr)},  // in S3, not served
  };
  const auto merged = merge_recordings(answers);
  const auto recordings = json::parse(merged.json)["recordings"];
  ASSERT_EQ(recordings.size(), 2u);
  EXPECT_EQ(recordings[0]["node"], "10.0.0.2:8000");
  EXPECT_TRUE(recordings[0]["playlist"].is_null());
  EXPECT_EQ(recordings[1]["node"], "10.0.0.1:8000");
  EXPECT_EQ(recordings[1]["playlist"], "/node/10.0.0.1:8000/recordings/p/vod-R1.m3u8");
}

TEST(NodeRoute, ParsesRecordingFilesOnly) {
  auto playlist = parse_node_route("/node/127.0.0.1:8001/recordings/p/vod-R1.m3u8?x=1");
  ASSERT_TRUE(playlist);
  EXPECT_EQ(playlist->address, "127.0.0.1:8001");
  EXPECT_EQ(playlist->path, "/recordings/p/vod-R1.m3u8");
  EXPECT_EQ(playlist->route.kind, http::RouteKind::kRecordingPlaylist);
  auto segment = parse_node_route("/node/[::1]:8001/recordings/p/720p/42.ts");
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->address, "[::1]:8001");
  EXPECT_EQ(segment->route.kind, http::RouteKind::kRecordingSegment);
  EXPECT_EQ(segment->route.sequence, 42u);
  auto init = parse_node_route("/node/[::1]:8001/recordings/p/720p/init42.mp4");
  ASSERT_TRUE(init);
  EXPECT_EQ(init->route.kind, http::RouteKind::kRecordingInit);

  for (const char* bad :
       {"/node/", "/node/a:1", "/node/a:1/", "/node/a:1/metrics", "/node/a:1/api/streams",
        "/node/a:1/p/live.m3u8", "/node/a:1/recordings/../x.ts", "/node/a:1/p/720p/1.m4s",
        "/node/a%3A1/recordings/p/vod-R1.m3u8", "/node//recordings/p/vod-R1.m3u8",
        "/nodes/a:1/recordings/p/vod-R1.m3u8", "/recordings/p/vod-R1.m3u8"}) {
    EXPECT_FALSE(parse_node_route(bad)) << bad;
  }
}

TEST(NodeRoute, NodePathIsWhatParseReads) {
  const auto path = node_path("h:80", "/recordings/p/vod-R1.m3u8");
  EXPECT_EQ(path, "/node/h:80/recordings/p/vod-R1.m3u8");
  EXPECT_EQ(parse_node_route(path)->address, "h:80");
}

}  // namespace
}  // namespace sluice::route
