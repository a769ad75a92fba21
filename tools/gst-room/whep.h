/* gst-room: WHEP (WebRTC-HTTP Egress Protocol) for the room's fan-out
 * roles, so any WHEP player can watch: POST an SDP offer to
 * /whep/ROLE → 201 Created, the answer and a Location; PATCH that
 * location with trickled candidates; DELETE it to leave; OPTIONS answers
 * CORS.  A role with a token wants it as a bearer token.  A WHEP viewer is
 * a peer of its role like any other (counted, limited, shown on the
 * console).  docs/whep.md. */
#pragma once

#include <libsoup/soup.h>

#include <map>
#include <string>

class Room;
class Server;

class Whep {
public:
  explicit Whep (Room &room);
  /* Lets every WHEP viewer go. */
  ~Whep ();
  Whep (const Whep &) = delete;
  Whep &operator= (const Whep &) = delete;

  void attach (Server &server);
  /* The sessions now (for tests and the console). */
  size_t sessions () const { return sessions_.size (); }

private:
  struct Session {
    std::string role;
    guint peer = 0;
    SoupServerMessage *pending = nullptr; /* the POST, until answered */
    bool paused = false;
    gulong finished_handler = 0; /* on pending */
  };
  /* Lets go of the pending POST (no callback from it any more). */
  static void drop_pending (Session &session);
  static void on_request (SoupServer *server, SoupServerMessage *msg,
      const char *path, GHashTable *query, gpointer data);
  void post (SoupServerMessage *msg, const std::string &role);
  void patch (SoupServerMessage *msg, const std::string &resource);
  void remove (SoupServerMessage *msg, const std::string &resource);
  /* Answers the pending POST of @resource (status, body), if any. */
  void respond (const std::string &resource, guint status,
      const std::string &content_type, const std::string &body);
  void end_session (const std::string &resource);

  Room &room_;
  std::map<std::string, Session> sessions_; /* by resource id */
};
