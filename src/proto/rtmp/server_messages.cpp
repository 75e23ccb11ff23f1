#include "proto/rtmp/server_messages.h"

#include "proto/rtmp/capabilities.h"

#include "proto/rtmp/chunk.h"
#include "proto/rtmp/message.h"

namespace sluice::rtmp {

media::Bytes command_message(std::uint32_t csid, std::uint32_t stream_id,
                             std::initializer_list<amf0::Value> values) {
  return amf0_message(csid, kCommandAmf0, stream_id, values, kServerChunkSize);
}

media::Bytes data_message(std::uint32_t stream_id, std::initializer_list<amf0::Value> values) {
  return amf0_message(kStreamCommandCsid, kDataAmf0, stream_id, values, kServerChunkSize);
}

amf0::Object status_object(const std::string& level, const std::string& code,
                           const std::string& description) {
  return amf0::Object{{{"level", level}, {"code", code}, {"description", description}}};
}

media::Bytes on_status(const std::string& level, const std::string& code,
                       const std::string& description) {
  return command_message(kStreamCommandCsid, kMediaStreamId,
                         {"onStatus", 0.0, amf0::Null{}, status_object(level, code, description)});
}

media::Bytes user_control(std::uint16_t event, std::uint32_t value) {
  media::Bytes out;
  write_user_control(event, value, out);
  return out;
}

amf0::Object server_capabilities() {
  amf0::Object props{{{"fmsVer", "FMS/3,0,1,123"}, {"capabilities", 31.0}}};
  for (auto& p : sluice_capabilities(/*reconnect=*/true))
    props.properties.push_back(std::move(p));
  return props;
}

media::Bytes connect_accepted(double txid, double object_encoding) {
  media::Bytes out;
  write_window_ack_size(kServerWindowAckSize, out);
  write_set_peer_bandwidth(kServerWindowAckSize, 2, out);
  write_set_chunk_size(kServerChunkSize, out);
  auto info = status_object("status", "NetConnection.Connect.Success", "Connection succeeded.");
  info.properties.emplace_back("objectEncoding", object_encoding);
  const auto result =
      command_message(kCommandCsid, 0, {"_result", txid, server_capabilities(), info});
  out.insert(out.end(), result.begin(), result.end());
  return out;
}

media::Bytes reconnect_request(const std::string& description) {
  return command_message(
      kCommandCsid, 0,
      {"onStatus", 0.0, amf0::Null{},
       status_object("status", "NetConnection.Connect.ReconnectRequest", description)});
}

media::Bytes connect_rejected(double txid, const std::string& description) {
  return command_message(kCommandCsid, 0,
                         {"_error", txid, amf0::Null{},
                          status_object("error", "NetConnection.Connect.Rejected", description)});
}

std::string normalize_app(std::string app) {
  if (auto q = app.find('?'); q != std::string::npos) app.resize(q);
  while (!app.empty() && app.back() == '/')
    app.pop_back();
  return app;
}

}  // namespace sluice::rtmp
