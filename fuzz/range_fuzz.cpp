// A Range header from a viewer, against a file size taken from the input's first 8 bytes (or
// the input's own size when shorter): a range served must lie inside the file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/routes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t file_size = size;
  if (size >= sizeof file_size) {
    std::memcpy(&file_size, data, sizeof file_size);
    data += sizeof file_size;
    size -= sizeof file_size;
  }
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const auto range = sluice::http::parse_range(header, file_size);
  if (!range) return 0;
  if (!(range->first <= range->last && range->last < file_size)) __builtin_trap();
  if (!header.starts_with("bytes=")) __builtin_trap();
  // A suffix range ("bytes=-n") and an open one ("bytes=a-") run to the end of the file.
  if (header.starts_with("bytes=-") || header.ends_with('-')) {
    if (range->last != file_size - 1) __builtin_trap();
  }
  return 0;
}
