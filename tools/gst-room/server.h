/* gst-room: HTTP (the web pages) and the WebSocket signalling channel, on
 * libsoup 3.  The messages are documented in docs/signalling.md. */
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "roomfile.h"

class Room;
class Client;

class Server {
public:
  Server (Room &room, std::string web_dir);
  ~Server ();

  bool listen (std::string &error);
  /* "http://HOST:PORT/" */
  std::string url () const;
  void close_all ();
  void forget (Client *client);
  /* Sends @message to every joined client whose role @to accepts. */
  void broadcast (const nlohmann::json &message,
      const std::function<bool (const RoomRoleSpec &)> &to);

private:
  static void on_http (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer data);
  static void on_websocket (SoupServer *server, SoupServerMessage *msg,
      const char *path, SoupWebsocketConnection *connection, gpointer data);

  Room &room_;
  std::string web_dir_;
  SoupServer *soup_ = nullptr;
  std::set<std::unique_ptr<Client>> clients_; /* main thread only */
};
