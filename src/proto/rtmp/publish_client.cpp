#include "proto/rtmp/publish_client.h"

#include <cmath>

#include "proto/amf0/amf0.h"
#include "proto/rtmp/capabilities.h"
#include "proto/rtmp/message.h"

namespace sluice::rtmp {

namespace {

constexpr double kConnectTxid = 1, kCreateStreamTxid = 4, kPublishTxid = 5;
constexpr std::uint32_t kCommandCsid = 3;
constexpr std::uint32_t kPublishCsid = 8;

media::Bytes command(std::uint32_t csid, std::uint32_t stream_id,
                     std::initializer_list<amf0::Value> values) {
  return amf0_message(csid, kCommandAmf0, stream_id, values, PublishClient::kMediaChunkSize);
}

}  // namespace

PublishClient::PublishClient(PublishTarget target)
    : target_(std::move(target)), handshake_(/*digest=*/true) {}

media::Bytes PublishClient::start() {
  return handshake_.start();
}

Result<media::Bytes> PublishClient::feed(std::span<const std::uint8_t> in) {
  media::Bytes out;
  if (state_ == State::kHandshake) {
    auto step = handshake_.feed(in);
    if (!step) return step.error();
    out = std::move(step->out);
    if (!step->done) return out;
    in = in.subspan(step->consumed);
    // Set Chunk Size first: every message after it, commands included, uses it.
    write_set_chunk_size(kMediaChunkSize, out);
    // Enhanced RTMP: the codecs this client may send (a relay forwards what it is given).
    amf0::Object object{{{"app", target_.app},
                         {"type", "nonprivate"},
                         {"flashVer", "FMLE/3.0 (compatible; Sluice)"},
                         {"tcUrl", target_.tc_url}}};
    for (auto& p : sluice_capabilities(target_.follows_reconnect))
      object.properties.push_back(std::move(p));
    auto connect = command(kCommandCsid, 0, {"connect", kConnectTxid, std::move(object)});
    out.insert(out.end(), connect.begin(), connect.end());
    state_ = State::kConnecting;
  }
  if (auto ack = acks_.on_received(in.size())) write_acknowledgement(*ack, out);
  std::vector<Message> messages;
  if (auto st = decoder_.feed(in, messages); !st) return st.error();
  for (const auto& m : messages) {
    if (auto st = on_message(m, out); !st) return st.error();
  }
  return out;
}

Status PublishClient::on_message(const Message& m, media::Bytes& out) {
  const auto body = std::span<const std::uint8_t>(*m.payload);
  switch (m.type) {
    case kWindowAckSize: {
      auto size = parse_u32_body(body);
      if (!size) return size.error();
      acks_.set_window(*size);
      return Ok{};
    }
    case kUserControl: {
      auto uc = parse_user_control(body);
      if (!uc) return uc.error();
      if (uc->event == kPingRequest) {
        write_user_control(kPingResponse, uc->value, out);
      }
      return Ok{};
    }
    case kCommandAmf0:
      return on_command(m, out);
    default:
      return Ok{};  // chunk size (applied by the decoder), bandwidth, data: nothing to do
  }
}

Status PublishClient::on_command(const Message& m, media::Bytes& out) {
  auto values = amf0::decode_all(*m.payload);
  if (!values) return values.error();
  const auto& v = *values;
  if (v.size() < 2 || !v[0].as_string()) return Ok{};
  const std::string& name = *v[0].as_string();
  const double txid = v[1].as_number() ? *v[1].as_number() : -1;
  const auto info = [&](std::string_view key) {
    return v.size() >= 4 ? v[3].get_string(key) : std::string();
  };
  if (name == "_error" && (txid == kConnectTxid || txid == kCreateStreamTxid)) {
    return make_error(Errc::kRejected, std::string("server refused ") +
                                           (txid == kConnectTxid ? "connect" : "createStream") +
                                           ": " + info("code") + " " + info("description"));
  }
  if (name == "_result" && txid == kConnectTxid && state_ == State::kConnecting) {
    if (v.size() >= 3) server_fourccs_ = announced_fourccs(v[2]);
    for (const auto& cmd :
         {command(kCommandCsid, 0, {"releaseStream", 2.0, amf0::Null{}, target_.stream}),
          command(kCommandCsid, 0, {"FCPublish", 3.0, amf0::Null{}, target_.stream}),
          command(kCommandCsid, 0, {"createStream", kCreateStreamTxid, amf0::Null{}})}) {
      out.insert(out.end(), cmd.begin(), cmd.end());
    }
    state_ = State::kCreatingStream;
    return Ok{};
  }
  if (name == "_result" && txid == kCreateStreamTxid && state_ == State::kCreatingStream) {
    const double id = v.size() >= 4 && v[3].as_number() ? *v[3].as_number() : -1;
    if (!(id >= 0 && id < 1e6) || std::floor(id) != id) {
      return make_error(Errc::kMalformed, "createStream _result without a stream id");
    }
    stream_id_ = static_cast<std::uint32_t>(id);
    auto publish = command(kPublishCsid, stream_id_,
                           {"publish", kPublishTxid, amf0::Null{}, target_.stream, "live"});
    out.insert(out.end(), publish.begin(), publish.end());
    state_ = State::kStartingPublish;
    return Ok{};
  }
  if (name == "onStatus") {
    const std::string code = info("code");
    if (info("level") == "error" || code.ends_with(".Failed") || code.ends_with(".BadName")) {
      return make_error(Errc::kRejected,
                        "server refused publish: " + code + " " + info("description"));
    }
    if (code == "NetStream.Publish.Start") state_ = State::kPublishing;
    if (code == "NetConnection.Connect.ReconnectRequest" && target_.follows_reconnect) {
      reconnect_tc_url_ = info("tcUrl");
      reconnect_requested_ = true;
    }
  }
  return Ok{};  // onBWDone, onFCPublish, _result of releaseStream/FCPublish, ...
}

media::Bytes PublishClient::unpublish() const {
  media::Bytes out = command(kCommandCsid, 0, {"FCUnpublish", 6.0, amf0::Null{}, target_.stream});
  auto del = command(kCommandCsid, 0,
                     {"deleteStream", 7.0, amf0::Null{}, static_cast<double>(stream_id_)});
  out.insert(out.end(), del.begin(), del.end());
  return out;
}

}  // namespace sluice::rtmp
