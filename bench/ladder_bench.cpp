// Runs Sluice's ladder on a file as fast as it can: demux (libavformat) -> the same
// TranscodeService `sluice serve` uses, in offline mode -> every segment written to
// OUT/<rendition>/<sequence>.ts. Several copies of the input may run at once (--streams).
// --x264-params P replaces the default libx264 tuning of every rung with P (after --ladder).
// Prints one JSON line: media seconds, wall seconds. CPU and peak RSS are measured by the
// caller (bench/ladder_bench.py) for this process as for ffmpeg.
//
//   ladder_bench INPUT OUT [--streams N] [--smart] [--ladder SPEC] [--gop S] [--threads N]
//                          [--x264-params P] [--max-delay S]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
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

media::PacketPtr make(media::TrackKind kind, bool config, bool key, std::int64_t dts,
                      std::int32_t cts, const std::uint8_t* data, std::size_t size) {
  return transcode::make_flv_packet(kind, config, key, dts, cts,
                                    std::span<const std::uint8_t>(data, size));
}

// The input's packets, read once and shared by every stream.
std::vector<media::PacketPtr> read_input(const char* path, double& seconds) {
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, path, nullptr, nullptr) < 0 ||
      avformat_find_stream_info(fmt, nullptr) < 0) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
  std::vector<media::PacketPtr> packets;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* par = fmt->streams[i]->codecpar;
    if (par->codec_id == AV_CODEC_ID_H264) {
      packets.push_back(make(media::TrackKind::kVideo, true, true, 0, 0, par->extradata,
                             static_cast<std::size_t>(par->extradata_size)));
    } else if (par->codec_id == AV_CODEC_ID_AAC) {
      packets.push_back(make(media::TrackKind::kAudio, true, false, 0, 0, par->extradata,
                             static_cast<std::size_t>(par->extradata_size)));
    }
  }
  AVPacket* pkt = av_packet_alloc();
  std::int64_t last = 0;
  while (av_read_frame(fmt, pkt) >= 0) {
    const AVStream* st = fmt->streams[pkt->stream_index];
    const AVRational ms{1, 1000};
    const std::int64_t dts = av_rescale_q(pkt->dts, st->time_base, ms);
    const std::int64_t pts = av_rescale_q(pkt->pts, st->time_base, ms);
    last = std::max(last, pts);
    if (st->codecpar->codec_id == AV_CODEC_ID_H264) {
      packets.push_back(make(media::TrackKind::kVideo, false, (pkt->flags & AV_PKT_FLAG_KEY) != 0,
                             dts, static_cast<std::int32_t>(pts - dts), pkt->data,
                             static_cast<std::size_t>(pkt->size)));
    } else if (st->codecpar->codec_id == AV_CODEC_ID_AAC) {
      packets.push_back(make(media::TrackKind::kAudio, false, false, dts, 0, pkt->data,
                             static_cast<std::size_t>(pkt->size)));
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  seconds = static_cast<double>(last) / 1000.0;
  return packets;
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
