/* gst-room: the signalling messages of one connection. */
#include "signalling.h"

#include <gst/gst.h>

#include <algorithm>

#include "peer.h"
#include "room.h"
#include "security.h"
#include "managedpipeline.h"
#include "edges.h"
#include "recorder.h"
#include "show.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (signalling_debug);
#define GST_CAT_DEFAULT signalling_debug

namespace {

constexpr glong NAME_MAX_CHARS = 40;

/* A string field of @m, or "" when it is missing or not a string.  Strings
 * from the JSON parser are valid UTF-8 already; this checks again, so no
 * handler ever holds a string that the next dump() would refuse. */
std::string
string_field (const json &m, const char *name)
{
  auto it = m.find (name);
  if (it == m.end () || !it->is_string ())
    return "";
  const std::string &s = it->get_ref<const std::string &> ();
  return g_utf8_validate (s.data (), s.size (), nullptr) ? s : "";
}

json
media_list (bool audio, bool video)
{
  json list = json::array ();
  if (audio)
    list.push_back ("audio");
  if (video)
    list.push_back ("video");
  return list;
}

/* webrtcbin's turn://user:pass@host:port → the browser's form. */
json
browser_ice_server (const std::string &uri)
{
  GUri *parsed = g_uri_parse (uri.c_str (), G_URI_FLAGS_HAS_PASSWORD, nullptr);
  if (!parsed)
    return {{"urls", uri}};
  std::string scheme = g_uri_get_scheme (parsed);
  std::string host = g_uri_get_host (parsed) ? g_uri_get_host (parsed) : "";
  int port = g_uri_get_port (parsed);
  json server = {{"urls",
      scheme + ":" + host + (port > 0 ? ":" + std::to_string (port) : "")}};
  if (g_uri_get_user (parsed))
    server["username"] = g_uri_get_user (parsed);
  if (g_uri_get_password (parsed))
    server["credential"] = g_uri_get_password (parsed);
  g_uri_unref (parsed);
  return server;
}

} // namespace

std::string
signalling_clean_name (const std::string &name, glong max_chars)
{
  if (!g_utf8_validate (name.data (), name.size (), nullptr))
    return "";
  std::string out;
  glong chars = 0;
  bool space = false;
  for (const char *p = name.c_str (); *p && chars < max_chars;
       p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    GUnicodeType type = g_unichar_type (c);
    if (g_unichar_isspace (c)) {
      space = !out.empty ();
      continue;
    }
    if (type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT
        || type == G_UNICODE_UNASSIGNED || type == G_UNICODE_PRIVATE_USE
        || type == G_UNICODE_SURROGATE)
      continue;
    if (space && chars + 1 < max_chars) {
      out += ' ';
      chars++;
    }
    space = false;
    char utf8[6];
    out.append (utf8, g_unichar_to_utf8 (c, utf8));
    chars++;
  }
  return out;
}

SignallingClient::SignallingClient (
    Room &room, Show *show, AuthThrottle &throttle, Transport transport)
    : room_ (room), show_ (show), throttle_ (throttle),
      transport_ (std::move (transport))
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (
        signalling_debug, "gstroom-signalling", 0, "gst-room signalling");
    g_once_init_leave (&once, 1);
  }
  window_start_ = last_heard_ = g_get_monotonic_time ();
}

SignallingClient::~SignallingClient ()
{
  /* Forget the peer before the room frees it: whatever the room tells
   * other clients on the way must not find this one half-gone. */
  guint id = peer_id_;
  peer_id_ = 0;
  if (id)
    room_.remove_peer (id);
}

Peer *
SignallingClient::peer () const
{
  return peer_id_ ? room_.find_peer (peer_id_) : nullptr;
}

void
SignallingClient::send (const json &message)
{
  /* Never throws: an invalid byte sequence (there should be none) becomes
   * U+FFFD rather than an exception out of a signal handler. */
  transport_.send (
      message.dump (-1, ' ', false, json::error_handler_t::replace));
}

void
SignallingClient::send_error (const std::string &code,
    const std::string &message, const std::string &request)
{
  json reply = {{"type", "error"}, {"code", code}, {"message", message}};
  if (!request.empty ())
    reply["request"] = request;
  send (reply);
}

/* Flood control: at most max-messages-per-second; a client that sends more
 * than twice that in one second is disconnected. */
bool
SignallingClient::admit ()
{
  gint64 now = g_get_monotonic_time ();
  if (now - window_start_ >= G_USEC_PER_SEC) {
    window_start_ = now;
    in_window_ = 0;
  }
  in_window_++;
  guint limit = room_.spec ().max_messages_per_second;
  if (in_window_ > 2 * limit) {
    transport_.close (1008, "message flood");
    return false;
  }
  if (in_window_ > limit) {
    send_error ("rate-limited",
        "too many messages: at most " + std::to_string (limit) + " a second");
    return false;
  }
  return true;
}

void
SignallingClient::handle_binary ()
{
  last_heard_ = g_get_monotonic_time ();
  if (admit ())
    send_error ("bad-message", "messages are JSON text");
}

void
SignallingClient::handle_text (const char *data, gsize size)
{
  last_heard_ = g_get_monotonic_time ();
  if (!admit ())
    return;
  if (size > room_.spec ().max_message_bytes) {
    send_error ("too-large",
        "a message may have at most "
            + std::to_string (room_.spec ().max_message_bytes) + " bytes");
    return;
  }
  /* The parser refuses invalid UTF-8 along with everything else that is not
   * JSON. */
  json message = json::parse (data, data + size, nullptr, false);
  if (message.is_discarded () || !message.is_object ()) {
    send_error ("bad-message", "not a JSON object (in UTF-8)");
    return;
  }
  if (!message.contains ("type") || !message["type"].is_string ()) {
    send_error ("bad-message", "a message needs a string \"type\"");
    return;
  }
  /* No exception from a handler may leave the signal callback: it would end
   * the process. */
  try {
    dispatch (message);
  } catch (const json::exception &e) {
    GST_WARNING ("message handler: %s", e.what ());
    send_error ("bad-message", "the message could not be handled");
  } catch (const std::exception &e) {
    g_printerr ("gst-room: error handling a message: %s\n", e.what ());
    send_error ("internal", "the message could not be handled");
  }
}

void
SignallingClient::dispatch (const json &message)
{
  static const std::map<std::string, Handler> handlers = {
      {"join", &SignallingClient::on_join},
      {"answer", &SignallingClient::on_answer},
      {"offer", &SignallingClient::on_offer},
      {"debug-viewer-loss", &SignallingClient::on_debug_viewer_loss},
      {"quality", &SignallingClient::on_quality},
      {"candidate", &SignallingClient::on_candidate},
      {"leave", &SignallingClient::on_leave},
      {"pong", &SignallingClient::on_pong},
      {"switch", &SignallingClient::on_switch},
      {"set-max-tiles", &SignallingClient::on_set_max_tiles},
      {"set-layout", &SignallingClient::on_set_layout},
      {"choose-camera", &SignallingClient::on_choose_camera},
      {"inject", &SignallingClient::on_inject},
      {"stop-injection", &SignallingClient::on_stop_injection},
      {"videos", &SignallingClient::on_videos},
      {"emote", &SignallingClient::on_emote},
      {"record-start", &SignallingClient::on_record_start},
      {"record-stop", &SignallingClient::on_record_stop},
      {"recordings", &SignallingClient::on_recordings},
      {"pipeline-start", &SignallingClient::on_pipeline_start},
      {"pipeline-stop", &SignallingClient::on_pipeline_stop},
  };
  std::string kind = string_field (message, "type");
  auto it = handlers.find (kind);
  if (it == handlers.end ()) {
    send_error ("unknown-type",
        "unknown message type '" + signalling_clean_name (kind, 40) + "'",
        signalling_clean_name (kind, 40));
    return;
  }
  (this->*(it->second)) (message);
}

/* {"type":"join","role":"participant","token":"...","name":"Ann"} */
void
SignallingClient::on_join (const json &m)
{
  if (peer_id_) {
    send_error ("already-joined", "this connection has joined already", "join");
    return;
  }
  std::string role_name = string_field (m, "role");
  const RoomRoleSpec *role = room_.spec ().find_role (role_name);
  if (!role) {
    send_error ("unknown-role",
        "this room has no role '" + signalling_clean_name (role_name, 40) + "'",
        "join");
    return;
  }
  const std::string &address = transport_.remote_host;
  if (!role->token.empty ()) {
    guint retry_ms = 0;
    if (!throttle_.may_try (address, retry_ms)) {
      send_error ("rate-limited",
          "too many wrong tokens from this address: try again in "
              + std::to_string ((retry_ms + 999) / 1000) + " s",
          "join");
      return;
    }
    if (!security_tokens_equal (string_field (m, "token"), role->token)) {
      throttle_.failed (address);
      g_printerr ("gst-room: wrong token for role '%s' from %s (%u in a row)\n",
          role->name.c_str (), address.c_str (), throttle_.failures (address));
      send_error ("forbidden",
          "wrong or missing token for role '" + role_name + "'", "join");
      return;
    }
    throttle_.succeeded (address);
  }
  std::string error;
  std::string name =
      signalling_clean_name (string_field (m, "name"), NAME_MAX_CHARS);
  Peer *peer = room_.add_peer (
      *role, name, address, [this] (const json &out) { send (out); },
      [this] (const std::string &code, const std::string &why) {
        drop_peer (code, why);
      },
      error);
  if (!peer) {
    send_error ("join-refused", error, "join");
    return;
  }
  peer_id_ = peer->id ();
  json ice = json::array ();
  for (const std::string &uri : room_.spec ().ice_servers)
    ice.push_back (browser_ice_server (uri));
  json welcome = {{"type", "welcome"}, {"peer", peer->id ()},
      {"role", role_name}, {"port", peer->hub_port ()}, {"iceServers", ice},
      {"iceTransportPolicy", room_.spec ().ice_transport_policy},
      {"title", room_.spec ().title}, {"name", name},
      {"send", media_list (role->send_audio, role->send_video)},
      {"receive", media_list (role->receive_audio, role->receive_video)},
      {"control", role->control}, {"emote", role->emote},
      {"showEmotes", role->show_emotes}, {"browserOffers", role->fanout},
      {"nameShown", show_ && show_->labels_role (*role)},
      {"ping", room_.spec ().ping_timeout / 3.0}};
  /* A role with a quality ladder: its rungs, for the page's menu. */
  if (!role->renditions ().empty ())
    welcome["renditions"] = role->renditions ();
  /* A presenter joining mid-show starts from the counts so far. */
  if (role->show_emotes && show_)
    welcome["emotes"] = show_->emote_counts ();
  send (welcome);
  if (role->control && show_)
    send (show_->state ());
  if (role->control && recorder_)
    send (recorder_->list ());
  if (role->control && edges_)
    send (edges_->list ());
}

/* The show's controls need a joined peer of a control role and a show. */
Show *
SignallingClient::control_show (const char *request)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", request);
    return nullptr;
  }
  if (!p->role ().control) {
    send_error ("forbidden",
        "role '" + p->role ().name + "' may not run the show", request);
    return nullptr;
  }
  if (!show_) {
    send_error ("no-show", "this room has no [show]", request);
    return nullptr;
  }
  return show_;
}

/* Recordings need a joined peer of a control role and a [recording]. */
Recorder *
SignallingClient::control_recorder (const char *request)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", request);
    return nullptr;
  }
  if (!p->role ().control) {
    send_error (
        "forbidden", "role '" + p->role ().name + "' may not record", request);
    return nullptr;
  }
  if (!recorder_) {
    send_error ("no-recording", "this room has no [recording]", request);
    return nullptr;
  }
  return recorder_;
}

/* {"type":"record-start","source":"program"|"peer","peer":3,
 *  "folder":"/srv/recordings","format":"webm"|"mp4"} */
void
SignallingClient::on_record_start (const json &m)
{
  Recorder *recorder = control_recorder ("record-start");
  if (!recorder)
    return;
  std::string source = string_field (m, "source");
  guint peer = 0;
  if (source == "peer" && !uint_field (m, "peer", "record-start", peer))
    return;
  for (const char *key : {"folder", "format"})
    if (m.contains (key) && !m[key].is_string ()) {
      send_error ("bad-message",
          std::string ("record-start: \"") + key + "\" is a string",
          "record-start");
      return;
    }
  std::string error;
  guint id = recorder->start (source, peer, string_field (m, "folder"),
      string_field (m, "format"), error);
  if (!id) {
    send_error ("record-refused", error, "record-start");
    return;
  }
  send ({{"type", "record-started"}, {"recording", id}});
}

/* {"type":"record-stop","recording":2} */
void
SignallingClient::on_record_stop (const json &m)
{
  Recorder *recorder = control_recorder ("record-stop");
  guint id = 0;
  std::string error;
  if (!recorder || !uint_field (m, "recording", "record-stop", id))
    return;
  if (!recorder->stop (id, error))
    send_error ("bad-request", error, "record-stop");
}

/* {"type":"recordings"} */
void
SignallingClient::on_recordings (const json &)
{
  Recorder *recorder = control_recorder ("recordings");
  if (recorder)
    send (recorder->list ());
}

/* A start=manual room-file pipeline named by @m's "pipeline", for a control
 * role; null after an error reply. */
ManagedPipeline *
SignallingClient::control_pipeline (const json &m, const char *request)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", request);
    return nullptr;
  }
  if (!p->role ().control) {
    send_error ("forbidden",
        "role '" + p->role ().name + "' may not start or stop pipelines",
        request);
    return nullptr;
  }
  std::string name = string_field (m, "pipeline");
  ManagedPipeline *mp = room_.find_pipeline (name);
  if (!mp || mp->start_policy () != PipelineStart::MANUAL) {
    send_error ("bad-request",
        mp ? "pipeline '" + name + "' is not started by hand (start=manual)"
           : "no pipeline '" + signalling_clean_name (name, 40) + "'",
        request);
    return nullptr;
  }
  return mp;
}

/* {"type":"pipeline-start","pipeline":"NAME"} */
void
SignallingClient::on_pipeline_start (const json &m)
{
  ManagedPipeline *mp = control_pipeline (m, "pipeline-start");
  std::string error;
  if (!mp)
    return;
  if (!mp->start (error)) {
    send_error ("bad-request", error, "pipeline-start");
    return;
  }
  send ({{"type", "pipeline"}, {"pipeline", mp->name ()},
      {"state", ManagedPipeline::state_name (mp->state ())}});
}

/* {"type":"pipeline-stop","pipeline":"NAME"}: EOS first, so what it
 * writes is finished. */
void
SignallingClient::on_pipeline_stop (const json &m)
{
  ManagedPipeline *mp = control_pipeline (m, "pipeline-stop");
  if (!mp)
    return;
  mp->finish (nullptr);
  send ({{"type", "pipeline"}, {"pipeline", mp->name ()},
      {"state", ManagedPipeline::state_name (mp->state ())}});
}

/* {"type":"switch","source":"stage"|"camera"|"video"} */
void
SignallingClient::on_switch (const json &m)
{
  Show *show = control_show ("switch");
  std::string error;
  if (show && !show->switch_program (string_field (m, "source"), error))
    send_error ("bad-request", error, "switch");
}

/* A whole number field of @m; false, with an error reply, when it is missing
 * or not one. */
bool
SignallingClient::uint_field (
    const json &m, const char *name, const char *request, guint &out)
{
  auto it = m.find (name);
  if (it == m.end () || !it->is_number_unsigned ()) {
    send_error ("bad-message",
        std::string (request) + " needs a number \"" + name + "\"", request);
    return false;
  }
  out = (guint)std::min<guint64> (it->get<guint64> (), G_MAXUINT);
  return true;
}

/* {"type":"set-max-tiles","tiles":3} */
void
SignallingClient::on_set_max_tiles (const json &m)
{
  Show *show = control_show ("set-max-tiles");
  guint tiles = 0;
  std::string error;
  if (show && uint_field (m, "tiles", "set-max-tiles", tiles)
      && !show->set_max_tiles (tiles, error))
    send_error ("bad-request", error, "set-max-tiles");
}

/* {"type":"set-layout","layout":"grid"|"auto-speaker"} */
void
SignallingClient::on_set_layout (const json &m)
{
  Show *show = control_show ("set-layout");
  std::string error;
  if (show && !show->set_layout (string_field (m, "layout"), error))
    send_error ("bad-request", error, "set-layout");
}

/* {"type":"choose-camera","peer":3} */
void
SignallingClient::on_choose_camera (const json &m)
{
  Show *show = control_show ("choose-camera");
  guint peer = 0;
  std::string error;
  if (show && uint_field (m, "peer", "choose-camera", peer)
      && !show->choose_camera (peer, error))
    send_error ("bad-request", error, "choose-camera");
}

/* {"type":"inject","uri":"file:///srv/videos/intro.webm"} */
void
SignallingClient::on_inject (const json &m)
{
  Show *show = control_show ("inject");
  std::string error;
  if (show && !show->inject (string_field (m, "uri"), error))
    send_error ("inject-refused", error, "inject");
}

/* {"type":"stop-injection"} */
void
SignallingClient::on_stop_injection (const json &)
{
  Show *show = control_show ("stop-injection");
  std::string error;
  if (show && !show->stop_injection (error))
    send_error ("bad-request", error, "stop-injection");
}

/* {"type":"videos"}: the console's list of videos to inject, sent to every
 * console once found. */
void
SignallingClient::on_videos (const json &)
{
  Show *show = control_show ("videos");
  if (show)
    show->list_videos ();
}

/* {"type":"emote","emote":"clap"|"heart"|"confetti"} */
void
SignallingClient::on_emote (const json &m)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", "emote");
    return;
  }
  if (!p->role ().emote || !show_) {
    send_error (
        "forbidden", "role '" + p->role ().name + "' sends no emotes", "emote");
    return;
  }
  std::string code, error;
  if (!show_->emote (*p, string_field (m, "emote"), code, error))
    send_error (code, error, "emote");
}

/* {"type":"answer","sdp":"v=0..."} */
void
SignallingClient::on_offer (const json &m)
{
  /* {"type":"offer","sdp":"..."}: a viewer of a fan-out role offers; the
   * answer comes back as {"type":"answer","sdp":"..."} */
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", "offer");
    return;
  }
  std::string sdp = string_field (m, "sdp");
  std::string error;
  if (sdp.empty ())
    send_error ("bad-sdp", "an offer needs a string \"sdp\"", "offer");
  else if (!p->set_offer (sdp, error))
    send_error ("bad-sdp", error, "offer");
}

/* {"type":"debug-viewer-loss","peer":3,"percent":10}: a control role makes
 * a fan-out viewer lose packets (tests of retransmission). */
void
SignallingClient::on_debug_viewer_loss (const json &m)
{
  const char *request = "debug-viewer-loss";
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", request);
    return;
  }
  if (!p->role ().control) {
    send_error ("forbidden", "role '" + p->role ().name + "' may not", request);
    return;
  }
  guint id = 0, percent = 0;
  if (!uint_field (m, "peer", request, id)
      || !uint_field (m, "percent", request, percent))
    return;
  Peer *viewer = room_.find_peer (id);
  if (percent > 100 || !viewer || !viewer->set_debug_loss (percent))
    send_error ("bad-request",
        "no connected fan-out viewer " + std::to_string (id)
            + ", or a percent above 100",
        request);
}

/* {"type":"quality","rendition":"360p"|"auto"}: a viewer of a role with a
 * ladder pins its rung, or lets the fan-out choose again.  The rung it gets
 * comes back as {"type":"rendition",...} once the switch lands. */
void
SignallingClient::on_quality (const json &m)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", "quality");
    return;
  }
  auto it = m.find ("rendition");
  if (it == m.end () || !it->is_string ()) {
    send_error ("bad-message",
        "quality needs a string \"rendition\" (a rung's label or auto)",
        "quality");
    return;
  }
  std::string error;
  if (!p->set_rendition (string_field (m, "rendition"), error))
    send_error ("bad-request", error, "quality");
}

void
SignallingClient::on_answer (const json &m)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", "answer");
    return;
  }
  std::string sdp = string_field (m, "sdp");
  std::string error;
  if (sdp.empty ())
    send_error ("bad-sdp", "an answer needs a string \"sdp\"", "answer");
  else if (!p->set_answer (sdp, error))
    send_error ("bad-sdp", error, "answer");
}

/* {"type":"candidate","candidate":"candidate:...","sdpMLineIndex":0} */
void
SignallingClient::on_candidate (const json &m)
{
  Peer *p = peer ();
  if (!p) {
    send_error ("not-joined", "join first", "candidate");
    return;
  }
  auto line = m.find ("sdpMLineIndex");
  if (line == m.end () || !line->is_number_unsigned ()) {
    send_error (
        "bad-message", "a candidate needs a number sdpMLineIndex", "candidate");
    return;
  }
  std::string error;
  if (!p->add_remote_candidate (
          (guint)std::min<guint64> (line->get<guint64> (), G_MAXUINT),
          string_field (m, "candidate"), error))
    send_error ("bad-candidate", error, "candidate");
}

/* {"type":"leave"} */
void
SignallingClient::on_leave (const json &)
{
  guint id = peer_id_;
  peer_id_ = 0;
  if (id)
    room_.remove_peer (id);
  send ({{"type", "left"}});
}

/* {"type":"pong"}: the answer to the server's ping; last_heard_ is all it
 * changes. */
void
SignallingClient::on_pong (const json &)
{}

void
SignallingClient::drop_peer (const std::string &code, const std::string &why)
{
  guint id = peer_id_;
  if (!id)
    return;
  peer_id_ = 0;
  g_printerr ("gst-room: peer %u left: %s\n", id, why.c_str ());
  send_error (code, why);
  room_.remove_peer (id);
}
