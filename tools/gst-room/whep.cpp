/* gst-room: WHEP for the fan-out roles (see whep.h). */
#include "whep.h"

#include "room.h"
#include "security.h"
#include "server.h"

namespace {

void
set_cors (SoupServerMessage *msg)
{
  /* A player on another origin may watch: credentials travel only as an
   * explicit bearer token, never as cookies. */
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (
      h, "Access-Control-Allow-Methods", "OPTIONS, POST, PATCH, DELETE");
  soup_message_headers_replace (h, "Access-Control-Allow-Headers",
      "Authorization, Content-Type, If-Match");
  soup_message_headers_replace (
      h, "Access-Control-Expose-Headers", "Location, ETag, Accept-Patch, Link");
}

void
reply (SoupServerMessage *msg, guint status, const std::string &text)
{
  soup_server_message_set_status (msg, status, nullptr);
  if (!text.empty ())
    soup_server_message_set_response (msg, "text/plain; charset=utf-8",
        SOUP_MEMORY_COPY, text.c_str (), text.size ());
}

std::string
body_of (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  GBytes *bytes = soup_message_body_flatten (body);
  gsize size = 0;
  const char *data =
      static_cast<const char *> (g_bytes_get_data (bytes, &size));
  std::string text (data ? data : "", size);
  g_bytes_unref (bytes);
  return text;
}

bool
content_type_is (SoupServerMessage *msg, const char *type)
{
  const char *value = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), nullptr);
  return value && g_ascii_strcasecmp (value, type) == 0;
}

} // namespace

Whep::Whep (Room &room) : room_ (room) {}

Whep::~Whep ()
{
  auto sessions = std::move (sessions_);
  sessions_.clear ();
  for (auto &entry : sessions) {
    drop_pending (entry.second);
    room_.remove_peer (entry.second.peer);
  }
}

void
Whep::drop_pending (Session &session)
{
  if (!session.pending)
    return;
  g_signal_handler_disconnect (session.pending, session.finished_handler);
  if (session.paused) {
    if (soup_server_message_get_status (session.pending) == 0)
      soup_server_message_set_status (
          session.pending, SOUP_STATUS_SERVICE_UNAVAILABLE, nullptr);
    soup_server_message_unpause (session.pending);
  }
  g_object_unref (session.pending);
  session.pending = nullptr;
  session.paused = false;
}

void
Whep::attach (Server &server)
{
  server.add_http_path ("/whep", on_request, this);
}

void
Whep::on_request (SoupServer *, SoupServerMessage *msg, const char *path,
    GHashTable *, gpointer data)
{
  auto *self = static_cast<Whep *> (data);
  set_cors (msg);
  /* /whep/ROLE or /whep/ROLE/RESOURCE */
  gchar **parts = g_strsplit (path, "/", -1);
  guint n = g_strv_length (parts);
  std::string role = n >= 3 ? parts[2] : "";
  std::string resource = n >= 4 ? parts[3] : "";
  bool shape_ok = n >= 3 && n <= 4 && g_str_equal (parts[1], "whep");
  g_strfreev (parts);
  const char *method = soup_server_message_get_method (msg);
  const RoomRoleSpec *spec = self->room_.spec ().find_role (role);
  if (!shape_ok || !spec || !spec->fanout) {
    reply (msg, SOUP_STATUS_NOT_FOUND, "no WHEP endpoint here");
    return;
  }
  if (g_str_equal (method, "OPTIONS")) {
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    if (resource.empty ())
      soup_message_headers_replace (h, "Accept-Post", "application/sdp");
    else
      soup_message_headers_replace (
          h, "Accept-Patch", "application/trickle-ice-sdpfrag");
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
    return;
  }
  /* The role's token, as a bearer token, for every other method. */
  if (!spec->token.empty ()) {
    const char *auth = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization");
    std::string given = auth && g_str_has_prefix (auth, "Bearer ")
                            ? auth + strlen ("Bearer ")
                            : "";
    if (!security_tokens_equal (given, spec->token)) {
      soup_message_headers_replace (
          soup_server_message_get_response_headers (msg), "WWW-Authenticate",
          "Bearer");
      reply (msg, SOUP_STATUS_UNAUTHORIZED,
          "role '" + role + "' wants its token as a bearer token");
      return;
    }
  }
  if (resource.empty () && g_str_equal (method, "POST")) {
    self->post (msg, role);
  } else if (!resource.empty () && g_str_equal (method, "PATCH")) {
    self->patch (msg, resource);
  } else if (!resource.empty () && g_str_equal (method, "DELETE")) {
    self->remove (msg, resource);
  } else {
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Allow",
        resource.empty () ? "OPTIONS, POST" : "OPTIONS, PATCH, DELETE");
    reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "");
  }
}

void
Whep::post (SoupServerMessage *msg, const std::string &role)
{
  const RoomSpec &spec = room_.spec ();
  if (!content_type_is (msg, "application/sdp")) {
    reply (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
        "a WHEP offer is application/sdp");
    return;
  }
  std::string offer = body_of (msg);
  if (offer.size () > spec.max_message_bytes) {
    reply (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the offer is too large");
    return;
  }
  gchar *uuid = g_uuid_string_random ();
  std::string resource = uuid;
  g_free (uuid);
  const char *host = soup_server_message_get_remote_host (msg);
  std::string error;
  Peer *peer = room_.add_peer (
      *spec.find_role (role), "", host ? host : "",
      [this, resource] (const nlohmann::json &out) {
        if (out.value ("type", "") == "answer")
          respond (resource, SOUP_STATUS_CREATED, "application/sdp",
              out.value ("sdp", ""));
      },
      [this, resource] (const std::string &, const std::string &why) {
        g_printerr ("gst-room: WHEP viewer %s left: %s\n", resource.c_str (),
            why.c_str ());
        respond (resource, SOUP_STATUS_BAD_REQUEST, "text/plain; charset=utf-8",
            why);
        end_session (resource);
      },
      error);
  if (!peer) {
    reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, error);
    return;
  }
  Session &session = sessions_[resource];
  session.role = role;
  session.peer = peer->id ();
  session.pending = SOUP_SERVER_MESSAGE (g_object_ref (msg));
  /* a player that goes away before its answer takes its viewer along */
  using Finished = std::pair<Whep *, std::string>;
  auto on_finished = [] (SoupServerMessage *m, gpointer data) {
    auto *pair = static_cast<Finished *> (data);
    auto found = pair->first->sessions_.find (pair->second);
    if (found != pair->first->sessions_.end () && found->second.pending == m) {
      found->second.paused = false; /* it is over: nothing to resume */
      pair->first->end_session (pair->second);
    }
  };
  session.finished_handler = g_signal_connect_data (
      msg, "finished", G_CALLBACK (+on_finished), new Finished (this, resource),
      [] (gpointer data, GClosure *) { delete static_cast<Finished *> (data); },
      (GConnectFlags)0);
  if (!peer->set_offer (offer, error)) {
    respond (
        resource, SOUP_STATUS_BAD_REQUEST, "text/plain; charset=utf-8", error);
    end_session (resource);
    return;
  }
  auto it = sessions_.find (resource);
  if (it != sessions_.end () && it->second.pending) {
    /* the answer comes once the fan-out has one */
    it->second.paused = true;
    soup_server_message_pause (msg);
  }
}

void
Whep::respond (const std::string &resource, guint status,
    const std::string &content_type, const std::string &body)
{
  auto it = sessions_.find (resource);
  if (it == sessions_.end () || !it->second.pending)
    return;
  SoupServerMessage *msg = it->second.pending;
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, content_type.c_str (),
      SOUP_MEMORY_COPY, body.c_str (), body.size ());
  if (status == SOUP_STATUS_CREATED) {
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    std::string location = "/whep/" + it->second.role + "/" + resource;
    soup_message_headers_replace (h, "Location", location.c_str ());
    soup_message_headers_replace (h, "ETag", ("\"" + resource + "\"").c_str ());
    soup_message_headers_replace (
        h, "Accept-Patch", "application/trickle-ice-sdpfrag");
  }
  drop_pending (it->second);
}

void
Whep::patch (SoupServerMessage *msg, const std::string &resource)
{
  auto it = sessions_.find (resource);
  Peer *peer =
      it == sessions_.end () ? nullptr : room_.find_peer (it->second.peer);
  if (!peer) {
    reply (msg, SOUP_STATUS_NOT_FOUND, "no such WHEP session");
    return;
  }
  if (!content_type_is (msg, "application/trickle-ice-sdpfrag")) {
    reply (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
        "trickle ICE is application/trickle-ice-sdpfrag");
    return;
  }
  std::string body = body_of (msg);
  if (body.size () > room_.spec ().max_message_bytes) {
    reply (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too large");
    return;
  }
  gchar **lines = g_strsplit (body.c_str (), "\n", -1);
  std::string error;
  for (gchar **l = lines; *l; l++) {
    g_strstrip (*l);
    if (g_str_has_prefix (*l, "a=candidate:"))
      peer->add_remote_candidate (0, *l + 2, error);
    else if (g_str_equal (*l, "a=end-of-candidates"))
      peer->add_remote_candidate (0, "", error);
  }
  g_strfreev (lines);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
}

void
Whep::remove (SoupServerMessage *msg, const std::string &resource)
{
  if (sessions_.find (resource) == sessions_.end ()) {
    reply (msg, SOUP_STATUS_NOT_FOUND, "no such WHEP session");
    return;
  }
  end_session (resource);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
}

void
Whep::end_session (const std::string &resource)
{
  auto it = sessions_.find (resource);
  if (it == sessions_.end ())
    return;
  guint peer = it->second.peer;
  drop_pending (it->second);
  sessions_.erase (it);
  room_.remove_peer (peer);
}
