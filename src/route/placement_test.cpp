#include "route/placement.h"

#include <gtest/gtest.h>

namespace sluice::route {
namespace {

registry::NodeEntry node(const std::string& a, int capacity, int load, bool draining = false) {
  return {a, a + "-rtmp", capacity, load, draining, a + "-srt"};
}

PlacementInput input(std::vector<registry::NodeEntry> nodes) {
  PlacementInput in;
  in.nodes = std::move(nodes);
  in.healthy = [](const std::string& a) { return a != "down"; };
  return in;
}

TEST(Placement, MostFreeCapacityWins) {
  auto in = input({node("a", 2, 1), node("b", 4, 1), node("c", 1, 0)});
  EXPECT_EQ(place_publish(in)->address, "b");
}

TEST(Placement, FullDrainingAndDownServersAreSkipped) {
  auto in = input({node("a", 1, 1), node("b", 5, 0, true), node("down", 5, 0)});
  EXPECT_FALSE(place_publish(in));
  in.nodes.push_back(node("c", 1, 0));
  EXPECT_EQ(place_publish(in)->address, "c");
}

TEST(Placement, OwnSessionsCountUntilTheRegistryCatchesUp) {
  auto in = input({node("a", 1, 0), node("b", 1, 0)});
  in.own_sessions["a"] = 1;
  EXPECT_EQ(place_publish(in)->address, "b");
  in.own_sessions["b"] = 1;
  EXPECT_FALSE(place_publish(in));
}

TEST(Placement, ARepublishSticksToTheServerHoldingTheStream) {
  auto in = input({node("a", 1, 1), node("b", 4, 0)});
  in.holder = registry::StreamEntry{"id", "a", "s", 1, 0};
  EXPECT_EQ(place_publish(in)->address, "a");  // even though a is full: it is the same stream
  in.nodes[0].draining = true;
  EXPECT_EQ(place_publish(in)->address, "b");
}

TEST(Placement, PlayersGoToTheHolder) {
  auto in = input({node("a", 1, 1), node("b", 4, 0)});
  EXPECT_FALSE(place_play(in));
  in.holder = registry::StreamEntry{"id", "b", "s", 1, 0};
  EXPECT_EQ(place_play(in)->address, "b");
  in.holder->address = "down";
  EXPECT_FALSE(place_play(in));
}

TEST(Placement, PlayersFollowThePublisherThisProxyRelays) {
  // The registry still names the server the stream left ("down"); the publisher is on b.
  auto in = input({node("a", 1, 0), node("b", 4, 1)});
  in.holder = registry::StreamEntry{"id", "down", "s", 1, 0};
  EXPECT_FALSE(place_play(in));
  in.publishing_to = node("b", 4, 1);
  EXPECT_EQ(place_play(in)->address, "b");
  in.holder->address = "a";  // the registry names another healthy server: the publisher wins
  EXPECT_EQ(place_play(in)->address, "b");
  in.publishing_to = node("down", 4, 1);
  EXPECT_EQ(place_play(in)->address, "a");
}

TEST(Placement, SrtClientsGoOnlyToServersThatTakeSrt) {
  auto in = input({node("a", 4, 0), node("b", 1, 0)});
  in.nodes[0].srt_address.clear();  // a has the most room but no SRT listener
  in.srt = true;
  EXPECT_EQ(place_publish(in)->address, "b");
  in.holder = registry::StreamEntry{"id", "a", "s", 1, 0};  // nor for a republish
  EXPECT_EQ(place_publish(in)->address, "b");
  EXPECT_FALSE(place_play(in));
  in.srt = false;
  EXPECT_EQ(place_play(in)->address, "a");
}

}  // namespace
}  // namespace sluice::route
