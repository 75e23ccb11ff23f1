// MSB-first bit reading for codec headers (H.264 and HEVC parameter sets, AV1 sequence
// headers): fixed-width fields, Exp-Golomb codes, and H.264/HEVC emulation prevention bytes
// (00 00 03 -> 00 00) dropped on the fly so no copy is made. Every read reports running out.
#pragma once

#include <cstdint>
#include <span>

namespace sluice::media {

class BitReader {
 public:
  // `rbsp`: drop emulation prevention bytes (H.264 and HEVC NAL units); AV1 OBUs have none.
  explicit BitReader(std::span<const std::uint8_t> data, bool rbsp = true)
      : data_(data), rbsp_(rbsp) {}

  bool bits(int n, std::uint32_t& out) {
    out = 0;
    for (int i = 0; i < n; ++i) {
      if (bit_ == 0 && !load()) return false;
      --bit_;
      out = (out << 1) | ((cur_ >> bit_) & 1);
    }
    return true;
  }
  bool skip(int n) {
    std::uint32_t ignored;
    while (n > 32) {
      if (!bits(32, ignored)) return false;
      n -= 32;
    }
    return bits(n, ignored);
  }
  bool flag(bool& out) {
    std::uint32_t b;
    if (!bits(1, b)) return false;
    out = b != 0;
    return true;
  }
  // ue(v), H.264 9.1. More than 31 leading zeros cannot encode a 32-bit value.
  bool ue(std::uint32_t& out) {
    int zeros = 0;
    std::uint32_t b = 0;
    for (;;) {
      if (!bits(1, b)) return false;
      if (b) break;
      if (++zeros > 31) return false;
    }
    std::uint32_t suffix = 0;
    if (!bits(zeros, suffix)) return false;
    out = static_cast<std::uint32_t>((std::uint64_t{1} << zeros) - 1 + suffix);
    return true;
  }
  bool se(std::int32_t& out) {
    std::uint32_t k;
    if (!ue(k)) return false;
    const auto magnitude = static_cast<std::int64_t>((std::uint64_t{k} + 1) / 2);
    out = static_cast<std::int32_t>(k & 1 ? magnitude : -magnitude);
    return true;
  }

 private:
  bool load() {
    if (pos_ >= data_.size()) return false;
    if (rbsp_ && zeros_ >= 2 && data_[pos_] == 0x03) {
      zeros_ = 0;
      if (++pos_ >= data_.size()) return false;
    }
    cur_ = data_[pos_++];
    zeros_ = cur_ == 0 ? zeros_ + 1 : 0;
    bit_ = 8;
    return true;
  }

  std::span<const std::uint8_t> data_;
  bool rbsp_ = true;
  std::size_t pos_ = 0;
  int zeros_ = 0;  // consecutive zero bytes just read, for emulation prevention
  std::uint8_t cur_ = 0;
  int bit_ = 0;  // bits of cur_ not yet read
};

}  // namespace sluice::media
