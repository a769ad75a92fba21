/* gst-room, Kurento control API: JSON-RPC 2.0 over WebSocket at /kurento
 * (KURENTO-PROTOCOL.md §1).  Each connection handles its requests one at a
 * time, in order, even when a method answers later (processOffer); each is
 * bound to one session, which outlives it for the room file's
 * session-timeout so that a client can reconnect to it. */
#pragma once

#include <libsoup/soup.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "../roomfile.h"
#include "../security.h"
#include "session.h"

class Server;

namespace kurento {

class Service {
public:
  explicit Service (const RoomSpec &spec);
  ~Service ();
  Service (const Service &) = delete;
  Service &operator= (const Service &) = delete;

  /* Serves ws://HOST:PORT/kurento on @server (after it listens). */
  void attach (Server &server);
  /* The room's recordings, where API recordings are listed too (it
   * outlives the service). */
  void set_recorder (Recorder *recorder) { recorder_ = recorder; }
  /* Closes every connection and releases every session (at exit). */
  void close_all ();

  /* A connection that is not a socket (the JSON-RPC fuzz target): @send
   * gets each message the server sends it; receive_local hands it a frame
   * as a socket would; close_local is the socket going away (its session
   * then waits for session-timeout, as after a closed socket). */
  void *open_local (std::function<void (const std::string &)> send);
  void receive_local (void *connection, const std::string &text);
  void close_local (void *connection);

private:
  struct Connection;

  static void on_websocket (SoupServer *server, SoupServerMessage *msg,
      const char *path, SoupWebsocketConnection *connection, gpointer data);
  static gboolean on_sweep (gpointer data);

  void receive (
      const std::shared_ptr<Connection> &c, const char *text, gsize size);
  /* Handles queued requests until one is left waiting for its answer. */
  void pump (const std::shared_ptr<Connection> &c);
  /* Handles one request; calls @finished once it has been answered. */
  void handle (const std::shared_ptr<Connection> &c, const std::string &text,
      std::function<void ()> finished);
  void forget (Connection *c);
  /* Whether the handshake of @msg gives the room's access token (or the
   * room has none); guesses are throttled per address. */
  bool token_accepted (SoupServerMessage *msg);
  /* Takes one request from @c's allowance; false when it has none left. */
  bool within_rate (Connection &c);
  /* The session a request on @c works in, made on first use. */
  std::shared_ptr<Session> session_for (const std::shared_ptr<Connection> &c);
  void bind (const std::shared_ptr<Connection> &c,
      const std::shared_ptr<Session> &session);

  const RoomSpec &spec_;
  std::string server_id_; /* this process, for connect's serverId */
  guint sweep_timer_ = 0;
  std::map<Connection *, std::shared_ptr<Connection>> connections_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  AuthThrottle throttle_;
  Recorder *recorder_ = nullptr;
};

} // namespace kurento
