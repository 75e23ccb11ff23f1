// Thin owners of the FFmpeg codec work, each turning our Packets into frames or back:
// Decoder (every codec Sluice ingests, from its config record), Scaler, VideoEncoder (libx264) and
// AudioEncoder (resample to the output rate, AAC). Timestamps are milliseconds throughout.
// None is thread-safe; each lives on one transcoder thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "media/packet.h"
#include "media/result.h"
#include "transcode/av.h"

namespace sluice::transcode {

using FrameCallback = std::function<void(AVFrame* frame)>;
using PacketCallback = std::function<void(media::PacketPtr packet)>;

// A Packet whose body is an FLV tag body (tag header, then `payload`), as ingest builds them:
// H.264 (AVCC frame or avcC record) for video, AAC (raw frame or AudioSpecificConfig) for audio.
media::PacketPtr make_flv_packet(media::TrackKind kind, bool config, bool key, std::int64_t dts_ms,
                                 std::int32_t cts_ms, std::span<const std::uint8_t> payload);

// Whether Decoder takes `codec` (H.264, HEVC, AV1, VP9; AAC, Opus, AC-3, E-AC-3, FLAC, MP3),
// and whether it must see the codec's configuration record first (MP3 and AC-3 need none).
bool decodable(media::Codec codec);
bool needs_config(media::Codec codec);

class Decoder {
 public:
  // `config` is the stream's configuration record as MP4 carries it (avcC, hvcC, av1C,
  // AudioSpecificConfig, OpusHead, ...); empty for codecs that need none.
  static Result<std::unique_ptr<Decoder>> open(media::Codec codec,
                                               std::span<const std::uint8_t> config, int threads);
  // Decodes one frame's packet; every frame that becomes ready goes to `sink` with pts in ms.
  Status decode(const media::Packet& packet, const FrameCallback& sink);
  void flush(const FrameCallback& sink);

 private:
  Status drain(const FrameCallback& sink);
  av::CodecContext ctx_;
  av::Packet pkt_ = av::make_packet();
  av::Frame frame_ = av::make_frame();
};

// Converts pictures to one output size in yuv420p (bicubic, as ffmpeg's CLI scales). A frame
// already in that size and format is passed through without a copy.
class Scaler {
 public:
  Scaler(int width, int height) : width_(width), height_(height) {}
  // Returns a frame owned by the scaler (valid until the next call) or `in` itself.
  Result<const AVFrame*> scale(const AVFrame* in);

 private:
  int width_, height_;
  int in_width_ = 0, in_height_ = 0, in_format_ = -1;
  av::Sws sws_;
  av::Frame out_;
};

struct VideoEncoderParams {
  int width = 0;
  int height = 0;
  double frame_rate = 30;  // for rate control; timestamps stay the source's
  std::string preset = "veryfast";
  std::string profile = "main";
  std::string x264_params;  // key=value:..., before ours (scenecut=0 always wins)
  int crf = 20;
  int maxrate_kbps = 0;
  int bufsize_kbps = 0;
  int gop_frames = 60;
  int threads = 0;
};

class VideoEncoder {
 public:
  static Result<std::unique_ptr<VideoEncoder>> open(const VideoEncoderParams& params);
  // The FLV/RTMP sequence header packet (AVCDecoderConfigurationRecord) of this encoder.
  media::PacketPtr config_packet(std::int64_t dts_ms) const;
  // Encodes one picture of the output size; `force_key` makes it an IDR frame.
  Status encode(const AVFrame* picture, bool force_key, const PacketCallback& sink);
  Status flush(const PacketCallback& sink);
  const VideoEncoderParams& params() const { return params_; }

 private:
  Status drain(const PacketCallback& sink);
  VideoEncoderParams params_;
  av::CodecContext ctx_;
  media::Bytes config_record_;
  av::Packet pkt_ = av::make_packet();
  av::Frame frame_ = av::make_frame();  // shallow reference to the caller's picture
};

struct AudioEncoderParams {
  int sample_rate = 48000;
  int bitrate_kbps = 128;
};

class AudioEncoder {
 public:
  static Result<std::unique_ptr<AudioEncoder>> open(const AudioEncoderParams& params, int channels);
  media::PacketPtr config_packet(std::int64_t dts_ms) const;
  // Resamples and encodes decoded audio. Output timestamps count samples from the first
  // frame's pts, re-anchored when the input jumps (a gap or a clock reset) by over 200 ms.
  Status encode(const AVFrame* decoded, const PacketCallback& sink);
  Status flush(const PacketCallback& sink);
  const AudioEncoderParams& params() const { return params_; }
  int channels() const;

 private:
  Status encode_fifo(bool final, const PacketCallback& sink);
  Status drain(const PacketCallback& sink);
  AudioEncoderParams params_;
  av::CodecContext ctx_;
  av::Swr swr_;
  int swr_in_rate_ = 0, swr_in_format_ = -1, swr_in_channels_ = 0;
  av::AudioFifo fifo_;
  media::Bytes config_record_;
  av::Packet pkt_ = av::make_packet();
  av::Frame frame_ = av::make_frame();
  bool anchored_ = false;
  std::int64_t anchor_ms_ = 0;       // output time of sample 0
  std::int64_t samples_sent_ = 0;    // to the encoder
  std::int64_t expected_in_ms_ = 0;  // where the next input frame should start
};

}  // namespace sluice::transcode
