// A still picture of a live stream: its latest keyframe decoded, scaled down and encoded as
// JPEG with libavcodec's MJPEG encoder. One call does all the work, on the caller's thread;
// serve/thumbnails decides when, and on which thread.
#pragma once

#include "media/packet.h"
#include "media/result.h"

namespace sluice::transcode {

struct ThumbnailSize {
  int max_width = 640;  // no wider than this (or than the source); the aspect ratio is kept
};

// `config` is the stream's video configuration packet (the avcC record), `keyframe` a
// keyframe that decodes on its own (H.264 IDR). The JPEG's height is even and at least 2.
Result<media::Bytes> make_thumbnail(const media::Packet& config, const media::Packet& keyframe,
                                    const ThumbnailSize& size);

}  // namespace sluice::transcode
