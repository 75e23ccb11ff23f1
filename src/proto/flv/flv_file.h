// FLV files (legacy and Enhanced FLV): the header, then tags with their type, timestamp and
// body, as a publisher sends them as RTMP messages. Sans-I/O: it reads a byte buffer. Used by
// `sluice publish` to send a file, and by tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "media/result.h"

namespace sluice::flv {

struct FileTag {
  std::uint8_t type = 0;  // 8 audio, 9 video, 18 script data
  std::uint32_t timestamp_ms = 0;
  std::span<const std::uint8_t> body;  // within the file's bytes
};

// Every tag of `file`. A file cut short after its last whole tag is read up to there; a header
// or tag that contradicts itself is an error.
Result<std::vector<FileTag>> read_flv_file(std::span<const std::uint8_t> file);

}  // namespace sluice::flv
