#include "proto/rtmp/command_phase.h"

#include "proto/rtmp/capabilities.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::rtmp {

CommandPhase::CommandPhase(CommandPhaseConfig config) : config_(std::move(config)) {}

Result<CommandStep> CommandPhase::on_command(const Message& message) {
  auto body = std::span<const std::uint8_t>(*message.payload);
  // AMF3 command messages start with a 0 byte and then carry AMF0 values.
  if (message.type == kCommandAmf3 && !body.empty()) body = body.subspan(1);
  auto values = amf0::decode_all(body, config_.amf0_limits);
  if (!values) return make_error(values.error().code, "command: " + values.error().message);
  const auto& v = *values;
  if (v.empty() || !v[0].as_string()) return make_error(Errc::kMalformed, "command without a name");
  const std::string& name = *v[0].as_string();
  const double txid = v.size() > 1 && v[1].as_number() ? *v[1].as_number() : 0.0;
  const auto arg = [&](std::size_t i) -> std::string {
    return v.size() > i && v[i].as_string() ? *v[i].as_string() : std::string{};
  };

  if (name == "connect") return on_connect(txid, v.size() > 2 ? v[2] : amf0::Value{});
  if (!connected_) return make_error(Errc::kMalformed, "'" + name + "' before connect");
  CommandStep step;
  step.command = name;
  if (name == "createStream") {
    answered_.insert(txid);
    step.reply =
        command_message(kCommandCsid, 0, {"_result", txid, amf0::Null{}, double(kMediaStreamId)});
  } else if (name == "releaseStream" || name == "FCPublish" || name == "FCUnpublish" ||
             name == "getStreamLength") {
    // A transaction ID of 0 asks for no answer.
    if (txid != 0) {
      answered_.insert(txid);
      step.reply =
          command_message(kCommandCsid, 0, {"_result", txid, amf0::Null{}, amf0::Undefined{}});
    }
  } else if (name == "publish") {
    return request(CommandStep::Action::kPublish, name, arg(3));
  } else if (name == "play") {
    return request(CommandStep::Action::kPlay, name, arg(3));
  } else if (name == "deleteStream" || name == "closeStream") {
    step.action = CommandStep::Action::kEnd;
  }
  return step;
}

bool ClientInfo::announced(std::string_view fourcc) const {
  return announces(fourccs, fourcc);
}

Result<CommandStep> CommandPhase::on_connect(double txid, const amf0::Value& object) {
  client_.app = normalize_app(object.get_string("app"));
  client_.tc_url = object.get_string("tcUrl");
  client_.flash_ver = object.get_string("flashVer");
  client_.fourccs = announced_fourccs(object);
  client_.caps_ex = announced_caps_ex(object);
  CommandStep step;
  step.command = "connect";
  if (client_.app != config_.app) {
    step.action = CommandStep::Action::kRefused;
    step.name = client_.app;
    step.reply = connect_rejected(txid, "unknown application");
    return step;
  }
  connected_ = true;
  answered_.insert(txid);
  step.reply = connect_accepted(txid, object.get_number("objectEncoding", 0));
  return step;
}

Result<CommandStep> CommandPhase::request(CommandStep::Action action, const std::string& command,
                                          std::string name) {
  if (role_ != Role::kNone) {
    return make_error(Errc::kMalformed, command + " on a connection that already " +
                                            (role_ == Role::kPublish ? "publishes" : "plays"));
  }
  role_ = action == CommandStep::Action::kPublish ? Role::kPublish : Role::kPlay;
  CommandStep step;
  step.action = action;
  step.command = command;
  step.name = std::move(name);
  return step;
}

media::Bytes CommandPhase::publish_started(const std::string& playback_id) {
  media::Bytes out = user_control(kStreamBegin, kMediaStreamId);
  const auto status =
      on_status("status", "NetStream.Publish.Start", playback_id + " is now published.");
  out.insert(out.end(), status.begin(), status.end());
  return out;
}

media::Bytes CommandPhase::play_started(const std::string& name) {
  media::Bytes out = user_control(kStreamBegin, kMediaStreamId);
  for (const auto& part :
       {on_status("status", "NetStream.Play.Reset", "Playing and resetting " + name),
        on_status("status", "NetStream.Play.Start", "Started playing " + name),
        data_message(kMediaStreamId, {"|RtmpSampleAccess", true, true})}) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

media::Bytes CommandPhase::play_ended(const std::string& name) {
  media::Bytes out = user_control(kStreamEof, kMediaStreamId);
  const auto notify =
      on_status("status", "NetStream.Play.UnpublishNotify", name + " is unpublished.");
  out.insert(out.end(), notify.begin(), notify.end());
  return out;
}

media::Bytes CommandPhase::refused(const std::string& code, const std::string& description) {
  return on_status("error", code, description);
}

}  // namespace sluice::rtmp
