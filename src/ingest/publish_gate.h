// How a publisher becomes a live stream on this server, whatever protocol it came in on: the
// shared admission step (admission/), then the claim of the playback ID in the hub with the
// take-over rule, then its outputs, subscribed to the stream like every other consumer. An
// ingest protocol only turns its wire format into a PublishAttempt and media packets for
// Stream::publish, and tells its client the outcome in its own terms.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "admission/admission.h"
#include "ingest/stream_hub.h"
#include "media/packet_sink.h"

namespace sluice::ingest {

struct Publication {
  std::shared_ptr<Stream> stream;  // where the protocol publishes the session's packets
  admission::Admitted admitted;
};

struct PublishGateHooks {
  // Opens where a publish session's media goes (HLS passthrough or a transcoder).
  std::function<std::unique_ptr<media::PacketSink>(const std::string& playback_id)> open_outputs;
  // Told about each publish that starts, with its publish options (relays start here).
  std::function<void(const std::shared_ptr<Stream>&, const std::string& options)> on_publish;
};

class PublishGate {
 public:
  // `admission` and `hub` outlive the gate. With `takeover`, a second publisher of a live
  // playback ID replaces the first; without, it is refused.
  PublishGate(admission::Admission& admission, StreamHub& hub, PublishGateHooks hooks,
              bool takeover);

  boost::asio::awaitable<std::variant<Publication, admission::Refusal>> admit(
      const admission::PublishAttempt& attempt);
  // The publisher left: ends the stream (and with it its outputs) and releases the playback ID.
  void end(Publication& publication);

 private:
  admission::Admission& admission_;
  StreamHub& hub_;
  const PublishGateHooks hooks_;
  const bool takeover_;
};

}  // namespace sluice::ingest
