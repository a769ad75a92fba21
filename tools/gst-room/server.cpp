/* gst-room: the HTTP server and the signalling channel. */
#include "server.h"

#include "edges.h"
#include "recorder.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gst/gst.h>

#include <cerrno>
#include <cstdlib>

#include "peer.h"
#include "room.h"
#include "security.h"
#include "show.h"
#include "signalling.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (server_debug);
#define GST_CAT_DEFAULT server_debug

namespace {

/* "host:port" of a socket address, as the connection table keys it. */
std::string
address_key (GSocketAddress *address)
{
  if (!address || !G_IS_INET_SOCKET_ADDRESS (address))
    return "";
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
  gchar *host =
      g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  std::string key = std::string (host) + ":"
                    + std::to_string (g_inet_socket_address_get_port (inet));
  g_free (host);
  return key;
}

std::string
address_host (GSocketAddress *address)
{
  if (!address || !G_IS_INET_SOCKET_ADDRESS (address))
    return "";
  gchar *host = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  std::string out = host;
  g_free (host);
  return out;
}

} // namespace

/* One WebSocket connection and the signalling client on it. */
struct Server::WebSocket {
  Server *server = nullptr;
  SoupWebsocketConnection *connection = nullptr;
  std::string key; /* the TCP connection's remote "host:port" */
  std::unique_ptr<SignallingClient> client;
  gint64 last_ping = 0;
  guint forget_idle = 0;

  ~WebSocket ()
  {
    if (forget_idle)
      g_source_remove (forget_idle);
    g_signal_handlers_disconnect_by_data (connection, this);
    /* The peer goes first, while the connection can still say why. */
    client.reset ();
    if (soup_websocket_connection_get_state (connection)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (
          connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the room is closing");
    g_object_unref (connection);
  }

  static void on_message (
      SoupWebsocketConnection *, gint type, GBytes *bytes, gpointer data)
  {
    auto *self = static_cast<WebSocket *> (data);
    if (type != SOUP_WEBSOCKET_DATA_TEXT) {
      self->client->handle_binary ();
      return;
    }
    gsize size = 0;
    const char *text =
        static_cast<const char *> (g_bytes_get_data (bytes, &size));
    self->client->handle_text (text, size);
  }

  static void on_closed (SoupWebsocketConnection *, gpointer data)
  {
    auto *self = static_cast<WebSocket *> (data);
    /* Destroys this client and its peer (the hub re-lays out at once), once
     * the connection's signal emission is over. */
    if (self->forget_idle)
      return;
    self->forget_idle = g_idle_add_full (
        G_PRIORITY_HIGH,
        [] (gpointer d) -> gboolean {
          auto *ws = static_cast<WebSocket *> (d);
          ws->forget_idle = 0;
          ws->server->forget (ws);
          return G_SOURCE_REMOVE;
        },
        self, nullptr);
  }
};

Server::Server (Room &room, Show *show, std::string web_dir)
    : room_ (room), show_ (show)
{
  GST_DEBUG_CATEGORY_INIT (
      server_debug, "gstroom-server", 0, "gst-room server");
  web_dir_ = security_real_path (web_dir);
  if (web_dir_.empty ())
    web_dir_ = web_dir;
  while (web_dir_.size () > 1 && web_dir_.back () == '/')
    web_dir_.pop_back ();
  if (Show *show = show_) {
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
Server::set_recorder (Recorder *recorder)
{
  recorder_ = recorder;
  if (recorder)
    recorder->to_control = [this] (const json &message) {
      broadcast (message, [] (const RoomRoleSpec &r) { return r.control; });
    };
}

void
Server::set_edges (Edges *edges)
{
  edges_ = edges;
  if (edges)
    edges->to_control = [this] (const json &message) {
      broadcast (message, [] (const RoomRoleSpec &r) { return r.control; });
    };
}

void
Server::broadcast (
    const json &message, const std::function<bool (const RoomRoleSpec &)> &to)
{
  for (const auto &[ws, owned] : sockets_) {
    Peer *peer = ws->client->peer ();
    if (peer && to (peer->role ()))
      ws->client->send (message);
  }
}

Server::~Server ()
{
  if (Show *show = show_) {
    show->to_control = nullptr;
    show->to_emote_watchers = nullptr;
  }
  if (recorder_)
    recorder_->to_control = nullptr;
  if (edges_)
    edges_->to_control = nullptr;
  close_all ();
  if (sweep_timer_)
    g_source_remove (sweep_timer_);
  if (listener_source_) {
    g_source_destroy (listener_source_);
    g_source_unref (listener_source_);
  }
  if (listener_) {
    g_socket_close (listener_, nullptr);
    g_object_unref (listener_);
  }
  for (auto &[key, c] : connections_)
    g_object_weak_unref (G_OBJECT (c.stream), on_connection_gone, this);
  connections_.clear ();
  if (soup_) {
    soup_server_disconnect (soup_);
    g_object_unref (soup_);
  }
  if (spare_fd_ >= 0)
    close (spare_fd_);
}

void
Server::close_all ()
{
  /* Each client's peer leaves the room as the client goes. */
  while (!sockets_.empty ())
    forget (sockets_.begin ()->first);
}

void
Server::forget (WebSocket *ws)
{
  auto it = sockets_.find (ws);
  if (it == sockets_.end ())
    return;
  /* Out of the table before it is destroyed: broadcasts on the way (the
   * show telling the console that a presenter left) skip it. */
  std::unique_ptr<WebSocket> owned = std::move (it->second);
  sockets_.erase (it);
  owned.reset ();
}

bool
Server::listen (std::string &error)
{
  const RoomSpec &spec = room_.spec ();
  GInetAddress *address = g_inet_address_new_from_string (spec.host.c_str ());
  if (!address) {
    GResolver *resolver = g_resolver_get_default ();
    GList *list = g_resolver_lookup_by_name (
        resolver, spec.host.c_str (), nullptr, nullptr);
    if (list)
      address = G_INET_ADDRESS (g_object_ref (list->data));
    g_resolver_free_addresses (list);
    g_object_unref (resolver);
  }
  if (!address) {
    error = "cannot listen on '" + spec.host + "': not an address";
    return false;
  }
  GSocketAddress *socket_address =
      g_inet_socket_address_new (address, spec.port);
  GError *err = nullptr;
  /* Our own listening socket rather than soup_server_listen(): soup stops
   * accepting for good after one accept() fails with EMFILE, and it knows no
   * connection limit. */
  listener_ = g_socket_new (g_inet_address_get_family (address),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
  g_object_unref (address);
  bool ok = listener_ && g_socket_bind (listener_, socket_address, TRUE, &err);
  g_object_unref (socket_address);
  if (ok) {
    g_socket_set_listen_backlog (listener_, 128);
    ok = g_socket_listen (listener_, &err);
  }
  if (!ok) {
    error = "cannot listen on " + spec.host + ":" + std::to_string (spec.port)
            + ": " + (err ? err->message : "no socket");
    g_clear_error (&err);
    return false;
  }
  g_socket_set_blocking (listener_, FALSE);
  GSocketAddress *local = g_socket_get_local_address (listener_, nullptr);
  port_ = local ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local))
                : spec.port;
  if (local)
    g_object_unref (local);
  spare_fd_ = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  soup_ = soup_server_new ("server-header", "gst-room ", nullptr);
  soup_server_add_handler (soup_, nullptr, on_http, this, nullptr);
  soup_server_add_early_handler (
      soup_, "/ws", on_websocket_origin, this, nullptr);
  soup_server_add_websocket_handler (
      soup_, "/ws", nullptr, nullptr, on_websocket, this, nullptr);
  g_signal_connect (
      soup_, "request-started", G_CALLBACK (on_request_started), this);

  listener_source_ = g_socket_create_source (listener_, G_IO_IN, nullptr);
  g_source_set_callback (
      listener_source_, (GSourceFunc)(void (*) ())on_incoming, this, nullptr);
  g_source_attach (listener_source_, nullptr);
  sweep_timer_ = g_timeout_add (1000, on_sweep, this);
  return true;
}

gboolean
Server::on_incoming (GSocket *, GIOCondition, gpointer data)
{
  static_cast<Server *> (data)->accept_pending ();
  return G_SOURCE_CONTINUE;
}

void
Server::accept_pending ()
{
  const RoomSpec &spec = room_.spec ();
  /* Bounded per wake-up, so a flood of connections cannot starve the
   * peers' work on the main loop. */
  for (int i = 0; i < 64; i++) {
    GError *err = nullptr;
    GSocket *socket = g_socket_accept (listener_, nullptr, &err);
    if (!socket) {
      bool out_of_files =
          g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES)
          || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
      bool would_block =
          g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      if (!would_block)
        g_printerr ("gst-room: cannot accept a connection: %s\n", err->message);
      g_error_free (err);
      if (out_of_files && spare_fd_ >= 0) {
        /* Out of file descriptors: take the one kept spare, accept the
         * waiting connection and close it at once, so the listener neither
         * spins on it nor stops. */
        close (spare_fd_);
        int fd = accept (g_socket_get_fd (listener_), nullptr, nullptr);
        if (fd >= 0)
          close (fd);
        spare_fd_ = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      return;
    }
    if (connections_.size () >= spec.max_connections) {
      g_printerr (
          "gst-room: refused a connection: already %zu (max-connections)\n",
          connections_.size ());
      g_socket_close (socket, nullptr);
      g_object_unref (socket);
      continue;
    }
    GSocketConnection *stream =
        g_socket_connection_factory_create_connection (socket);
    g_object_unref (socket);
    GSocketAddress *local =
        g_socket_connection_get_local_address (stream, nullptr);
    GSocketAddress *remote =
        g_socket_connection_get_remote_address (stream, nullptr);
    std::string key = address_key (remote);
    /* In the table before soup sees the connection: when the request is
     * already waiting, soup reads it (and runs the WebSocket handler that
     * marks the entry) inside soup_server_accept_iostream(). */
    if (!key.empty ()) {
      Connection &c = connections_[key];
      c.stream = stream;
      c.websocket = false;
      c.last_active = g_get_monotonic_time ();
      g_object_weak_ref (G_OBJECT (stream), on_connection_gone, this);
    }
    if (!soup_server_accept_iostream (
            soup_, G_IO_STREAM (stream), local, remote, &err)) {
      GST_WARNING ("soup refused a connection: %s", err->message);
      g_clear_error (&err);
    }
    if (local)
      g_object_unref (local);
    if (remote)
      g_object_unref (remote);
    g_object_unref (stream); /* soup holds it while the connection lives */
  }
}

void
Server::on_connection_gone (gpointer data, GObject *where)
{
  auto *self = static_cast<Server *> (data);
  for (auto it = self->connections_.begin (); it != self->connections_.end ();
       ++it) {
    if (G_OBJECT (it->second.stream) == where) {
      self->connections_.erase (it);
      return;
    }
  }
}

void
Server::touch (SoupServerMessage *msg, bool websocket)
{
  std::string key = address_key (soup_server_message_get_remote_address (msg));
  auto it = connections_.find (key);
  GST_LOG ("activity on %s%s%s", key.c_str (), websocket ? " (WebSocket)" : "",
      it == connections_.end () ? " (unknown)" : "");
  if (it == connections_.end ())
    return;
  it->second.last_active = g_get_monotonic_time ();
  it->second.websocket = it->second.websocket || websocket;
}

void
Server::on_request_started (SoupServer *, SoupServerMessage *msg, gpointer data)
{
  static_cast<Server *> (data)->touch (msg, false);
}

gboolean
Server::on_sweep (gpointer data)
{
  auto *self = static_cast<Server *> (data);
  const RoomSpec &spec = self->room_.spec ();
  gint64 now = g_get_monotonic_time ();
  gint64 ping_every = spec.ping_timeout * G_USEC_PER_SEC / 3;
  std::vector<std::pair<WebSocket *, const char *>> dead;
  for (const auto &[ws, owned] : self->sockets_) {
    if (ws->forget_idle)
      continue;
    gint64 silent = now - ws->client->last_heard ();
    if (ws->client->joined ()) {
      if (silent > (gint64)spec.ping_timeout * G_USEC_PER_SEC) {
        /* Frozen, or its network went away without a FIN: free its slot
         * now rather than when TCP gives up. */
        ws->client->drop_peer (
            "timeout", "no answer to pings for "
                           + std::to_string (spec.ping_timeout) + " s");
        dead.push_back ({ws, "no answer to pings"});
      } else if (now - ws->last_ping >= ping_every) {
        ws->last_ping = now;
        ws->client->send ({{"type", "ping"}});
      }
    } else if (silent > (gint64)spec.idle_timeout * G_USEC_PER_SEC) {
      dead.push_back ({ws, "idle without joining"});
    }
  }
  for (auto [ws, reason] : dead) {
    GST_INFO ("closing WebSocket %s: %s", ws->key.c_str (), reason);
    if (soup_websocket_connection_get_state (ws->connection)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (
          ws->connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
    self->forget (ws);
  }
  /* Plain HTTP connections left open (keep-alive) go after idle-timeout. */
  for (auto &[key, c] : self->connections_) {
    if (!c.websocket
        && now - c.last_active > (gint64)spec.idle_timeout * G_USEC_PER_SEC) {
      GSocket *socket = g_socket_connection_get_socket (c.stream);
      GST_INFO ("closing idle connection from %s", key.c_str ());
      g_socket_shutdown (socket, TRUE, TRUE, nullptr);
      c.last_active = now; /* once; soup closes it on the next read */
    }
  }
  return G_SOURCE_CONTINUE;
}

std::string
Server::url () const
{
  std::string host = room_.spec ().host;
  if (host.find (':') != std::string::npos)
    host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string (port_) + "/";
}

void
Server::add_http_path (
    const char *path, SoupServerCallback callback, gpointer data)
{
  soup_server_add_handler (soup_, path, callback, data, nullptr);
}

void
Server::add_websocket_path (
    const char *path, SoupServerWebsocketCallback callback, gpointer data)
{
  soup_server_add_early_handler (
      soup_, path, on_websocket_origin, this, nullptr);
  soup_server_add_websocket_handler (
      soup_, path, nullptr, nullptr, callback, data, nullptr);
}

bool
Server::origin_allowed (SoupServerMessage *msg) const
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (headers, "Origin");
  /* Programs that are no browser send no Origin: a web page cannot make a
   * browser leave it out. */
  if (!origin)
    return true;
  const RoomSpec &spec = room_.spec ();
  for (const std::string &allowed : spec.allowed_origins)
    if (g_ascii_strcasecmp (allowed.c_str (), origin) == 0)
      return true;
  std::string port = ":" + std::to_string (port_);
  std::vector<std::string> own;
  std::string host = spec.host.find (':') != std::string::npos
                         ? "[" + spec.host + "]"
                         : spec.host;
  own.push_back ("http://" + host + port);
  if (security_is_loopback (spec.host)) {
    for (const char *name : {"127.0.0.1", "localhost", "[::1]"})
      own.push_back (std::string ("http://") + name + port);
  }
  /* Listening on every interface: the page's origin is whatever address
   * the browser used.  Only an address literal is taken, never a name: a
   * name could be rebound to us by someone else's DNS. */
  GInetAddress *any = g_inet_address_new_from_string (spec.host.c_str ());
  if (any && g_inet_address_get_is_any (any)) {
    const char *host_header = soup_message_headers_get_one (headers, "Host");
    std::string h = host_header ? host_header : "";
    std::string bare = h.substr (0, h.rfind (':'));
    if (!bare.empty () && bare.front () == '[')
      bare = bare.substr (1, bare.size () - 2);
    GInetAddress *literal = g_inet_address_new_from_string (bare.c_str ());
    if (literal) {
      own.push_back ("http://" + h);
      g_object_unref (literal);
    }
  }
  if (any)
    g_object_unref (any);
  for (const std::string &o : own)
    if (g_ascii_strcasecmp (o.c_str (), origin) == 0)
      return true;
  return false;
}

void
Server::on_websocket_origin (SoupServer *, SoupServerMessage *msg, const char *,
    GHashTable *, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  /* The connection becomes a WebSocket: its idleness is judged by the
   * signalling client from now on.  (Marked here, while soup still has the
   * connection; the WebSocket callback comes after soup let go of it.) */
  self->touch (msg, true);
  if (self->origin_allowed (msg))
    return;
  const char *origin = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Origin");
  g_printerr ("gst-room: refused a WebSocket from a page of %s (not this "
              "room's origin; see allowed-origins)\n",
      origin);
  soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, nullptr);
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
  /* Only plain file names of the web folder: no "..", no sub-folders, and
   * nothing a symbolic link leads out of it. */
  std::string real;
  if (rel.find ("..") == std::string::npos
      && rel.find ('/', 1) == std::string::npos)
    real = security_real_path (self->web_dir_ + rel);
  gchar *contents = nullptr;
  gsize length = 0;
  if (real.rfind (self->web_dir_ + "/", 0) != 0
      || !g_file_test (real.c_str (), G_FILE_TEST_IS_REGULAR)
      || !g_file_get_contents (real.c_str (), &contents, &length, nullptr)) {
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
Server::on_websocket (SoupServer *, SoupServerMessage *msg, const char *,
    SoupWebsocketConnection *connection, gpointer data)
{
  auto *self = static_cast<Server *> (data);
  auto ws = std::make_unique<WebSocket> ();
  WebSocket *raw = ws.get ();
  raw->server = self;
  raw->connection = SOUP_WEBSOCKET_CONNECTION (g_object_ref (connection));
  raw->key = address_key (soup_server_message_get_remote_address (msg));
  raw->last_ping = g_get_monotonic_time ();
  SignallingClient::Transport transport;
  transport.send = [raw] (const std::string &text) {
    if (soup_websocket_connection_get_state (raw->connection)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (raw->connection, text.c_str ());
  };
  transport.close = [raw] (gushort code, const std::string &reason) {
    if (soup_websocket_connection_get_state (raw->connection)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (raw->connection, code, reason.c_str ());
  };
  transport.remote_host =
      address_host (soup_server_message_get_remote_address (msg));
  raw->client = std::make_unique<SignallingClient> (
      self->room_, self->show_, self->throttle_, std::move (transport));
  raw->client->set_recorder (self->recorder_);
  raw->client->set_edges (self->edges_);
  soup_websocket_connection_set_max_incoming_payload_size (
      connection, self->room_.spec ().max_message_bytes * 4);
  /* Pings at the protocol level keep middle boxes from timing the
   * connection out; liveness is judged by the JSON pings (on_sweep). */
  soup_websocket_connection_set_keepalive_interval (connection, 10);
  g_signal_connect (
      connection, "message", G_CALLBACK (WebSocket::on_message), raw);
  g_signal_connect (
      connection, "closed", G_CALLBACK (WebSocket::on_closed), raw);
  self->sockets_.emplace (raw, std::move (ws));
}
