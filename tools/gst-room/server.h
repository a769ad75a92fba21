/* gst-room: HTTP (the web pages) and the WebSocket signalling channel, on
 * libsoup 3.  The messages are documented in docs/signalling.md, what the
 * server defends against in docs/security.md. */
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "roomfile.h"
#include "security.h"

class Room;
class Show;
class Recorder;
class Edges;
class SignallingClient;

class Server {
public:
  /* @show: the room's live show, or null. */
  Server (Room &room, Show *show, std::string web_dir);
  ~Server ();
  /* The room's recordings: the consoles drive them and see their list. */
  void set_recorder (Recorder *recorder);
  void set_edges (Edges *edges);

  bool listen (std::string &error);
  /* "http://HOST:PORT/" */
  std::string url () const;
  /* Serves another WebSocket service at @path (after listen()), with the
   * same origin check and connection bookkeeping as the signalling
   * channel: the Kurento control API. */
  void add_websocket_path (
      const char *path, SoupServerWebsocketCallback callback, gpointer data);
  /* Serves plain HTTP requests under @path (after listen()): WHEP. */
  void add_http_path (
      const char *path, SoupServerCallback callback, gpointer data);
  void close_all ();
  /* Sends @message to every joined client whose role @to accepts. */
  void broadcast (const nlohmann::json &message,
      const std::function<bool (const RoomRoleSpec &)> &to);

private:
  struct WebSocket; /* a signalling client on a soup connection */
  struct Connection {
    GSocketConnection *stream = nullptr; /* weak: soup owns it */
    gint64 last_active = 0;              /* monotonic µs */
    bool websocket = false;
  };

  static void on_http (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer data);
  static void on_websocket_origin (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer data);
  static void on_websocket (SoupServer *server, SoupServerMessage *msg,
      const char *path, SoupWebsocketConnection *connection, gpointer data);
  static void on_request_started (
      SoupServer *server, SoupServerMessage *msg, gpointer data);
  static gboolean on_incoming (GSocket *socket, GIOCondition, gpointer data);
  static void on_connection_gone (gpointer data, GObject *where);
  static gboolean on_sweep (gpointer data);

  bool origin_allowed (SoupServerMessage *msg) const;
  void accept_pending ();
  void forget (WebSocket *ws);
  void touch (SoupServerMessage *msg, bool websocket);

  Room &room_;
  Show *show_;
  Recorder *recorder_ = nullptr;
  Edges *edges_ = nullptr;
  std::string web_dir_; /* real path, no trailing slash */
  SoupServer *soup_ = nullptr;
  GSocket *listener_ = nullptr;
  GSource *listener_source_ = nullptr;
  guint sweep_timer_ = 0;
  int spare_fd_ = -1; /* given up to accept-and-close when out of files */
  guint16 port_ = 0;
  AuthThrottle throttle_;
  /* Every accepted TCP connection, by its remote "host:port" (main thread). */
  std::map<std::string, Connection> connections_;
  std::map<WebSocket *, std::unique_ptr<WebSocket>> sockets_;
};
