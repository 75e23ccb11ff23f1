// The client side of an RTMP publish (what OBS or ffmpeg does to a server), sans-I/O: bytes
// from the server in, bytes to send out. Handshake, connect, releaseStream, FCPublish,
// createStream and publish, then it keeps answering pings and acknowledging bytes while the
// caller sends media. Fuzzed (fuzz/publish_client_fuzz.cpp). A refusal (connect _error, a publish
// onStatus error) is an Error whose message carries the server's code and description.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/packet.h"
#include "media/result.h"
#include "proto/rtmp/chunk.h"
#include "proto/rtmp/handshake.h"

namespace sluice::rtmp {

struct PublishTarget {
  std::string app;
  std::string tc_url;
  std::string stream;  // publish name, with its query if any
  // Announce Enhanced RTMP's reconnect capability, and report a server's reconnect request
  // (reconnect_requested()): for a caller that will connect anew when asked.
  bool follows_reconnect = false;
};

class PublishClient {
 public:
  explicit PublishClient(PublishTarget target);

  media::Bytes start();  // C0+C1
  // Consumes all of `in`; returns what to send. After an error it must not be fed again.
  Result<media::Bytes> feed(std::span<const std::uint8_t> in);
  // NetStream.Publish.Start received: media may flow, on stream_id(), at kMediaChunkSize.
  bool publishing() const { return state_ == State::kPublishing; }
  std::uint32_t stream_id() const { return stream_id_; }
  // The Enhanced RTMP codecs the server announced in its connect _result (empty for a
  // legacy server): see rtmp::announces.
  const std::vector<std::string>& server_fourccs() const { return server_fourccs_; }
  // The server sent NetConnection.Connect.ReconnectRequest (follows_reconnect only): connect
  // anew, to reconnect_tc_url() if not empty (absolute or relative to the current tcUrl), at
  // the next keyframe, then leave this connection.
  bool reconnect_requested() const { return reconnect_requested_; }
  const std::string& reconnect_tc_url() const { return reconnect_tc_url_; }
  // FCUnpublish and deleteStream, for a clean end.
  media::Bytes unpublish() const;

  static constexpr std::uint32_t kMediaChunkSize = 4096;

 private:
  enum class State { kHandshake, kConnecting, kCreatingStream, kStartingPublish, kPublishing };
  Status on_message(const Message& message, media::Bytes& out);
  Status on_command(const Message& message, media::Bytes& out);

  PublishTarget target_;
  State state_ = State::kHandshake;
  ClientHandshake handshake_;
  ChunkDecoder decoder_;
  AckCounter acks_;
  std::uint32_t stream_id_ = 0;
  std::vector<std::string> server_fourccs_;
  bool reconnect_requested_ = false;
  std::string reconnect_tc_url_;
};

}  // namespace sluice::rtmp
