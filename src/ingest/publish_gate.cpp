#include "ingest/publish_gate.h"

namespace sluice::ingest {

namespace {

// A stream's outputs as one of its subscribers. Metadata, and codecs they do not take, stay
// with the RTMP side.
class OutputFeed final : public Subscriber {
 public:
  explicit OutputFeed(std::unique_ptr<media::PacketSink> sink) : sink_(std::move(sink)) {}
  void on_item(const LiveItemPtr& item) override {
    const auto& packet = item->packet;
    if (packet->kind != media::TrackKind::kData && packet->codec != media::Codec::kUnknown) {
      sink_->on_packet(packet);
    }
  }
  void on_stream_end() override { sink_->end(); }

 private:
  std::unique_ptr<media::PacketSink> sink_;
};

}  // namespace

PublishGate::PublishGate(admission::Admission& admission, StreamHub& hub, PublishGateHooks hooks,
                         bool takeover)
    : admission_(admission), hub_(hub), hooks_(std::move(hooks)), takeover_(takeover) {}

boost::asio::awaitable<std::variant<Publication, admission::Refusal>> PublishGate::admit(
    const admission::PublishAttempt& attempt) {
  auto verdict = co_await admission_.admit(attempt);
  if (auto* refusal = std::get_if<admission::Refusal>(&verdict)) co_return std::move(*refusal);
  auto& admitted = std::get<admission::Admitted>(verdict);
  auto stream = hub_.start_publish(admitted.playback_id, takeover_,
                                   Publisher{attempt.protocol, attempt.addr});
  if (!stream) co_return admission::Refusal{admission::RefusalKind::kTaken, stream.error().message};
  Publication publication{*stream, std::move(admitted)};
  if (hooks_.open_outputs) {
    auto outputs = hooks_.open_outputs(publication.stream->playback_id());
    if (outputs) publication.stream->subscribe(std::make_shared<OutputFeed>(std::move(outputs)));
  }
  if (hooks_.on_publish) hooks_.on_publish(publication.stream, publication.admitted.options);
  co_return publication;
}

void PublishGate::end(Publication& publication) {
  if (publication.stream) hub_.end_publish(publication.stream);
}

}  // namespace sluice::ingest
