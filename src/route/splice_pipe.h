// A kernel pipe for splice(2): bytes go from one socket into the pipe and from the pipe into
// another socket without passing through user space (what HAProxy calls splicing). Linux
// only; the proxy falls back to copying when splicing is unavailable.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>

namespace sluice::route {

class SplicePipe {
 public:
  // nullopt when no pipe can be made (out of descriptors).
  static std::optional<SplicePipe> open();
  SplicePipe(SplicePipe&& other) noexcept;
  SplicePipe& operator=(SplicePipe&&) = delete;
  SplicePipe(const SplicePipe&) = delete;
  ~SplicePipe();

  // Non-blocking moves; both return bytes moved, 0 at the end of `from`'s input (fill), or -1
  // with errno (EAGAIN: not ready; EINVAL: this descriptor cannot be spliced).
  ssize_t fill(int from_fd);
  ssize_t drain(int to_fd);
  std::size_t buffered() const { return buffered_; }

 private:
  SplicePipe(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::size_t buffered_ = 0;
};

}  // namespace sluice::route
