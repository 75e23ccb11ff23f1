// Runs Sluice's ladder on a file as fast as it can: demux (libavformat) -> the same
// TranscodeService `sluice serve` uses, in offline mode -> every segment written to
// OUT/<rendition>/<sequence>.ts. Several copies of the input may run at once (--streams).
// INPUT is FLV (H.264 + AAC), or MP4 or Matroska with H.264, HEVC or AV1 video and AAC or
// Opus audio (FFmpeg 5.1 writes neither HEVC nor AV1 into FLV).
// --x264-params P replaces the default libx264 tuning of every rung with P (after --ladder).
// Prints one JSON line: media seconds, wall seconds. CPU and peak RSS are measured by the
// caller (bench/ladder_bench.py) for this process as for ffmpeg.
//
//   ladder_bench INPUT OUT [--streams N] [--smart] [--ladder SPEC] [--gop S] [--threads N]
//                          [--x264-params P] [--max-delay S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libavformat/avformat.h>
}

#include "package/hls_store.h"
#include "transcode/codecs.h"
#include "transcode/transcoder.h"

namespace {

using namespace sluice;

class DiskWriter : public package::SegmentListener {
 public:
  explicit DiskWriter(std::filesystem::path root) : root_(std::move(root)) {}
  void on_segment(const std::string& id, const std::string& rendition,
                  const package::SegmentPtr& segment) override {
    const auto dir = root_ / id / rendition;
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / (std::to_string(segment->sequence) + ".ts"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(segment->data->data()),
              static_cast<std::streamsize>(segment->data->size()));
  }
  void on_stream_dropped(const std::string&) override {}

 private:
  std::filesystem::path root_;
};

struct FormatContextDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
using FormatContext = std::unique_ptr<AVFormatContext, FormatContextDeleter>;

// The codec ingest would label a track with; kUnknown for tracks the bench does not feed.
media::Codec codec_of(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_H264:
      return media::Codec::kH264;
    case AV_CODEC_ID_HEVC:
      return media::Codec::kHevc;
    case AV_CODEC_ID_AV1:
      return media::Codec::kAv1;
    case AV_CODEC_ID_AAC:
      return media::Codec::kAac;
    case AV_CODEC_ID_OPUS:
      return media::Codec::kOpus;
    default:
      return media::Codec::kUnknown;
  }
}

// A Packet as ingest would build it. H.264 and AAC get the legacy FLV tag body; for the
// others the Enhanced RTMP body is cut down to the payload itself (payload_offset 0), since
// the transcoder reads only payload(). Mutable until read_input has rebased the timestamps.
std::shared_ptr<media::Packet> make(media::TrackKind kind, media::Codec codec, bool config,
                                    bool key, std::int64_t dts, std::int32_t cts,
                                    const std::uint8_t* data, std::size_t size) {
  if (codec == media::Codec::kH264 || codec == media::Codec::kAac) {
    return std::make_shared<media::Packet>(*transcode::make_flv_packet(
        kind, config, key, dts, cts, std::span<const std::uint8_t>(data, size)));
  }
  auto p = std::make_shared<media::Packet>();
  p->kind = kind;
  p->codec = codec;
  p->config = config;
  p->keyframe = key;
  p->dts_ms = dts;
  p->cts_ms = cts;
  p->body = std::make_shared<const media::Bytes>(data, data + size);
  return p;
}

// The input's packets, read once and shared by every stream: FLV (H.264 + AAC), or MP4 or
// Matroska (H.264, HEVC or AV1; AAC or Opus), whose codecpar extradata is the configuration
// record a Packet carries (avcC, hvcC, av1C, AudioSpecificConfig, OpusHead).
std::vector<media::PacketPtr> read_input(const char* path, double& seconds) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, path, nullptr, nullptr) < 0) {  // frees it on failure
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
  const FormatContext fmt(opened);
  if (avformat_find_stream_info(fmt.get(), nullptr) < 0) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
  std::vector<std::shared_ptr<media::Packet>> packets;
  std::vector<media::Codec> codecs;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* par = fmt->streams[i]->codecpar;
    const media::Codec codec = codec_of(par->codec_id);
    codecs.push_back(codec);
    if (codec == media::Codec::kUnknown) continue;
    const bool video = par->codec_type == AVMEDIA_TYPE_VIDEO;
    packets.push_back(make(video ? media::TrackKind::kVideo : media::TrackKind::kAudio, codec, true,
                           video, 0, 0, par->extradata,
                           static_cast<std::size_t>(par->extradata_size)));
  }
  const transcode::av::Packet pkt = transcode::av::make_packet();
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    const AVStream* st = fmt->streams[pkt->stream_index];
    const media::Codec codec = codecs[static_cast<std::size_t>(pkt->stream_index)];
    if (codec != media::Codec::kUnknown) {
      const AVRational ms{1, 1000};
      // Matroska stores no dts; where reordering is absent it equals pts.
      const std::int64_t dts =
          av_rescale_q(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts, st->time_base, ms);
      const std::int64_t pts = av_rescale_q(pkt->pts, st->time_base, ms);
      const bool video = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
      packets.push_back(make(video ? media::TrackKind::kVideo : media::TrackKind::kAudio, codec,
                             false, video && (pkt->flags & AV_PKT_FLAG_KEY) != 0, dts,
                             video ? static_cast<std::int32_t>(pts - dts) : 0, pkt->data,
                             static_cast<std::size_t>(pkt->size)));
    }
    av_packet_unref(pkt.get());
  }
  // MP4's edit lists start B-frame video and primed AAC below 0; ingest never sees a
  // negative time (RTMP's are unsigned), so shift everything up. FLV starts at 0: no shift.
  std::int64_t first = 0;
  for (const auto& p : packets)
    if (!p->config) first = std::min(first, p->dts_ms);
  std::int64_t last = 0;
  std::vector<media::PacketPtr> out;
  out.reserve(packets.size());
  for (auto& p : packets) {
    if (!p->config) p->dts_ms -= first;
    last = std::max(last, p->pts_ms());
    out.push_back(std::move(p));
  }
  seconds = static_cast<double>(last) / 1000.0;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: %s INPUT OUT [--streams N] [--smart] [--ladder SPEC] [--gop S] [--threads N] "
        "[--x264-params P] [--max-delay S]\n",
        argv[0]);
    return 2;
  }
  transcode::TranscodeConfig config;
  config.offline = true;
  int streams = 1;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--streams") {
      streams = std::stoi(next());
    } else if (arg == "--smart") {
      config.ladder.smart_passthrough = true;
    } else if (arg == "--ladder") {
      auto rungs = transcode::parse_rungs(next());
      if (!rungs) {
        std::fprintf(stderr, "%s\n", rungs.error().message.c_str());
        return 2;
      }
      config.ladder.rungs = *rungs;
    } else if (arg == "--gop") {
      config.ladder.gop_s = std::stod(next());
    } else if (arg == "--max-delay") {
      // transcode.max_delay: what low-latency mode gives the encoders (one part, 0.334 s).
      config.ladder.max_encoder_delay_s = std::stod(next());
    } else if (arg == "--threads") {
      config.ladder.encoder_threads = std::stoi(next());
    } else if (arg == "--x264-params") {
      // Instead of the default tuning, for every rung ("" gives the reference's settings).
      config.ladder.x264_params = next();
      for (auto& rung : config.ladder.rungs)
        rung.x264_params.clear();
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  config.capacity = static_cast<std::size_t>(streams);
  double media_seconds = 0;
  const auto packets = read_input(argv[1], media_seconds);

  package::HlsConfig hls;
  hls.window = 1000;
  package::HlsStore store(hls);
  DiskWriter disk(argv[2]);
  store.add_listener(&disk);
  const auto start = std::chrono::steady_clock::now();
  {
    transcode::TranscodeService service(
        config, [&store](const std::string& id) { return store.begin_session(id); });
    std::vector<std::thread> feeders;
    for (int s = 0; s < streams; ++s) {
      feeders.emplace_back([&, s] {
        auto sink = service.open("s" + std::to_string(s));
        for (const auto& p : packets)
          sink->on_packet(p);
        sink->end();
      });
    }
    for (auto& t : feeders)
      t.join();
  }  // the service waits for every pipeline
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"media_seconds\": %.3f, \"wall_seconds\": %.3f, \"streams\": %d}\n", media_seconds,
              wall, streams);
  return 0;
}
