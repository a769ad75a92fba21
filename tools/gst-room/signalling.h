/* gst-room: one signalling connection — the JSON messages of
 * docs/signalling.md, one handler per message type.  It knows nothing of the
 * transport: the server gives it a way to send text and to close, so the
 * handlers can be driven by a fuzzer as well as by a WebSocket. */
#pragma once

#include <glib.h>

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "roomfile.h"

class Room;
class Peer;
class Show;
class Recorder;
class Edges;
class ManagedPipeline;
class AuthThrottle;

class SignallingClient {
public:
  struct Transport {
    std::function<void (const std::string &text)> send;
    /* Closes the connection with a WebSocket close code. */
    std::function<void (gushort code, const std::string &reason)> close;
    std::string remote_host; /* for per-address limits and the log */
  };

  /* @show: the room's live show, or null. */
  SignallingClient (
      Room &room, Show *show, AuthThrottle &throttle, Transport transport);
  ~SignallingClient ();
  SignallingClient (const SignallingClient &) = delete;
  SignallingClient &operator= (const SignallingClient &) = delete;

  /* The room's recordings (null: none); the record-* commands drive it. */
  void set_recorder (Recorder *recorder) { recorder_ = recorder; }
  void set_edges (Edges *edges) { edges_ = edges; }

  /* One text message as it arrived (@size bytes, any content). */
  void handle_text (const char *data, gsize size);
  /* A binary frame: refused. */
  void handle_binary ();

  void send (const nlohmann::json &message);
  void send_error (const std::string &code, const std::string &message,
      const std::string &request = "");

  /* The peer this connection joined as, or null.  The room owns peers; the
   * client only keeps the id, so a peer gone for any reason is never read. */
  Peer *peer () const;
  bool joined () const { return peer_id_ != 0; }
  /* Monotonic time of the last message from the other side. */
  gint64 last_heard () const { return last_heard_; }

  /* The peer failed or timed out: tell the page, drop the peer. */
  void drop_peer (const std::string &code, const std::string &why);

private:
  using Handler = void (SignallingClient::*) (const nlohmann::json &message);

  bool admit ();
  void dispatch (const nlohmann::json &message);
  Show *control_show (const char *request);
  Recorder *control_recorder (const char *request);
  bool uint_field (const nlohmann::json &m, const char *name,
      const char *request, guint &out);

  void on_join (const nlohmann::json &m);
  void on_answer (const nlohmann::json &m);
  void on_offer (const nlohmann::json &m);
  void on_debug_viewer_loss (const nlohmann::json &m);
  void on_quality (const nlohmann::json &m);
  void on_candidate (const nlohmann::json &m);
  void on_leave (const nlohmann::json &m);
  void on_pong (const nlohmann::json &m);
  void on_switch (const nlohmann::json &m);
  void on_set_max_tiles (const nlohmann::json &m);
  void on_set_layout (const nlohmann::json &m);
  void on_videos (const nlohmann::json &m);
  void on_choose_camera (const nlohmann::json &m);
  void on_inject (const nlohmann::json &m);
  void on_stop_injection (const nlohmann::json &m);
  void on_emote (const nlohmann::json &m);
  void on_record_start (const nlohmann::json &m);
  void on_record_stop (const nlohmann::json &m);
  void on_recordings (const nlohmann::json &m);
  void on_pipeline_start (const nlohmann::json &m);
  void on_pipeline_stop (const nlohmann::json &m);
  ManagedPipeline *control_pipeline (
      const nlohmann::json &m, const char *request);

  Room &room_;
  Show *show_;
  Recorder *recorder_ = nullptr;
  Edges *edges_ = nullptr;
  AuthThrottle &throttle_;
  Transport transport_;
  guint peer_id_ = 0; /* 0: not joined */
  gint64 window_start_ = 0;
  guint in_window_ = 0;
  gint64 last_heard_ = 0;
};

/* A presenter's name as shown on a tile: valid UTF-8, no control or
 * formatting characters (no bidi overrides), white space collapsed, at most
 * @max_chars characters.  Cut by characters, never inside one. */
std::string signalling_clean_name (const std::string &name, glong max_chars);
