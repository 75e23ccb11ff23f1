// Ownership of FFmpeg objects (every handle is a unique_ptr with its FFmpeg free function)
// and FFmpeg's log routed into ours.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace sluice::transcode::av {

struct CodecContextDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct SwrDeleter {
  void operator()(SwrContext* p) const { swr_free(&p); }
};
struct AudioFifoDeleter {
  void operator()(AVAudioFifo* p) const { av_audio_fifo_free(p); }
};

using CodecContext = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using Frame = std::unique_ptr<AVFrame, FrameDeleter>;
using Packet = std::unique_ptr<AVPacket, PacketDeleter>;
using Sws = std::unique_ptr<SwsContext, SwsDeleter>;
using Swr = std::unique_ptr<SwrContext, SwrDeleter>;
using AudioFifo = std::unique_ptr<AVAudioFifo, AudioFifoDeleter>;

inline Frame make_frame() {
  return Frame(av_frame_alloc());
}
inline Packet make_packet() {
  return Packet(av_packet_alloc());
}

// A shared, read-only reference to a decoded frame: rungs on other threads read the same
// picture buffers.
using SharedFrame = std::shared_ptr<const AVFrame>;
SharedFrame share(const AVFrame* frame);

std::string error_string(int code);

// Sends FFmpeg's warnings and errors to our log with an "ffmpeg:" prefix, and drops its
// chatter (x264's per-encoder statistics) below warning. Idempotent.
void route_logs();

}  // namespace sluice::transcode::av
