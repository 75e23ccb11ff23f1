#include "route/splice_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace sluice::route {

namespace {
// What one fill may take: the pipe's default capacity on Linux (16 pages).
constexpr std::size_t kPipeBytes = 64 * 1024;
}  // namespace

std::optional<SplicePipe> SplicePipe::open() {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
  return SplicePipe(fds[0], fds[1]);
}

SplicePipe::SplicePipe(SplicePipe&& other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)),
      write_fd_(std::exchange(other.write_fd_, -1)),
      buffered_(std::exchange(other.buffered_, 0)) {}

SplicePipe::~SplicePipe() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

ssize_t SplicePipe::fill(int from_fd) {
  const ssize_t n = splice(from_fd, nullptr, write_fd_, nullptr, kPipeBytes - buffered_,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) buffered_ += static_cast<std::size_t>(n);
  return n;
}

ssize_t SplicePipe::drain(int to_fd) {
  const ssize_t n =
      splice(read_fd_, nullptr, to_fd, nullptr, buffered_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) buffered_ -= static_cast<std::size_t>(n);
  return n;
}

}  // namespace sluice::route
