// Decodes arbitrary bytes as an AMF0 value sequence; whatever decodes must re-encode to bytes
// that decode to the same values (compared as encodings, so NaN numbers compare equal).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/amf0/amf0.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::amf0;
  auto values = decode_all({data, size});
  if (!values) return 0;
  std::vector<std::uint8_t> once;
  for (const auto& v : *values)
    encode(v, once);
  auto again = decode_all(once);
  if (!again || again->size() != values->size()) __builtin_trap();
  std::vector<std::uint8_t> twice;
  for (const auto& v : *again)
    encode(v, twice);
  if (twice != once) __builtin_trap();
  return 0;
}
