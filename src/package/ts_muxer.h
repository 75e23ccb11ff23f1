// MPEG-TS muxing through libavformat's "mpegts" muxer, writing into memory (custom AVIO, never
// files). The muxer owns PES/PCR/continuity-counter details; we only decide where segments cut.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "media/aac.h"
#include "media/packet.h"
#include "media/result.h"

struct AVFormatContext;
struct AVIOContext;
struct AVPacket;

namespace sluice::package {

struct TsVideoTrack {
  media::Bytes extradata;  // Annex B SPS and PPS
  int width = 0;
  int height = 0;
};

struct TsAudioTrack {
  media::Bytes extradata;  // AudioSpecificConfig; the muxer derives ADTS headers from it
  std::uint32_t sample_rate = 0;
  std::uint8_t channels = 0;
};

struct TsTracks {
  std::optional<TsVideoTrack> video;
  std::optional<TsAudioTrack> audio;
};

class TsMuxer {
 public:
  static Result<std::unique_ptr<TsMuxer>> create(const TsTracks& tracks);
  ~TsMuxer();
  TsMuxer(const TsMuxer&) = delete;
  TsMuxer& operator=(const TsMuxer&) = delete;

  // One access unit in Annex B, starting with an access unit delimiter (libavformat would
  // otherwise copy the frame to put one in front). Timestamps in milliseconds; a dts that does not
  // advance is nudged forward, because libavformat rejects non-increasing dts per stream.
  Status write_video(std::span<const std::uint8_t> annexb, std::int64_t dts_ms, std::int64_t pts_ms,
                     bool keyframe);
  // One raw AAC frame (no ADTS header).
  Status write_audio(std::span<const std::uint8_t> raw_aac, std::int64_t dts_ms);

  // Flushes what the muxer buffers (audio PES) and returns every byte produced since the last
  // cut. The next segment starts with PAT and PMT, so each segment decodes on its own.
  Result<media::Bytes> cut();

  // Bytes produced since the last cut (excluding what the muxer still buffers internally).
  std::size_t pending_bytes() const { return out_.size(); }

 private:
  struct FormatDeleter {
    void operator()(AVFormatContext* ctx) const;
  };
  struct IoDeleter {
    void operator()(AVIOContext* io) const;
  };
  struct PacketDeleter {
    void operator()(AVPacket* pkt) const;
  };

  TsMuxer() = default;
  Status write(int stream_index, std::span<const std::uint8_t> data, std::int64_t dts_ms,
               std::int64_t pts_ms, bool keyframe);

  // Declaration order is destruction order in reverse: the format context goes first, then
  // the AVIO context it writes through, then the buffer that collects the output.
  media::Bytes out_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;
  std::unique_ptr<AVFormatContext, FormatDeleter> ctx_;
  std::unique_ptr<AVPacket, PacketDeleter> pkt_;
  int video_index_ = -1;
  int audio_index_ = -1;
  std::optional<media::AacConfig> adts_config_;        // set when ADTS can carry the audio config
  media::Bytes adts_frame_;                            // reused for each audio frame
  std::int64_t last_dts_[2] = {INT64_MIN, INT64_MIN};  // per stream, in the stream time base
};

}  // namespace sluice::package
