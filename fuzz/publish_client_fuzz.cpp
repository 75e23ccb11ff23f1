// Fuzzes the publishing client with what a hostile or broken server could answer: after a
// well-formed S0+S1+S2, arbitrary chunk-stream bytes in reads of varying size. It must
// return errors, never crash, and stop being fed after one.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/rtmp/publish_client.h"

using namespace sluice::rtmp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = data[0] == 0 ? size : data[0];
  PublishClient client({"live", "rtmp://h/live", "key"});
  client.start();
  std::vector<std::uint8_t> hello(1 + 2 * kHandshakeSize, 0);
  hello[0] = 3;
  if (!client.feed(hello)) return 0;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  for (std::size_t i = 0; i < in.size(); i += step) {
    if (!client.feed(in.subspan(i, std::min(step, in.size() - i)))) break;
  }
  return 0;
}
