// The encoder against libx264 itself: how many pictures go in before the first packet comes
// out is the delay it adds, which low-latency mode bounds.
#include "transcode/codecs.h"

#include <gtest/gtest.h>

#include "transcode/av.h"
#include "transcode/ladder.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace sluice::transcode {
namespace {

// Pictures a 30 fps encoder holds: fed before it returns its first packet, less the one
// that packet is.
int pictures_held(const std::string& x264_params) {
  VideoEncoderParams params;
  params.width = 320;
  params.height = 180;
  params.preset = "veryfast";
  params.x264_params = x264_params;
  auto encoder = VideoEncoder::open(params);
  EXPECT_TRUE(encoder) << (encoder ? "" : encoder.error().message);
  if (!encoder) return -1;
  av::Frame picture = av::make_frame();
  picture->format = AV_PIX_FMT_YUV420P;
  picture->width = params.width;
  picture->height = params.height;
  EXPECT_EQ(av_frame_get_buffer(picture.get(), 0), 0);
  bool out = false;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(av_frame_make_writable(picture.get()), 0);
    for (int plane = 0; plane < 3; ++plane) {  // a moving gradient, so frames differ
      const int rows = plane == 0 ? params.height : params.height / 2;
      for (int y = 0; y < rows; ++y) {
        for (int x = 0; x < picture->linesize[plane]; ++x)
          picture->data[plane][y * picture->linesize[plane] + x] =
              static_cast<std::uint8_t>(x + y + i * 3);
      }
    }
    picture->pts = i * 33;
    EXPECT_TRUE((*encoder)->encode(picture.get(), i == 0, [&](media::PacketPtr) { out = true; }));
    if (out) return i;
  }
  return -1;
}

TEST(VideoEncoder, LowDelayOptionsHoldTheEncoderWithinItsBudget) {
  for (int frames : {10, 4, 0}) {
    const int held = pictures_held(low_delay_x264_params("veryfast", frames));
    EXPECT_GE(held, 0);
    EXPECT_LE(held, std::max(frames, 1)) << "budget " << frames << " frames";
  }
  // Without the bound veryfast holds more than 10 frames (lookahead, frame threads): the
  // check above can fail.
  EXPECT_GT(pictures_held("threads=4"), 10);
}

}  // namespace
}  // namespace sluice::transcode
