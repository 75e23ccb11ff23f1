#include "app/registration.h"

#include "observe/log.h"

namespace sluice::app {

Registration::Registration(registry::Registry& registry, std::string advertise,
                           std::string node_tag)
    : registry_(registry), advertise_(std::move(advertise)), node_tag_(std::move(node_tag)) {}

namespace {

observe::Logger registry_log(const std::string& playback_id) {
  observe::Logger log("registry");
  log.with("component", "registry").with("stream", playback_id);
  return log;
}

}  // namespace

void Registration::on_segment(const std::string& playback_id, const std::string&,
                              const package::SegmentPtr& segment) {
  const std::string session = node_tag_ + "-" + std::to_string(segment->session);
  registry::StreamEntry entry;
  {
    std::lock_guard lock(mutex_);
    Held& held = held_[playback_id];
    if (held.session != session) {
      if (held.session.empty()) registry_log(playback_id).info("{} is playable here", playback_id);
      held = Held{session};
    }
    held.next_sequence = std::max(held.next_sequence, segment->sequence + 1);
    held.discontinuities = std::max(held.discontinuities, segment->discontinuities);
    entry = {playback_id, advertise_, session, held.next_sequence, held.discontinuities};
  }
  registry_.publish_stream(entry);
}

void Registration::on_publish(const std::string& playback_id,
                              const package::HlsStore::SessionPosition& position) {
  if (auto holder = registry_.find_stream(playback_id); holder && holder->address != advertise_)
    return;  // moving here: switch viewers over at the first segment (on_segment)
  const std::string session = node_tag_ + "-" + std::to_string(position.session);
  registry::StreamEntry entry;
  {
    std::lock_guard lock(mutex_);
    Held& held = held_[playback_id];
    if (held.session == session) return;
    held = Held{session, position.next_sequence, position.discontinuities};
    entry = {playback_id, advertise_, session, held.next_sequence, held.discontinuities};
  }
  registry_log(playback_id).info("{} is published here", playback_id);
  registry_.publish_stream(entry);
}

void Registration::on_stream_dropped(const std::string& playback_id) {
  std::string session;
  {
    std::lock_guard lock(mutex_);
    auto it = held_.find(playback_id);
    if (it == held_.end()) return;
    session = it->second.session;
    held_.erase(it);
  }
  registry_.withdraw_stream(playback_id, session);
}

std::optional<package::Continuation> Registration::continuation(
    const std::string& playback_id) const {
  auto entry = registry_.find_stream(playback_id);
  if (!entry || entry->address == advertise_) return std::nullopt;
  registry_log(playback_id)
      .info("{} moves here from {}; continuing its playlists at {}", playback_id, entry->address,
            entry->next_sequence);
  return package::Continuation{entry->next_sequence, entry->discontinuities};
}

}  // namespace sluice::app
