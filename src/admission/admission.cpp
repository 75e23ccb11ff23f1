#include "admission/admission.h"

namespace sluice::admission {

const char* rtmp_status_code(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::kDraining:
    case RefusalKind::kNoCapacity:
      return "NetStream.Publish.Failed";
    case RefusalKind::kBadKey:
    case RefusalKind::kUnauthorized:
    case RefusalKind::kBadPlaybackId:
    case RefusalKind::kTaken:
      break;
  }
  return "NetStream.Publish.BadName";
}

std::variant<PublishName, Refusal> check_publish_name(std::string_view name, bool draining) {
  if (draining)
    return Refusal{RefusalKind::kDraining, "this server is draining; publish elsewhere"};
  PublishName split = split_publish_name(name);
  if (!valid_stream_name(split.key)) {
    return Refusal{RefusalKind::kBadKey, "invalid stream key (1-128 of [A-Za-z0-9_-])"};
  }
  return split;
}

Verdict settle(PublishName name, const PublishDecision& decision, const AdmissionConfig& config) {
  if (!decision.allowed) {
    return Refusal{RefusalKind::kUnauthorized, "not authorized: " + decision.reason};
  }
  std::string playback_id = decision.playback_id.value_or(
      derive_playback_id(config.playback_id_mode, config.playback_secret, name.key));
  if (!valid_stream_name(playback_id)) {
    return Refusal{RefusalKind::kBadPlaybackId, "authorizer gave an invalid playback ID"};
  }
  return Admitted{std::move(name.key), std::move(name.query), std::move(playback_id),
                  decision.reason};
}

Admission::Admission(AdmissionConfig config, PublishAuthorizer& auth,
                     const std::atomic<bool>* draining)
    : config_(std::move(config)), auth_(auth), draining_(draining) {}

boost::asio::awaitable<Verdict> Admission::admit(const PublishAttempt& attempt) {
  auto checked = check_publish_name(attempt.name, draining_ && draining_->load());
  if (auto* refusal = std::get_if<Refusal>(&checked)) co_return std::move(*refusal);
  auto name = std::get<PublishName>(std::move(checked));
  // Named, not a temporary: GCC 12 destroys temporaries in a co_await operand twice.
  const PublishRequest request{attempt.app,    name.key,          name.query,       attempt.addr,
                               attempt.tc_url, attempt.flash_ver, attempt.client_id};
  const PublishDecision decision = co_await auth_.authorize(request);
  co_return settle(std::move(name), decision, config_);
}

std::optional<std::string> Admission::playback_id_to_play(std::string_view name) {
  std::string id = split_publish_name(name).key;
  if (!valid_stream_name(id)) return std::nullopt;
  return id;
}

}  // namespace sluice::admission
