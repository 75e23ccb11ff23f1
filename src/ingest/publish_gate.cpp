#include "ingest/publish_gate.h"

namespace sluice::ingest {

PublishGate::PublishGate(admission::Admission& admission, StreamHub& hub, PublishGateHooks hooks,
                         bool takeover)
    : admission_(admission), hub_(hub), hooks_(std::move(hooks)), takeover_(takeover) {}

boost::asio::awaitable<std::variant<Publication, admission::Refusal>> PublishGate::admit(
    const admission::PublishAttempt& attempt) {
  auto verdict = co_await admission_.admit(attempt);
  if (auto* refusal = std::get_if<admission::Refusal>(&verdict)) co_return std::move(*refusal);
  auto& admitted = std::get<admission::Admitted>(verdict);
  auto stream = hub_.start_publish(admitted.playback_id, takeover_);
  if (!stream) co_return admission::Refusal{admission::RefusalKind::kTaken, stream.error().message};
  Publication publication{*stream, nullptr, std::move(admitted)};
  if (hooks_.open_outputs)
    publication.outputs = hooks_.open_outputs(publication.stream->playback_id());
  if (hooks_.on_publish) hooks_.on_publish(publication.stream, publication.admitted.options);
  co_return publication;
}

void PublishGate::end(Publication& publication) {
  if (publication.outputs) publication.outputs->end();
  if (publication.stream) hub_.end_publish(publication.stream);
}

}  // namespace sluice::ingest
