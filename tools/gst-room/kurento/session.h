/* gst-room, Kurento control API: sessions, the objects they own and the
 * methods a client calls on them (create, describe, invoke, subscribe,
 * unsubscribe, release).  All of it runs on the main thread. */
#pragma once

#include <glib.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../roomfile.h"
#include "errors.h"

class Recorder;

namespace kurento {

class Session;

/* The outcome of a method: a value (absent for void methods) or an error. */
struct Reply {
  std::optional<nlohmann::json> value;
  std::optional<Error> error;
  /* The value's members go straight into the result, beside sessionId
   * (describe's answer), rather than under "value". */
  bool inline_value = false;

  static Reply ok () { return {}; }
  static Reply with (nlohmann::json v) { return {std::move (v), std::nullopt}; }
  static Reply fields (nlohmann::json v)
  {
    return {std::move (v), std::nullopt, true};
  }
  static Reply fail (int code, std::string message)
  {
    return {std::nullopt, Error{code, std::move (message)}, false};
  }
};
/* Called once with a method's outcome, on the main thread, maybe later. */
using Done = std::function<void (Reply)>;

/* Runs @fn on the main thread, later (from any thread). */
void run_on_main (std::function<void ()> fn);

/* "<uuid>_<module>.<Type>", under @parent_id when it is not empty. */
std::string make_object_id (const std::string &parent_id,
    const std::string &module, const std::string &type);

/* A remote object: kurento.MediaObject and what derives from it. */
class MediaObject : public std::enable_shared_from_this<MediaObject> {
public:
  MediaObject (Session &session, std::string type, std::string parent_id,
      std::string module = "kurento");
  virtual ~MediaObject () = default;
  MediaObject (const MediaObject &) = delete;
  MediaObject &operator= (const MediaObject &) = delete;

  const std::string &id () const { return id_; }
  const std::string &type () const { return type_; }
  const std::string &parent_id () const { return parent_id_; }
  std::string qualified_type () const { return module_ + "." + type_; }
  /* Super classes, nearest first, as describe lists them. */
  virtual std::vector<std::string> hierarchy () const
  {
    return {"kurento.MediaObject"};
  }
  /* Whether subscribe may ask for @event (KURENTO-PROTOCOL.md §3). */
  virtual bool accepts_event (const std::string &event) const;
  /* Runs @operation with @params (an object, or null when none was sent). */
  virtual void invoke (
      const std::string &operation, const nlohmann::json &params, Done done);
  /* Frees what the object holds; called once, by its session. */
  virtual void release () {}

  /* Sends @event with its own @fields to the client, if it subscribed. */
  void emit (const std::string &event, nlohmann::json fields);

protected:
  Session &session_;
  /* Plain properties a client may set and read back (getX/setX) that have
   * no effect here yet, with their Kurento defaults. */
  std::map<std::string, nlohmann::json> properties_;

private:
  std::string type_, parent_id_, module_, id_;
  std::string name_;
  bool send_tags_ = false;
  std::map<std::string, std::string> tags_;
  gint64 creation_time_; /* seconds since the epoch */
};

/* A client's session: outlives its socket for session-timeout seconds, so
 * that a client which reconnects finds its objects again. */
class Session {
public:
  Session (const RoomSpec &spec, std::string id);
  ~Session ();
  Session (const Session &) = delete;
  Session &operator= (const Session &) = delete;

  const std::string &id () const { return id_; }
  const RoomSpec &spec () const { return spec_; }

  /* The JSON-RPC methods on objects; @params is an object. */
  void create (const nlohmann::json &params, Done done);
  void describe (const nlohmann::json &params, Done done);
  void invoke (const nlohmann::json &params, Done done);
  void subscribe (const nlohmann::json &params, Done done);
  void unsubscribe (const nlohmann::json &params, Done done);
  void release (const nlohmann::json &params, Done done);

  std::shared_ptr<MediaObject> find (const std::string &id) const;
  /* An object of @type (or a subclass) named by @value: an id string, or
   * {"id": …} as awaited objects serialize (§2.3b).  Null if none. */
  std::shared_ptr<MediaObject> lookup (const nlohmann::json &value) const;
  /* Ids of the objects whose parent is @id. */
  std::vector<std::string> children (const std::string &id) const;
  /* Releases @id and every object under it. */
  void release_object (const std::string &id);
  void release_all ();

  bool subscribed (const std::string &object, const std::string &event) const;
  /* A server→client message; dropped while no socket is attached. */
  std::function<void (const nlohmann::json &)> send;
  /* When the socket went away (monotonic µs), 0 while one is attached. */
  gint64 detached_since = 0;
  /* The room's recordings (null without [recording]): API recordings are
   * listed there, next to the room's, on the console. */
  Recorder *room_recorder = nullptr;

private:
  const RoomSpec &spec_;
  std::string id_;
  /* Every object of the session by id (a pipeline's children too). */
  std::map<std::string, std::shared_ptr<MediaObject>> objects_;
  struct Subscription {
    std::string object, event;
  };
  std::map<std::string, Subscription> subscriptions_; /* by token */
};

} // namespace kurento
