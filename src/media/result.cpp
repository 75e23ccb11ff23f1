#include "media/result.h"

namespace sluice {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::kMalformed:
      return "malformed";
    case Errc::kLimitExceeded:
      return "limit exceeded";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kRejected:
      return "rejected";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kIo:
      return "i/o error";
    case Errc::kNotFound:
      return "not found";
  }
  return "unknown";
}

}  // namespace sluice
