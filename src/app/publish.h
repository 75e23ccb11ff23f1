// `sluice publish`: an RTMP publisher of our own, for what no publisher on the machine can
// send: Enhanced RTMP (HEVC, AV1, Opus). It sends an FLV or Enhanced FLV file's tags as they
// are, or the packets of any file libavformat reads (MP4, Matroska) wrapped into legacy FLV
// bodies (H.264, AAC) or Enhanced RTMP ones (HEVC, AV1, Opus), paced in real time.
#pragma once

#include <string>

namespace sluice::app {

struct PublishOptions {
  std::string input;  // a file
  std::string url;    // rtmp://host[:port]/app/stream
  int loops = 1;      // times to send the file, timestamps continuing
  bool realtime = true;
};

// Returns the process exit code; errors are printed.
int run_publish(const PublishOptions& options);

}  // namespace sluice::app
