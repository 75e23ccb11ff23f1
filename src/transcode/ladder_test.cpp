#include "transcode/ladder.h"

#include <gtest/gtest.h>

namespace sluice::transcode {
namespace {

std::vector<std::string> sizes(const std::vector<PlannedRung>& plan) {
  std::vector<std::string> out;
  for (const auto& r : plan) {
    out.push_back(r.spec.name + "=" + std::to_string(r.width) + "x" + std::to_string(r.height) +
                  (r.passthrough ? "*" : ""));
  }
  return out;
}

TEST(Ladder, DefaultLadderFor720pSource) {
  const auto plan = plan_ladder(LadderConfig{}, SourceVideo{1280, 720});
  EXPECT_EQ(sizes(plan),
            (std::vector<std::string>{"360p=640x360", "480p=854x480", "720p=1280x720"}));
  EXPECT_EQ(plan[0].spec.video_maxrate_kbps, 856);
  EXPECT_EQ(plan[0].spec.vbv_bufsize_kbps, 1200);
  EXPECT_EQ(plan[0].spec.audio_kbps, 96);
  EXPECT_EQ(plan[2].spec.video_maxrate_kbps, 2996);
}

TEST(Ladder, FourByThreeSourceKeepsAspectAndSkipsUpscales) {
  // 640x480: 360p fits by height, 480p is the source size, 720p would upscale.
  EXPECT_EQ(sizes(plan_ladder(LadderConfig{}, SourceVideo{640, 480})),
            (std::vector<std::string>{"360p=480x360", "480p=640x480"}));
}

TEST(Ladder, DimensionsAreAlwaysEven) {
  // 1920x1080 into 854x480 and an odd-shaped source.
  for (const auto& source :
       {SourceVideo{1920, 1080}, SourceVideo{1918, 1078}, SourceVideo{1000, 999}}) {
    for (const auto& r : plan_ladder(LadderConfig{}, source)) {
      EXPECT_EQ(r.width % 2, 0) << r.spec.name;
      EXPECT_EQ(r.height % 2, 0) << r.spec.name;
      EXPECT_LE(r.width, r.spec.box_width);
      EXPECT_LE(r.height, r.spec.box_height);
    }
  }
}

TEST(Ladder, TinySourceKeepsOneRungAtItsOwnSize) {
  EXPECT_EQ(sizes(plan_ladder(LadderConfig{}, SourceVideo{321, 241})),
            (std::vector<std::string>{"360p=320x240"}));
}

TEST(Ladder, SourceRungPassesThrough) {
  LadderConfig config;
  config.rungs = *parse_rungs("360p:640x360:856k:1200k:96k,source");
  EXPECT_EQ(sizes(plan_ladder(config, SourceVideo{1920, 1080})),
            (std::vector<std::string>{"360p=640x360", "source=1920x1080*"}));
}

TEST(Ladder, SourceRungOfHevcOrAv1OnlyWhereThePackagingCarriesIt) {
  LadderConfig config;
  config.rungs = *parse_rungs("360p:640x360:856k:1200k:96k,source");
  SourceVideo av1{1920, 1080};
  av1.h264 = false;
  EXPECT_EQ(sizes(plan_ladder(config, av1)),
            (std::vector<std::string>{"360p=640x360", "source=1920x1080*"}));
  config.source_any_codec = false;  // MPEG-TS
  EXPECT_EQ(sizes(plan_ladder(config, av1)), (std::vector<std::string>{"360p=640x360"}));
  EXPECT_EQ(sizes(plan_ladder(config, SourceVideo{1920, 1080})),
            (std::vector<std::string>{"360p=640x360", "source=1920x1080*"}));
}

TEST(Ladder, AudioOnlySourceGetsEveryRungWithoutSize) {
  const auto plan = plan_ladder(LadderConfig{}, std::nullopt);
  EXPECT_EQ(sizes(plan), (std::vector<std::string>{"360p=0x0", "480p=0x0", "720p=0x0"}));
}

TEST(Ladder, SmartPassthroughOnlyWhenTheSourceFits) {
  LadderConfig config;
  config.smart_passthrough = true;
  SourceVideo fits{1280, 720, true, 2.0, 2500};
  EXPECT_EQ(sizes(plan_ladder(config, fits)),
            (std::vector<std::string>{"360p=640x360", "480p=854x480", "720p=1280x720*"}));

  auto too_fast = fits;
  too_fast.bitrate_kbps = 4000;
  EXPECT_FALSE(plan_ladder(config, too_fast).back().passthrough);
  auto irregular = fits;
  irregular.keyframe_interval_s = 4.0;
  EXPECT_FALSE(plan_ladder(config, irregular).back().passthrough);
  auto unknown_gop = fits;
  unknown_gop.keyframe_interval_s = 0;
  EXPECT_FALSE(plan_ladder(config, unknown_gop).back().passthrough);
  auto too_big = fits;
  too_big.width = 1920;
  too_big.height = 1080;
  EXPECT_FALSE(plan_ladder(config, too_big).back().passthrough);
  config.smart_passthrough = false;
  EXPECT_FALSE(plan_ladder(config, fits).back().passthrough);
}

TEST(Ladder, ParsesAndFormatsRungs) {
  auto rungs = parse_rungs("240p:426x240:400k:600k:64k,source");
  ASSERT_TRUE(rungs) << rungs.error().message;
  ASSERT_EQ(rungs->size(), 2u);
  EXPECT_EQ((*rungs)[0].name, "240p");
  EXPECT_EQ((*rungs)[0].box_width, 426);
  EXPECT_EQ((*rungs)[0].video_maxrate_kbps, 400);
  EXPECT_TRUE((*rungs)[1].source);
  EXPECT_EQ(format_rungs(*rungs), "240p:426x240:400k:600k:64k,source");
  EXPECT_EQ(format_rungs(default_rungs()),
            "360p:640x360:856k:1200k:96k:subme=1,480p:854x480:1498k:2100k:128k:subme=1,"
            "720p:1280x720:2996k:4200k:128k");
}

TEST(Ladder, RungsMayCarryTheirOwnX264Options) {
  auto rungs = parse_rungs("240p:426x240:400k:600k:64k:subme=1:me=dia,720p:1280x720:1k:1k:1k");
  ASSERT_TRUE(rungs) << rungs.error().message;
  EXPECT_EQ((*rungs)[0].x264_params, "subme=1:me=dia");
  EXPECT_EQ((*rungs)[0].audio_kbps, 64);
  EXPECT_EQ((*rungs)[1].x264_params, "");
  EXPECT_EQ(format_rungs(*rungs),
            "240p:426x240:400k:600k:64k:subme=1:me=dia,720p:1280x720:1k:1k:1k");
  for (const char* text : {"240p:426x240:400k:600k:64k:subme",
                           "240p:426x240:400k:600k:64k:", "240p:426x240:400k:600k:64k:a=1::b=2"}) {
    auto r = parse_rungs(text);
    EXPECT_FALSE(r) << text;
    if (!r) {
      EXPECT_NE(r.error().message.find("libx264 options"), std::string::npos) << text;
    }
  }
}

TEST(Ladder, RejectsBadRungs) {
  for (const char* text : {"", "720p", "720p:1280x720:2996k:4200k", "72 0p:1280x720:1k:1k:1k",
                           "720p:1280:1k:1k:1k", "720p:0x720:1k:1k:1k", "720p:1280x720:xk:1k:1k",
                           "a:64x64:1k:1k:1k,a:64x64:1k:1k:1k", "source:64x64:1k:1k:1k"}) {
    auto r = parse_rungs(text);
    EXPECT_FALSE(r) << text;
    if (!r) {
      EXPECT_NE(r.error().message.find("ladder"), std::string::npos) << text;
    }
  }
}

TEST(Ladder, JoinedX264ParamsPutTheLaterLast) {
  EXPECT_EQ(join_x264_params("me=dia", "subme=1"), "me=dia:subme=1");
  EXPECT_EQ(join_x264_params("", "scenecut=0"), "scenecut=0");
  EXPECT_EQ(join_x264_params("me=dia", ""), "me=dia");
  EXPECT_EQ(join_x264_params("", ""), "");
}

TEST(Ladder, X264ParamsAreKeyValuePairs) {
  EXPECT_TRUE(valid_x264_params(""));
  EXPECT_TRUE(valid_x264_params("me=dia"));
  EXPECT_TRUE(valid_x264_params("me=dia:subme=1:deblock=-1,-1:psy-rd=1.0,0.15"));
  EXPECT_FALSE(valid_x264_params("me"));           // no value
  EXPECT_FALSE(valid_x264_params("me="));          // empty value
  EXPECT_FALSE(valid_x264_params("=dia"));         // empty key
  EXPECT_FALSE(valid_x264_params("me=dia:"));      // empty pair
  EXPECT_FALSE(valid_x264_params("me=dia::b=1"));  // empty pair
  EXPECT_FALSE(valid_x264_params("ME=dia"));       // x264 names are lower case
  EXPECT_FALSE(valid_x264_params("me=dia x"));     // no spaces
  EXPECT_FALSE(valid_x264_params("me=d=ia"));      // one '=' per pair
}

TEST(Ladder, DelayBudgetInFrames) {
  EXPECT_EQ(delay_budget_frames(0, 30), std::nullopt);
  EXPECT_EQ(delay_budget_frames(0.334, 30), 10);
  EXPECT_EQ(delay_budget_frames(0.3333, 30), 10);  // a third of a second is ten frames
  EXPECT_EQ(delay_budget_frames(0.5, 25), 12);
  EXPECT_EQ(delay_budget_frames(0.01, 30), 0);
}

TEST(Ladder, LowDelayOptionsCutOnlyWhatExceedsTheBudget) {
  // veryfast looks 10 frames ahead with 3 B-frames; x264 holds one more frame than that.
  EXPECT_EQ(low_delay_x264_params("veryfast", 11), "sliced-threads=1:sync-lookahead=0");
  EXPECT_EQ(low_delay_x264_params("veryfast", 10),
            "sliced-threads=1:sync-lookahead=0:rc-lookahead=9");
  EXPECT_EQ(low_delay_x264_params("medium", 3),
            "sliced-threads=1:sync-lookahead=0:rc-lookahead=2:bframes=2");
  EXPECT_EQ(low_delay_x264_params("slower", 0),
            "sliced-threads=1:sync-lookahead=0:rc-lookahead=0:bframes=0");
  EXPECT_EQ(low_delay_x264_params("ultrafast", 0), "sliced-threads=1:sync-lookahead=0");
  EXPECT_TRUE(valid_x264_params(low_delay_x264_params("fast", 7)));
}

}  // namespace
}  // namespace sluice::transcode
