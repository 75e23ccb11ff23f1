#include "proto/flv/flv_file.h"

#include <string>

namespace sluice::flv {

Result<std::vector<FileTag>> read_flv_file(std::span<const std::uint8_t> file) {
  if (file.size() < 9 || file[0] != 'F' || file[1] != 'L' || file[2] != 'V') {
    return make_error(Errc::kMalformed, "flv file: no FLV signature");
  }
  const std::uint32_t header_size = static_cast<std::uint32_t>(file[5]) << 24 |
                                    static_cast<std::uint32_t>(file[6]) << 16 |
                                    static_cast<std::uint32_t>(file[7]) << 8 | file[8];
  if (header_size < 9 || header_size > file.size()) {
    return make_error(Errc::kMalformed, "flv file: header size " + std::to_string(header_size));
  }
  std::vector<FileTag> tags;
  std::size_t pos = header_size + 4;  // PreviousTagSize0
  while (pos + 11 <= file.size()) {
    const auto* t = &file[pos];
    const std::size_t size = static_cast<std::size_t>(t[1]) << 16 | t[2] << 8 | t[3];
    if (file.size() - pos - 11 < size) break;  // cut short: the last tag is incomplete
    FileTag tag;
    tag.type = t[0] & 0x1f;
    if (t[0] & 0x20) return make_error(Errc::kUnsupported, "flv file: encrypted tag");
    tag.timestamp_ms = static_cast<std::uint32_t>(t[7]) << 24 |
                       static_cast<std::uint32_t>(t[4]) << 16 | t[5] << 8 | t[6];
    tag.body = file.subspan(pos + 11, size);
    tags.push_back(tag);
    pos += 11 + size + 4;
  }
  return tags;
}

}  // namespace sluice::flv
