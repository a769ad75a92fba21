/* gst-room, Kurento control API: the WebSocket transport, JSON-RPC framing
 * and sessions. */
#include "transport.h"

#include <gst/gst.h>

#include <algorithm>

#include "../security.h"
#include "../server.h"

using nlohmann::json;

GST_DEBUG_CATEGORY (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

/* One client socket. */
struct Service::Connection {
  SoupWebsocketConnection *ws = nullptr;
  std::shared_ptr<Session> session; /* bound on first use */
  std::deque<std::string> queue;    /* requests not handled yet */
  bool busy = false;                /* a request is waiting for its answer */
  bool pumping = false;             /* pump() is on the stack */
  bool closed = false;
  guint forget_idle = 0;
  /* Rate limit: a bucket of requests, refilled at max-requests-per-second
   * up to twice that. */
  double allowance = -1;   /* -1: full, not started */
  gint64 last_request = 0; /* monotonic µs */

  /* Without a socket (open_local), what is sent goes here instead. */
  std::function<void (const std::string &)> local;

  void send (const json &message)
  {
    if (closed
        || (ws
            && soup_websocket_connection_get_state (ws)
                   != SOUP_WEBSOCKET_STATE_OPEN))
      return;
    std::string text =
        message.dump (-1, ' ', false, json::error_handler_t::replace);
    if (!ws) {
      if (local)
        local (text);
      return;
    }
    soup_websocket_connection_send_text (ws, text.c_str ());
  }

  ~Connection ()
  {
    if (forget_idle)
      g_source_remove (forget_idle);
    if (!ws)
      return;
    g_signal_handlers_disconnect_by_data (ws, this);
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (
          ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "the server is closing");
    g_object_unref (ws);
  }
};

namespace {

json
error_reply (const json &id, const Error &error)
{
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", error.to_json ()}};
}

/* The message answering request @id with @reply. */
json
reply_message (const json &id, const Reply &reply, const std::string &session)
{
  if (reply.error)
    return error_reply (id, *reply.error);
  json result = json::object ();
  if (reply.value && reply.inline_value && reply.value->is_object ())
    result.update (*reply.value);
  else if (reply.value)
    result["value"] = *reply.value;
  if (!session.empty ())
    result["sessionId"] = session;
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
}

/* The methods a session runs on its objects (all but ping, connect and
 * transaction). */
bool
object_method (const std::string &method)
{
  static const char *const methods[] = {"create", "describe", "invoke",
      "subscribe", "unsubscribe", "release", "closeSession", "keepAlive", "ref",
      "unref"};
  for (const char *m : methods)
    if (method == m)
      return true;
  return false;
}

void
run_object_method (
    Session &session, const std::string &method, const json &params, Done done)
{
  if (method == "create")
    session.create (params, std::move (done));
  else if (method == "describe")
    session.describe (params, std::move (done));
  else if (method == "invoke")
    session.invoke (params, std::move (done));
  else if (method == "subscribe")
    session.subscribe (params, std::move (done));
  else if (method == "unsubscribe")
    session.unsubscribe (params, std::move (done));
  else if (method == "release")
    session.release (params, std::move (done));
  else /* closeSession, keepAlive, ref, unref: nothing to do */
    done (Reply::ok ());
}

/* Operations one transaction may hold. */
constexpr gsize MAX_TRANSACTION_OPERATIONS = 256;

/* Why @operations is not a transaction Kurento would run, or "": an array
 * of requests on objects whose ids are their indices. */
std::string
malformed_transaction (const json &operations)
{
  if (!operations.is_array () || operations.empty ())
    return "'operations' must be a non-empty array";
  if (operations.size () > MAX_TRANSACTION_OPERATIONS)
    return "more than " + std::to_string (MAX_TRANSACTION_OPERATIONS)
           + " operations";
  for (gsize i = 0; i < operations.size (); i++) {
    const json &op = operations[i];
    std::string at = "operation " + std::to_string (i) + ": ";
    if (!op.is_object () || !op.contains ("method")
        || !op["method"].is_string ())
      return at + "not a request";
    if (!op.contains ("id") || !op["id"].is_number_integer ()
        || op["id"].get<gint64> () != (gint64)i)
      return at + "its id must be " + std::to_string (i);
    if (!object_method (op["method"].get<std::string> ()))
      return at + "'" + op["method"].get<std::string> ()
             + "' cannot be part of a transaction";
    if (!op.contains ("params") || !op["params"].is_object ())
      return at + "'params' must be an object";
  }
  return "";
}

/* @value with every "newref:N" string replaced by the value operation N
 * answered; false if one names an operation that has not run. */
bool
resolve_newrefs (json &value, const json &responses)
{
  if (value.is_string ()) {
    const std::string &s = value.get_ref<const std::string &> ();
    if (s.rfind ("newref:", 0) != 0)
      return true;
    gchar *end = nullptr;
    guint64 n = g_ascii_strtoull (s.c_str () + 7, &end, 10);
    if (end == s.c_str () + 7 || *end || n >= responses.size ())
      return false;
    const json &result = responses[n].value ("result", json ());
    if (!result.is_object () || !result.contains ("value"))
      return false;
    value = result["value"];
    return true;
  }
  if (value.is_object () || value.is_array ())
    for (auto &item : value)
      if (!resolve_newrefs (item, responses))
        return false;
  return true;
}

/* Runs a transaction's operations one after another, each after the
 * previous one answered; stops at the first error, as Kurento does, so
 * the answer lists the operations that ran. */
struct Transaction : std::enable_shared_from_this<Transaction> {
  std::shared_ptr<Session> session;
  json operations;
  json responses = json::array ();
  Done done;

  void next ()
  {
    gsize i = responses.size ();
    if (i == operations.size ())
      return finish ();
    json params = operations[i]["params"];
    if (!resolve_newrefs (params, responses)) {
      responses.push_back (reply_message ((gint64)i,
          Reply::fail (MALFORMED_TRANSACTION, "a newref of operation "
                                                  + std::to_string (i)
                                                  + " names no earlier result"),
          ""));
      return finish ();
    }
    auto self = shared_from_this ();
    run_object_method (*session, operations[i]["method"].get<std::string> (),
        params, [self, i] (Reply reply) {
          self->responses.push_back (
              reply_message ((gint64)i, reply, self->session->id ()));
          if (reply.error)
            self->finish ();
          else
            self->next ();
        });
  }

  void finish () { done (Reply::with (std::move (responses))); }
};

std::string
random_uuid ()
{
  gchar *uuid = g_uuid_string_random ();
  std::string out = uuid;
  g_free (uuid);
  return out;
}

/* Deeper than any request of the protocol (about 5 levels): nlohmann-json
 * frees a document recursively, and a frame of a hundred thousand '['
 * would overflow the stack. */
constexpr int MAX_DEPTH = 32;

bool
nested_too_deep (const std::string &text)
{
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > MAX_DEPTH)
        return true;
    } else if (ch == ']' || ch == '}') {
      depth--;
    }
  }
  return false;
}

} // namespace

Service::Service (const RoomSpec &spec) : spec_ (spec)
{
  if (!kurento_debug)
    GST_DEBUG_CATEGORY_INIT (
        kurento_debug, "gstroom-kurento", 0, "gst-room Kurento control API");
  server_id_ = random_uuid ();
  sweep_timer_ = g_timeout_add_seconds (1, on_sweep, this);
}

Service::~Service ()
{
  close_all ();
  if (sweep_timer_)
    g_source_remove (sweep_timer_);
}

void
Service::attach (Server &server)
{
  server.add_websocket_path ("/kurento", on_websocket, this);
}

void
Service::close_all ()
{
  for (auto &[raw, c] : connections_) {
    c->closed = true;
    c->session.reset ();
  }
  connections_.clear ();
  sessions_.clear (); /* each releases its pipelines */
}

bool
Service::token_accepted (SoupServerMessage *msg)
{
  const std::string &token = spec_.kurento.access_token;
  if (token.empty ())
    return true;
  const char *host = soup_server_message_get_remote_host (msg);
  std::string address = host ? host : "";
  guint retry_ms = 0;
  if (!throttle_.may_try (address, retry_ms))
    return false;
  std::string given;
  const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
  if (query) {
    GHashTable *params =
        g_uri_parse_params (query, -1, "&", G_URI_PARAMS_WWW_FORM, nullptr);
    if (params) {
      auto *value = static_cast<const char *> (
          g_hash_table_lookup (params, "access_token"));
      given = value ? value : "";
      g_hash_table_unref (params);
    }
  }
  if (!given.empty () && security_tokens_equal (given, token)) {
    throttle_.succeeded (address);
    return true;
  }
  throttle_.failed (address);
  return false;
}

void
Service::on_websocket (SoupServer *, SoupServerMessage *msg, const char *,
    SoupWebsocketConnection *ws, gpointer data)
{
  auto *self = static_cast<Service *> (data);
  if (!self->token_accepted (msg)) {
    const char *host = soup_server_message_get_remote_host (msg);
    g_printerr ("gst-room: kurento: refused a client from %s: access_token "
                "missing or wrong\n",
        host ? host : "?");
    /* Kept until the close handshake is over, so the reason gets out. */
    g_signal_connect (g_object_ref (ws), "closed",
        G_CALLBACK (+[] (SoupWebsocketConnection *closed, gpointer) {
          g_idle_add (
              [] (gpointer o) -> gboolean {
                g_object_unref (o);
                return G_SOURCE_REMOVE;
              },
              closed);
        }),
        nullptr);
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
        "access_token missing or wrong");
    return;
  }
  auto c = std::make_shared<Connection> ();
  c->ws = SOUP_WEBSOCKET_CONNECTION (g_object_ref (ws));
  /* Frames up to 4x the limit reach us and get an error reply; only
   * bigger ones make soup close the connection. */
  soup_websocket_connection_set_max_incoming_payload_size (
      ws, self->spec_.kurento.max_message_bytes * 4);
  soup_websocket_connection_set_keepalive_interval (ws, 10);
  Connection *raw = c.get ();
  self->connections_[raw] = c;
  struct Closure {
    Service *self;
    Connection *raw;
  };
  auto *closure = new Closure{self, raw};
  g_signal_connect_data (ws, "message",
      G_CALLBACK (+[] (SoupWebsocketConnection *, gint type, GBytes *bytes,
                       gpointer d) {
        auto *cl = static_cast<Closure *> (d);
        auto it = cl->self->connections_.find (cl->raw);
        if (it == cl->self->connections_.end ())
          return;
        /* kurento-client's socket (websocket-stream) sends its JSON in
         * binary frames: both kinds are parsed alike. */
        (void)type;
        gsize size = 0;
        const char *text =
            static_cast<const char *> (g_bytes_get_data (bytes, &size));
        std::shared_ptr<Connection> conn = it->second;
        cl->self->receive (conn, text, size);
      }),
      closure, nullptr, (GConnectFlags)0);
  g_signal_connect_data (
      ws, "closed", G_CALLBACK (+[] (SoupWebsocketConnection *, gpointer d) {
        auto *cl = static_cast<Closure *> (d);
        auto it = cl->self->connections_.find (cl->raw);
        if (it == cl->self->connections_.end () || it->second->forget_idle)
          return;
        /* After the signal emission is over. */
        it->second->forget_idle = g_idle_add_full (
            G_PRIORITY_HIGH,
            [] (gpointer d2) -> gboolean {
              auto *cl2 = static_cast<Closure *> (d2);
              auto it2 = cl2->self->connections_.find (cl2->raw);
              if (it2 != cl2->self->connections_.end ()) {
                it2->second->forget_idle = 0;
                cl2->self->forget (cl2->raw);
              }
              return G_SOURCE_REMOVE;
            },
            d, nullptr);
      }),
      closure,
      [] (gpointer d, GClosure *) { delete static_cast<Closure *> (d); },
      (GConnectFlags)0);
  GST_INFO ("new connection %p", raw);
}

void *
Service::open_local (std::function<void (const std::string &)> send)
{
  auto c = std::make_shared<Connection> ();
  c->local = std::move (send);
  connections_[c.get ()] = c;
  return c.get ();
}

void
Service::receive_local (void *connection, const std::string &text)
{
  auto it = connections_.find (static_cast<Connection *> (connection));
  if (it != connections_.end ())
    receive (
        std::shared_ptr<Connection> (it->second), text.data (), text.size ());
}

void
Service::close_local (void *connection)
{
  forget (static_cast<Connection *> (connection));
}

void
Service::forget (Connection *raw)
{
  auto it = connections_.find (raw);
  if (it == connections_.end ())
    return;
  std::shared_ptr<Connection> c = it->second;
  connections_.erase (it);
  c->closed = true;
  c->queue.clear ();
  if (c->session) {
    /* The session waits for the client to reconnect. */
    c->session->send = nullptr;
    c->session->detached_since = g_get_monotonic_time ();
    GST_INFO ("session %s: socket gone, kept for %u s",
        c->session->id ().c_str (), spec_.kurento.session_timeout);
    c->session.reset ();
  }
}

gboolean
Service::on_sweep (gpointer data)
{
  auto *self = static_cast<Service *> (data);
  gint64 now = g_get_monotonic_time ();
  gint64 timeout = (gint64)self->spec_.kurento.session_timeout * G_USEC_PER_SEC;
  for (auto it = self->sessions_.begin (); it != self->sessions_.end ();) {
    const Session &s = *it->second;
    if (s.detached_since && now - s.detached_since > timeout) {
      GST_INFO ("session %s: released after %u s without a socket",
          s.id ().c_str (), self->spec_.kurento.session_timeout);
      it = self->sessions_.erase (it);
    } else {
      ++it;
    }
  }
  return G_SOURCE_CONTINUE;
}

void
Service::receive (
    const std::shared_ptr<Connection> &c, const char *text, gsize size)
{
  if (size > spec_.kurento.max_message_bytes) {
    c->send (error_reply (nullptr,
        {INVALID_REQUEST, "Invalid JSON-RPC request: more than "
                              + std::to_string (spec_.kurento.max_message_bytes)
                              + " bytes (max-message-bytes)"}));
    return;
  }
  if (c->queue.size () >= spec_.kurento.max_pending_requests) {
    /* A client that does not read its answers: it has no use for more. */
    g_printerr ("gst-room: kurento: closing a connection with %zu requests "
                "waiting (max-pending-requests)\n",
        c->queue.size ());
    if (c->ws)
      soup_websocket_connection_close (
          c->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many requests");
    else
      forget (c.get ());
    return;
  }
  if (!within_rate (*c)) {
    /* Answered at once, with the request's id when it has one. */
    json request = json::parse (text, text + size, nullptr, false);
    json id = request.is_object () && request.contains ("id") ? request["id"]
                                                              : json ();
    if (!id.is_number_integer () && !id.is_string ())
      id = nullptr;
    c->send (error_reply (
        id, {NOT_ENOUGH_RESOURCES,
                "Too many requests: more than "
                    + std::to_string (spec_.kurento.max_requests_per_second)
                    + " a second (max-requests-per-second)"}));
    return;
  }
  c->queue.emplace_back (text, size);
  pump (c);
}

bool
Service::within_rate (Connection &c)
{
  double rate = spec_.kurento.max_requests_per_second;
  gint64 now = g_get_monotonic_time ();
  if (c.allowance < 0)
    c.allowance = 2 * rate;
  else
    c.allowance =
        std::min (2 * rate, c.allowance + rate * (now - c.last_request) / 1e6);
  c.last_request = now;
  if (c.allowance < 1)
    return false;
  c.allowance -= 1;
  return true;
}

void
Service::pump (const std::shared_ptr<Connection> &c)
{
  if (c->pumping)
    return;
  c->pumping = true;
  while (!c->busy && !c->closed && !c->queue.empty ()) {
    std::string text = std::move (c->queue.front ());
    c->queue.pop_front ();
    c->busy = true;
    std::weak_ptr<Connection> weak = c;
    handle (c, text, [this, weak] () {
      auto conn = weak.lock ();
      if (!conn)
        return;
      conn->busy = false;
      if (!conn->pumping)
        pump (conn);
    });
  }
  c->pumping = false;
}

void
Service::bind (const std::shared_ptr<Connection> &c,
    const std::shared_ptr<Session> &session)
{
  if (c->session == session)
    return;
  if (c->session) {
    c->session->send = nullptr;
    c->session->detached_since = g_get_monotonic_time ();
  }
  c->session = session;
  session->detached_since = 0;
  std::weak_ptr<Connection> weak = c;
  session->send = [weak] (const json &message) {
    if (auto conn = weak.lock ())
      conn->send (message);
  };
}

std::shared_ptr<Session>
Service::session_for (const std::shared_ptr<Connection> &c)
{
  if (!c->session) {
    std::string id = random_uuid ();
    auto session = std::make_shared<Session> (spec_, id);
    session->room_recorder = recorder_;
    sessions_[id] = session;
    bind (c, session);
    GST_INFO ("session %s: new", id.c_str ());
  }
  return c->session;
}

void
Service::handle (const std::shared_ptr<Connection> &c, const std::string &text,
    std::function<void ()> finished)
{
  if (nested_too_deep (text)) {
    c->send (error_reply (nullptr,
        {INVALID_REQUEST, "Invalid JSON-RPC request: nested too deep"}));
    return finished ();
  }
  json request = json::parse (text, nullptr, false);
  if (request.is_discarded ()) {
    c->send (error_reply (nullptr, {PARSE_ERROR, "Parse error."}));
    return finished ();
  }
  bool has_id = request.is_object () && request.contains ("id");
  json id = has_id ? request["id"] : json ();
  if (!request.is_object () || request.value ("jsonrpc", json ()) != "2.0"
      || !request.contains ("method") || !request["method"].is_string ()
      || (has_id && !id.is_number_integer () && !id.is_string ()
          && !id.is_null ())) {
    c->send (
        error_reply (nullptr, {INVALID_REQUEST, "Invalid JSON-RPC request."}));
    return finished ();
  }
  std::string method = request["method"].get<std::string> ();
  json params = request.value ("params", json ());

  /* Sends the answer (none to a notification) and moves on. */
  std::weak_ptr<Connection> weak = c;
  auto answer = [weak, id, has_id, finished] (
                    const Reply &reply, const std::string &session_id) {
    auto conn = weak.lock ();
    if (conn && has_id)
      conn->send (reply_message (id, reply, session_id));
    finished ();
  };
  if (!params.is_null () && !params.is_object ()) {
    return answer (Reply::fail (INVALID_PARAMS, "Invalid params."), "");
  }
  json given_session =
      params.is_object () ? params.value ("sessionId", json ()) : json ();

  if (method == "ping") {
    /* The sessionId only if the client gave one (§1.5). */
    return answer (Reply::with ("pong"),
        given_session.is_string () ? given_session.get<std::string> () : "");
  }
  if (method == "connect") {
    if (given_session.is_string ()) {
      auto it = sessions_.find (given_session.get<std::string> ());
      if (it == sessions_.end ()
          || (it->second->detached_since == 0 && c->session != it->second))
        return answer (
            Reply::fail (INVALID_SESSION,
                "Invalid session '" + given_session.get<std::string> () + "'"),
            "");
      bind (c, it->second);
      GST_INFO ("session %s: resumed", it->first.c_str ());
    }
    std::string sid = session_for (c)->id ();
    if (has_id)
      c->send ({{"jsonrpc", "2.0"}, {"id", id},
          {"result", {{"sessionId", sid}, {"serverId", server_id_}}}});
    return finished ();
  }
  if (!object_method (method) && method != "transaction")
    return answer (Reply::fail (METHOD_NOT_FOUND, "Method not found."), "");
  if (!params.is_object ())
    return answer (Reply::fail (INVALID_PARAMS, "'params' is required"), "");

  /* A detached session named by the request is taken over, as after a
   * reconnect; one another socket holds is not. */
  if (given_session.is_string ()) {
    auto it = sessions_.find (given_session.get<std::string> ());
    if (it != sessions_.end () && it->second != c->session
        && it->second->detached_since != 0)
      bind (c, it->second);
  }
  std::shared_ptr<Session> session = session_for (c);
  std::string sid = session->id ();
  Done done = [answer, sid] (Reply reply) { answer (reply, sid); };
  if (method != "transaction")
    return run_object_method (*session, method, params, std::move (done));
  json operations = params.value ("operations", json ());
  std::string why = malformed_transaction (operations);
  if (!why.empty ())
    return done (
        Reply::fail (MALFORMED_TRANSACTION, "Malformed transaction: " + why));
  auto transaction = std::make_shared<Transaction> ();
  transaction->session = session;
  transaction->operations = std::move (operations);
  transaction->done = std::move (done);
  transaction->next ();
}

} // namespace kurento
