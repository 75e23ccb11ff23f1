// A thumbnail from a keyframe that libx264 made, read back with libavcodec's JPEG decoder.
#include "transcode/thumbnail.h"

#include <gtest/gtest.h>

#include "transcode/av.h"
#include "transcode/codecs.h"

namespace sluice::transcode {
namespace {

struct Encoded {
  media::PacketPtr config, keyframe;
};

Encoded encode_one_keyframe(int width, int height) {
  VideoEncoderParams params;
  params.width = width;
  params.height = height;
  auto encoder = VideoEncoder::open(params);
  EXPECT_TRUE(encoder);
  av::Frame picture = av::make_frame();
  picture->format = AV_PIX_FMT_YUV420P;
  picture->width = width;
  picture->height = height;
  EXPECT_EQ(av_frame_get_buffer(picture.get(), 0), 0);
  for (int plane = 0; plane < 3; ++plane) {
    const int rows = plane == 0 ? height : height / 2;
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < picture->linesize[plane]; ++x)
        picture->data[plane][y * picture->linesize[plane] + x] = static_cast<std::uint8_t>(x + y);
  }
  Encoded out{(*encoder)->config_packet(0), nullptr};
  const auto keep = [&](media::PacketPtr p) {
    if (!out.keyframe && p->keyframe) out.keyframe = std::move(p);
  };
  picture->pts = 0;
  EXPECT_TRUE((*encoder)->encode(picture.get(), true, keep));
  EXPECT_TRUE((*encoder)->flush(keep));
  return out;
}

// Width and height of a JPEG, as libavcodec decodes it.
std::pair<int, int> jpeg_size(const media::Bytes& jpeg) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
  av::CodecContext ctx(avcodec_alloc_context3(codec));
  EXPECT_EQ(avcodec_open2(ctx.get(), codec, nullptr), 0);
  av::Packet packet = av::make_packet();
  EXPECT_EQ(av_new_packet(packet.get(), static_cast<int>(jpeg.size())), 0);
  std::copy(jpeg.begin(), jpeg.end(), packet->data);
  EXPECT_EQ(avcodec_send_packet(ctx.get(), packet.get()), 0);
  av::Frame frame = av::make_frame();
  EXPECT_EQ(avcodec_receive_frame(ctx.get(), frame.get()), 0);
  return {frame->width, frame->height};
}

TEST(Thumbnail, KeyframeBecomesAScaledJpeg) {
  const auto encoded = encode_one_keyframe(320, 180);
  ASSERT_TRUE(encoded.keyframe);
  auto jpeg = make_thumbnail(*encoded.config, *encoded.keyframe, {160});
  ASSERT_TRUE(jpeg) << jpeg.error().message;
  ASSERT_GT(jpeg->size(), 4u);
  EXPECT_EQ((*jpeg)[0], 0xFF);  // SOI
  EXPECT_EQ((*jpeg)[1], 0xD8);
  EXPECT_EQ(jpeg_size(*jpeg), std::make_pair(160, 90));
  // Never wider than the source.
  auto full = make_thumbnail(*encoded.config, *encoded.keyframe, {1920});
  ASSERT_TRUE(full);
  EXPECT_EQ(jpeg_size(*full), std::make_pair(320, 180));
}

TEST(Thumbnail, RefusesWhatItCannotDecode) {
  const auto encoded = encode_one_keyframe(64, 64);
  media::Packet aac = *encoded.keyframe;
  aac.codec = media::Codec::kAac;
  EXPECT_EQ(make_thumbnail(*encoded.config, aac, {}).error().code, Errc::kUnsupported);
  media::Packet garbage = *encoded.keyframe;
  auto junk = std::make_shared<media::Bytes>(garbage.payload_offset + 8, 0x00);
  garbage.body = junk;
  EXPECT_FALSE(make_thumbnail(*encoded.config, garbage, {}));
}

}  // namespace
}  // namespace sluice::transcode
