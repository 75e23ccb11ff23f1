#include "transcode/thumbnail.h"

#include <algorithm>

#include "transcode/av.h"
#include "transcode/codecs.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

namespace sluice::transcode {

namespace {

Error failure(const std::string& what, int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return make_error(Errc::kIo, "thumbnail: " + what + ": " + text);
}

}  // namespace

Result<media::Bytes> make_thumbnail(const media::Packet& config, const media::Packet& keyframe,
                                    const ThumbnailSize& size) {
  if (config.codec != keyframe.codec || config.kind != media::TrackKind::kVideo ||
      !decodable(config.codec)) {
    return make_error(Errc::kUnsupported, "thumbnail: no video decoder for the stream");
  }
  auto decoder = Decoder::open(config.codec, config.payload(), 1);
  if (!decoder) return decoder.error();
  av::Frame picture = av::make_frame();
  const auto keep = [&](AVFrame* frame) {
    if (!picture->data[0]) av_frame_ref(picture.get(), frame);
  };
  if (auto st = (*decoder)->decode(keyframe, keep); !st) return st.error();
  (*decoder)->flush(keep);
  if (!picture->data[0])
    return make_error(Errc::kMalformed, "thumbnail: the keyframe gave no picture");

  // The size: no wider than asked or than the source, aspect ratio kept, even dimensions.
  const int width = std::max(2, std::min(size.max_width, picture->width) & ~1);
  const int height = std::max(2, static_cast<int>(static_cast<std::int64_t>(picture->height) *
                                                  width / std::max(1, picture->width)) &
                                     ~1);
  av::Sws sws(sws_getContext(picture->width, picture->height,
                             static_cast<AVPixelFormat>(picture->format), width, height,
                             AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  av::Frame scaled = av::make_frame();
  if (!sws || !scaled) return make_error(Errc::kIo, "thumbnail: scaler");
  scaled->format = AV_PIX_FMT_YUVJ420P;
  scaled->width = width;
  scaled->height = height;
  if (int rc = av_frame_get_buffer(scaled.get(), 0); rc < 0) return failure("frame", rc);
  sws_scale(sws.get(), picture->data, picture->linesize, 0, picture->height, scaled->data,
            scaled->linesize);

  const AVCodec* mjpeg = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!mjpeg) return make_error(Errc::kUnsupported, "thumbnail: no MJPEG encoder");
  av::CodecContext encoder(avcodec_alloc_context3(mjpeg));
  if (!encoder) return make_error(Errc::kIo, "thumbnail: out of memory");
  encoder->width = width;
  encoder->height = height;
  encoder->pix_fmt = AV_PIX_FMT_YUVJ420P;
  encoder->time_base = AVRational{1, 1};
  encoder->flags |= AV_CODEC_FLAG_QSCALE;  // a fixed quality, as ffmpeg's -q:v
  encoder->global_quality = FF_QP2LAMBDA * 4;
  scaled->quality = encoder->global_quality;
  scaled->pts = 0;
  if (int rc = avcodec_open2(encoder.get(), mjpeg, nullptr); rc < 0) return failure("encoder", rc);
  if (int rc = avcodec_send_frame(encoder.get(), scaled.get()); rc < 0)
    return failure("encoding", rc);
  avcodec_send_frame(encoder.get(), nullptr);
  av::Packet jpeg = av::make_packet();
  if (int rc = avcodec_receive_packet(encoder.get(), jpeg.get()); rc < 0)
    return failure("encoding", rc);
  return media::Bytes(jpeg->data, jpeg->data + jpeg->size);
}

}  // namespace sluice::transcode
