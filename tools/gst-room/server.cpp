/* gst-room: the HTTP server and the signalling channel. */
#include "server.h"

#include <gst/gst.h>

#include <algorithm>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "peer.h"
#include "room.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (server_debug);
#define GST_CAT_DEFAULT server_debug

/* One WebSocket connection: at most one peer. */
class Client {
public:
  Client (Server &server, Room &room, SoupWebsocketConnection *connection)
      : server_ (server), room_ (room),
        connection_ (SOUP_WEBSOCKET_CONNECTION (g_object_ref (connection)))
  {
    soup_websocket_connection_set_max_incoming_payload_size (
        connection_, room_.spec ().max_message_bytes * 4);
    soup_websocket_connection_set_keepalive_interval (connection_, 10);
    g_signal_connect (connection_, "message", G_CALLBACK (on_message), this);
    g_signal_connect (connection_, "closed", G_CALLBACK (on_closed), this);
    window_start_ = g_get_monotonic_time ();
  }

  ~Client ()
  {
    if (peer_)
      room_.remove_peer (peer_);
    g_signal_handlers_disconnect_by_data (connection_, this);
    if (soup_websocket_connection_get_state (connection_)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (
          connection_, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the room is closing");
    g_object_unref (connection_);
  }

  void send (const json &message)
  {
    if (soup_websocket_connection_get_state (connection_)
        != SOUP_WEBSOCKET_STATE_OPEN)
      return;
    std::string text = message.dump ();
    soup_websocket_connection_send_text (connection_, text.c_str ());
  }

  Peer *peer () const { return peer_; }

  void send_error (const std::string &code, const std::string &message,
      const std::string &request = "")
  {
    json reply = {{"type", "error"}, {"code", code}, {"message", message}};
    if (!request.empty ())
      reply["request"] = request;
    send (reply);
  }

private:
  using Handler = void (Client::*) (const json &message);

  static void on_message (
      SoupWebsocketConnection *, gint type, GBytes *bytes, gpointer data)
  {
    static_cast<Client *> (data)->handle (type, bytes);
  }

  static void on_closed (SoupWebsocketConnection *, gpointer data)
  {
    auto *self = static_cast<Client *> (data);
    /* Destroys this client and its peer (the hub re-lays out at once), once
     * the connection's signal emission is over. */
    Server *server = &self->server_;
    g_idle_add_full (
        G_PRIORITY_HIGH,
        [] (gpointer d) -> gboolean {
          auto *pair = static_cast<std::pair<Server *, Client *> *> (d);
          pair->first->forget (pair->second);
          return G_SOURCE_REMOVE;
        },
        new std::pair<Server *, Client *> (server, self),
        [] (gpointer d) {
          delete static_cast<std::pair<Server *, Client *> *> (d);
        });
  }

  /* Flood control: a token bucket of max-messages-per-second; a client that
   * sends more than twice that in one second is disconnected. */
  bool admit ()
  {
    gint64 now = g_get_monotonic_time ();
    if (now - window_start_ >= G_USEC_PER_SEC) {
      window_start_ = now;
      in_window_ = 0;
    }
    in_window_++;
    guint limit = room_.spec ().max_messages_per_second;
    if (in_window_ > 2 * limit) {
      soup_websocket_connection_close (
          connection_, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "message flood");
      return false;
    }
    if (in_window_ > limit) {
      send_error ("rate-limited",
          "too many messages: at most " + std::to_string (limit) + " a second");
      return false;
    }
    return true;
  }

  void handle (gint type, GBytes *bytes)
  {
    if (!admit ())
      return;
    gsize size = 0;
    const char *data =
        static_cast<const char *> (g_bytes_get_data (bytes, &size));
    if (type != SOUP_WEBSOCKET_DATA_TEXT) {
      send_error ("bad-message", "messages are JSON text");
      return;
    }
    if (size > room_.spec ().max_message_bytes) {
      send_error ("too-large",
          "a message may have at most "
              + std::to_string (room_.spec ().max_message_bytes) + " bytes");
      return;
    }
    json message = json::parse (data, data + size, nullptr, false);
    if (message.is_discarded () || !message.is_object ()) {
      send_error ("bad-message", "not a JSON object");
      return;
    }
    if (!message.contains ("type") || !message["type"].is_string ()) {
      send_error ("bad-message", "a message needs a string \"type\"");
      return;
    }
    std::string kind = message["type"];
    static const std::map<std::string, Handler> handlers = {
        {"join", &Client::on_join},
        {"answer", &Client::on_answer},
        {"candidate", &Client::on_candidate},
        {"leave", &Client::on_leave},
        {"switch", &Client::on_switch},
        {"set-max-tiles", &Client::on_set_max_tiles},
        {"choose-camera", &Client::on_choose_camera},
        {"inject", &Client::on_inject},
        {"stop-injection", &Client::on_stop_injection},
        {"emote", &Client::on_emote},
    };
    auto it = handlers.find (kind);
    if (it == handlers.end ()) {
      send_error ("unknown-type", "unknown message type '" + kind + "'", kind);
      return;
    }
    (this->*(it->second)) (message);
  }

  static std::string string_field (const json &m, const char *name)
  {
    auto it = m.find (name);
    return it != m.end () && it->is_string () ? it->get<std::string> () : "";
  }

  /* {"type":"join","role":"participant","token":"..."} */
  void on_join (const json &m)
  {
    if (peer_) {
      send_error (
          "already-joined", "this connection has joined already", "join");
      return;
    }
    std::string role_name = string_field (m, "role");
    const RoomRoleSpec *role = room_.spec ().find_role (role_name);
    if (!role) {
      send_error (
          "unknown-role", "this room has no role '" + role_name + "'", "join");
      return;
    }
    if (!role->token.empty () && string_field (m, "token") != role->token) {
      send_error ("forbidden",
          "wrong or missing token for role '" + role_name + "'", "join");
      return;
    }
    json ice = json::array ();
    for (const std::string &uri : room_.spec ().ice_servers)
      ice.push_back (browser_ice_server (uri));
    std::string error;
    Peer *peer = room_.add_peer (
        *role, [this] (const json &out) { send (out); },
        [this] (const std::string &why) { on_peer_failed (why); }, error);
    if (!peer) {
      send_error ("join-refused", error, "join");
      return;
    }
    peer_ = peer;
    std::string name = string_field (m, "name").substr (0, 40);
    peer->set_name (name);
    if (room_.show ())
      room_.show ()->peers_changed ();
    json welcome = {{"type", "welcome"}, {"peer", peer->id ()},
        {"role", role_name}, {"port", peer->hub_port ()}, {"iceServers", ice},
        {"iceTransportPolicy", room_.spec ().ice_transport_policy},
        {"title", room_.spec ().title},
        {"send", media_list (role->send_audio, role->send_video)},
        {"receive", media_list (role->receive_audio, role->receive_video)},
        {"control", role->control}, {"emote", role->emote},
        {"showEmotes", role->show_emotes}};
    /* A presenter joining mid-show starts from the counts so far. */
    if (role->show_emotes && room_.show ())
      welcome["emotes"] = room_.show ()->emote_counts ();
    send (welcome);
    if (role->control && room_.show ())
      send (room_.show ()->state ());
  }

  /* The show's controls need a joined peer of a control role and a show. */
  Show *control_show (const char *request)
  {
    if (!peer_) {
      send_error ("not-joined", "join first", request);
      return nullptr;
    }
    if (!peer_->role ().control) {
      send_error ("forbidden",
          "role '" + peer_->role ().name + "' may not run the show", request);
      return nullptr;
    }
    if (!room_.show ()) {
      send_error ("no-show", "this room has no [show]", request);
      return nullptr;
    }
    return room_.show ();
  }

  /* {"type":"switch","source":"stage"|"camera"|"video"} */
  void on_switch (const json &m)
  {
    Show *show = control_show ("switch");
    std::string error;
    if (show && !show->switch_program (string_field (m, "source"), error))
      send_error ("bad-request", error, "switch");
  }

  /* A whole number field of @m; false, with an error reply, when it is
   * missing or not one. */
  bool uint_field (
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
  void on_set_max_tiles (const json &m)
  {
    Show *show = control_show ("set-max-tiles");
    guint tiles = 0;
    std::string error;
    if (show && uint_field (m, "tiles", "set-max-tiles", tiles)
        && !show->set_max_tiles (tiles, error))
      send_error ("bad-request", error, "set-max-tiles");
  }

  /* {"type":"choose-camera","peer":3} */
  void on_choose_camera (const json &m)
  {
    Show *show = control_show ("choose-camera");
    guint peer = 0;
    std::string error;
    if (show && uint_field (m, "peer", "choose-camera", peer)
        && !show->choose_camera (peer, error))
      send_error ("bad-request", error, "choose-camera");
  }

  /* {"type":"inject","uri":"file:///srv/videos/intro.webm"} */
  void on_inject (const json &m)
  {
    Show *show = control_show ("inject");
    std::string error;
    if (show && !show->inject (string_field (m, "uri"), error))
      send_error ("inject-refused", error, "inject");
  }

  /* {"type":"stop-injection"} */
  void on_stop_injection (const json &)
  {
    Show *show = control_show ("stop-injection");
    std::string error;
    if (show && !show->stop_injection (error))
      send_error ("bad-request", error, "stop-injection");
  }

  /* {"type":"emote","emote":"clap"|"heart"|"confetti"} */
  void on_emote (const json &m)
  {
    if (!peer_) {
      send_error ("not-joined", "join first", "emote");
      return;
    }
    if (!peer_->role ().emote || !room_.show ()) {
      send_error ("forbidden",
          "role '" + peer_->role ().name + "' sends no emotes", "emote");
      return;
    }
    std::string code, error;
    if (!room_.show ()->emote (*peer_, string_field (m, "emote"), code, error))
      send_error (code, error, "emote");
  }

  /* {"type":"answer","sdp":"v=0..."} */
  void on_answer (const json &m)
  {
    if (!peer_) {
      send_error ("not-joined", "join first", "answer");
      return;
    }
    std::string error;
    if (!peer_->set_answer (string_field (m, "sdp"), error))
      send_error ("bad-sdp", error, "answer");
  }

  /* {"type":"candidate","candidate":"candidate:...","sdpMLineIndex":0} */
  void on_candidate (const json &m)
  {
    if (!peer_) {
      send_error ("not-joined", "join first", "candidate");
      return;
    }
    auto line = m.find ("sdpMLineIndex");
    if (line == m.end () || !line->is_number_unsigned ()) {
      send_error ("bad-message", "a candidate needs a number sdpMLineIndex",
          "candidate");
      return;
    }
    std::string error;
    if (!peer_->add_remote_candidate (
            line->get<guint> (), string_field (m, "candidate"), error))
      send_error ("bad-candidate", error, "candidate");
  }

  /* {"type":"leave"} */
  void on_leave (const json &)
  {
    if (peer_) {
      room_.remove_peer (peer_);
      peer_ = nullptr;
    }
    send ({{"type", "left"}});
  }

  void on_peer_failed (const std::string &why)
  {
    send_error ("peer-failed", why);
    if (peer_) {
      room_.remove_peer (peer_);
      peer_ = nullptr;
    }
  }

  static json media_list (bool audio, bool video)
  {
    json list = json::array ();
    if (audio)
      list.push_back ("audio");
    if (video)
      list.push_back ("video");
    return list;
  }

  /* webrtcbin's turn://user:pass@host:port → the browser's form. */
  static json browser_ice_server (const std::string &uri)
  {
    GUri *parsed =
        g_uri_parse (uri.c_str (), G_URI_FLAGS_HAS_PASSWORD, nullptr);
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

  Server &server_;
  Room &room_;
  SoupWebsocketConnection *connection_;
  Peer *peer_ = nullptr; /* owned by the room */
  gint64 window_start_ = 0;
  guint in_window_ = 0;
};

Server::Server (Room &room, std::string web_dir)
    : room_ (room), web_dir_ (std::move (web_dir))
{
  GST_DEBUG_CATEGORY_INIT (
      server_debug, "gstroom-server", 0, "gst-room server");
  if (Show *show = room_.show ()) {
    show->to_control = [this] (const json &message) {
      broadcast (message, [] (const RoomRoleSpec &r) { return r.control; });
    };
    show->to_emote_watchers = [this] (const json &message) {
      broadcast (message,
          [] (const RoomRoleSpec &r) { return r.show_emotes || r.control; });
    };
  }
}

void
Server::broadcast (
    const json &message, const std::function<bool (const RoomRoleSpec &)> &to)
{
  for (const auto &client : clients_)
    if (client->peer () && to (client->peer ()->role ()))
      client->send (message);
}

Server::~Server ()
{
  if (Show *show = room_.show ()) {
    show->to_control = nullptr;
    show->to_emote_watchers = nullptr;
  }
  close_all ();
  if (soup_) {
    soup_server_disconnect (soup_);
    g_object_unref (soup_);
  }
}

void
Server::close_all ()
{
  clients_.clear ();
}

void
Server::forget (Client *client)
{
  for (auto it = clients_.begin (); it != clients_.end (); ++it) {
    if (it->get () == client) {
      clients_.erase (it);
      return;
    }
  }
}

bool
Server::listen (std::string &error)
{
  soup_ = soup_server_new ("server-header", "gst-room ", nullptr);
  soup_server_add_handler (soup_, nullptr, on_http, this, nullptr);
  soup_server_add_websocket_handler (
      soup_, "/ws", nullptr, nullptr, on_websocket, this, nullptr);
  GInetAddress *address =
      g_inet_address_new_from_string (room_.spec ().host.c_str ());
  if (!address) {
    GResolver *resolver = g_resolver_get_default ();
    GList *list = g_resolver_lookup_by_name (
        resolver, room_.spec ().host.c_str (), nullptr, nullptr);
    if (list)
      address = G_INET_ADDRESS (g_object_ref (list->data));
    g_resolver_free_addresses (list);
    g_object_unref (resolver);
  }
  if (!address) {
    error = "cannot listen on '" + room_.spec ().host + "': not an address";
    return false;
  }
  GSocketAddress *socket_address =
      g_inet_socket_address_new (address, room_.spec ().port);
  g_object_unref (address);
  GError *err = nullptr;
  gboolean ok = soup_server_listen (
      soup_, socket_address, (SoupServerListenOptions)0, &err);
  g_object_unref (socket_address);
  if (!ok) {
    error = "cannot listen on " + room_.spec ().host + ":"
            + std::to_string (room_.spec ().port) + ": " + err->message;
    g_error_free (err);
    return false;
  }
  return true;
}

std::string
Server::url () const
{
  std::string host = room_.spec ().host;
  if (host.find (':') != std::string::npos)
    host = "[" + host + "]";
  guint port = room_.spec ().port;
  GSList *uris = soup_ ? soup_server_get_uris (soup_) : nullptr;
  if (uris) {
    port = g_uri_get_port (static_cast<GUri *> (uris->data));
    g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  }
  return "http://" + host + ":" + std::to_string (port) + "/";
}

void
Server::on_http (SoupServer *, SoupServerMessage *msg, const char *path,
    GHashTable *, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET
      && g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0) {
    soup_server_message_set_status (
        msg, SOUP_STATUS_METHOD_NOT_ALLOWED, nullptr);
    return;
  }
  std::string rel = path && g_str_equal (path, "/") ? "/index.html" : path;
  /* Only plain file names of the web folder: no "..", no sub-folders. */
  if (rel.find ("..") != std::string::npos
      || rel.find ('/', 1) != std::string::npos) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    return;
  }
  std::string file = self->web_dir_ + rel;
  gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents (file.c_str (), &contents, &length, nullptr)) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    return;
  }
  const char *type = "application/octet-stream";
  if (g_str_has_suffix (rel.c_str (), ".html"))
    type = "text/html; charset=utf-8";
  else if (g_str_has_suffix (rel.c_str (), ".js"))
    type = "text/javascript; charset=utf-8";
  else if (g_str_has_suffix (rel.c_str (), ".css"))
    type = "text/css; charset=utf-8";
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_server_message_set_response (
      msg, type, SOUP_MEMORY_TAKE, contents, length);
}

void
Server::on_websocket (SoupServer *, SoupServerMessage *, const char *,
    SoupWebsocketConnection *connection, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  self->clients_.insert (
      std::make_unique<Client> (*self, self->room_, connection));
}
