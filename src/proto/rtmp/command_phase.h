// The server side of RTMP's command phase (connect, releaseStream, FCPublish, createStream,
// publish, play, deleteStream), sans-I/O: command messages in, answers and decisions out.
// `sluice serve`'s sessions and `sluice proxy` both run it, so a client hears the same
// answers from either. Fuzzed (fuzz/command_phase_fuzz.cpp).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "media/packet.h"
#include "media/result.h"
#include "proto/amf0/amf0.h"
#include "proto/rtmp/chunk.h"

namespace sluice::rtmp {

struct CommandPhaseConfig {
  std::string app = "stream";  // the one application clients may connect to
  amf0::Limits amf0_limits;
};

// What the client said about itself in connect.
struct ClientInfo {
  std::string app;  // normalized: "stream/" and "stream?x" are "stream"
  std::string tc_url;
  std::string flash_ver;
  // Enhanced RTMP: the FourCCs it announced (fourCcList, and the keys of videoFourCcInfoMap
  // and audioFourCcInfoMap with any flag set), "*" for any. Empty for a legacy client.
  std::vector<std::string> fourccs;
  std::uint32_t caps_ex = 0;  // Enhanced RTMP capsEx flags (kCapsExReconnect, ...)
  // Whether the client announced `fourcc` (compared without case, as some clients write
  // "Hvc1"), or the wildcard.
  bool announced(std::string_view fourcc) const;
};

struct CommandStep {
  enum class Action {
    kContinue,  // nothing to decide
    kPublish,   // the client asks to publish `name`; answer with publish_started() or refused()
    kPlay,      // the client asks to play `name`; answer with play_started() or refused()
    kEnd,       // deleteStream or closeStream: the client is done
    kRefused,   // connect to an application other than the configured one; close after `reply`
  };
  Action action = Action::kContinue;
  media::Bytes reply;   // to send now, before anything else; may be empty
  std::string command;  // the command's name, for logs
  std::string name;     // kPublish, kPlay: the stream name with its query; kRefused: the app
};

class CommandPhase {
 public:
  explicit CommandPhase(CommandPhaseConfig config);

  // `message` is a command message (kCommandAmf0 or kCommandAmf3). An Error is a protocol
  // violation: the connection must close.
  Result<CommandStep> on_command(const Message& message);

  bool connected() const { return connected_; }
  const ClientInfo& client() const { return client_; }
  // Transactions answered here: a proxy that replays the client's commands to a server
  // drops the server's answers to these.
  const std::set<double>& answered() const { return answered_; }

  // The answers once the caller has decided on a publish or a play.
  static media::Bytes publish_started(const std::string& playback_id);
  static media::Bytes play_started(const std::string& name);
  // What a player hears when the stream it plays ends.
  static media::Bytes play_ended(const std::string& name);
  // An onStatus error ("NetStream.Publish.BadName", ...) on the media stream.
  static media::Bytes refused(const std::string& code, const std::string& description);

 private:
  enum class Role { kNone, kPublish, kPlay };
  Result<CommandStep> on_connect(double txid, const amf0::Value& object);
  Result<CommandStep> request(CommandStep::Action action, const std::string& command,
                              std::string name);

  const CommandPhaseConfig config_;
  bool connected_ = false;
  Role role_ = Role::kNone;
  ClientInfo client_;
  std::set<double> answered_;
};

}  // namespace sluice::rtmp
