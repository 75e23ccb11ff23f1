// HLS segment muxing through libavformat, writing into memory (custom AVIO, never files):
// MPEG-TS with the "mpegts" muxer, or CMAF fragmented MP4 with the "mp4" muxer in fragmented
// mode (an init segment, then one moof+mdat fragment per cut). The muxers own the container's
// details; we only decide where segments and parts cut.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "media/aac.h"
#include "media/packet.h"
#include "media/result.h"
#include "media/vp9.h"

struct AVFormatContext;
struct AVIOContext;
struct AVPacket;

namespace sluice::package {

enum class Container { kMpegTs, kFmp4 };

struct MuxVideoTrack {
  // H.264 in either container; HEVC, AV1 and VP9 in fMP4 only.
  media::Codec codec = media::Codec::kH264;
  // MPEG-TS: Annex B SPS and PPS. fMP4: the codec's MP4 configuration record (avcC, hvcC,
  // av1C); VP9's vpcC is written from `vp9` instead.
  media::Bytes extradata;
  int width = 0;
  int height = 0;
  std::optional<media::Vp9Config> vp9;
};

struct MuxAudioTrack {
  media::Codec codec = media::Codec::kAac;  // AAC in either container; Opus in fMP4 only
  // AAC: the AudioSpecificConfig (MPEG-TS: the muxer derives ADTS headers from it). Opus: the
  // OpusHead.
  media::Bytes extradata;
  std::uint32_t sample_rate = 0;
  std::uint8_t channels = 0;
};

struct MuxTracks {
  std::optional<MuxVideoTrack> video;
  std::optional<MuxAudioTrack> audio;
};

class Muxer {
 public:
  static Result<std::unique_ptr<Muxer>> create(Container container, const MuxTracks& tracks);
  ~Muxer();
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;

  // One access unit. MPEG-TS: Annex B, starting with an access unit delimiter (libavformat
  // would otherwise copy the frame to put one in front). fMP4: NAL units with the length
  // prefixes the avcC names, as RTMP carries them. Timestamps in milliseconds; a dts that does
  // not advance is nudged forward, because libavformat rejects non-increasing dts per stream.
  Status write_video(std::span<const std::uint8_t> frame, std::int64_t dts_ms, std::int64_t pts_ms,
                     bool keyframe);
  // One raw audio frame (AAC without an ADTS header, or one Opus packet) of `samples` samples
  // at the track's sample rate.
  Status write_audio(std::span<const std::uint8_t> frame, std::int64_t dts_ms,
                     std::uint32_t samples);

  // Flushes what the muxer buffers and returns every byte produced since the last cut.
  // MPEG-TS: the next cut starts with PAT and PMT, so each segment decodes on its own. fMP4:
  // one fragment (moof+mdat) of everything written since the last cut, whose last video frame
  // lasts until `next_video_dts_ms` (when known: the frame that comes after the cut).
  Result<media::Bytes> cut(std::optional<std::int64_t> next_video_dts_ms = std::nullopt);

  // fMP4: the init segment (ftyp+moov) every fragment of this muxer needs. Empty for MPEG-TS.
  const media::SharedBytes& init_segment() const { return init_; }

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

  explicit Muxer(Container container) : container_(container) {}
  Status check_size(std::span<const std::uint8_t> data) const;
  // dts and pts in the stream's time base, dts nudged to increase (libavformat rejects
  // non-increasing dts per stream).
  std::pair<std::int64_t, std::int64_t> ticks(int stream_index, std::int64_t dts_ms,
                                              std::int64_t pts_ms);
  Status write_held_video(std::int64_t end);  // end <= dts: the previous frame's duration
  Status submit(int stream_index, std::span<const std::uint8_t> data, std::int64_t dts,
                std::int64_t pts, std::int64_t duration, bool keyframe);

  // Declaration order is destruction order in reverse: the format context goes first, then
  // the AVIO context it writes through, then the buffer that collects the output.
  Container container_;
  media::Bytes out_;
  media::SharedBytes init_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;
  std::unique_ptr<AVFormatContext, FormatDeleter> ctx_;
  std::unique_ptr<AVPacket, PacketDeleter> pkt_;
  int video_index_ = -1;
  int audio_index_ = -1;
  std::optional<media::AacConfig> adts_config_;        // set when ADTS can carry the audio config
  media::Bytes adts_frame_;                            // reused for each audio frame
  std::int64_t last_dts_[2] = {INT64_MIN, INT64_MIN};  // per stream, in the stream time base
  // fMP4 (stream time base): the video frame held until its duration is known, the audio
  // clock, and the last audio frame's duration.
  struct HeldVideo {
    std::int64_t dts = 0;
    std::int64_t pts = 0;
    bool keyframe = false;
  };
  std::optional<HeldVideo> held_video_;
  media::Bytes held_video_bytes_;
  std::int64_t last_video_duration_ = 0;
  std::int64_t last_audio_dts_ = INT64_MIN;
  std::int64_t last_audio_ticks_ = 0;
  int audio_sample_rate_ = 0;
};

}  // namespace sluice::package
