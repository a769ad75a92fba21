/* gst-room, Kurento control API: sessions, the object registry and the
 * methods on objects. */
#include "session.h"

#include <gst/gst.h>

#include <algorithm>

#include "filters.h"
#include "hubs.h"
#include "pipeline.h"
#include "player.h"
#include "recorder.h"
#include "webrtc.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

namespace {

constexpr const char *SERVER_MANAGER = "manager_ServerManager";
constexpr const char *PROTOCOL_VERSION = "7.3.0";

std::string
random_uuid ()
{
  gchar *uuid = g_uuid_string_random ();
  std::string out = uuid;
  g_free (uuid);
  return out;
}

/* Kurento classes gst-room does not build yet: creating one is
 * NOT_IMPLEMENTED rather than an unknown type. */
const char *const NOT_YET[] = {"RtpEndpoint", "HttpPostEndpoint",
    "AlphaBlending", "Mixer", "ImageOverlayFilter"};

/* The hubs (hubs.h). */
const char *const HUBS[] = {"Composite", "Dispatcher", "DispatcherOneToMany"};

/* The filters (filters.h), by the name a client creates them with. */
const char *const FILTERS[] = {"PassThrough", "GStreamerFilter",
    "FaceOverlayFilter", "ZBarFilter", "ChromaFilter"};

json
module_info (const char *name, std::vector<std::string> factories)
{
  return {{"__module__", "kurento"}, {"__type__", "ModuleInfo"}, {"name", name},
      {"version", PROTOCOL_VERSION}, {"generationTime", "gst-room"},
      {"factories", std::move (factories)}};
}

json
server_info ()
{
  return {{"__module__", "kurento"}, {"__type__", "ServerInfo"},
      {"version", PROTOCOL_VERSION}, {"type", "KMS"},
      {"capabilities", {"transactions"}},
      {"modules",
          {module_info ("core", {"MediaPipeline", "PassThrough", "HubPort"}),
              module_info (
                  "elements", {"WebRtcEndpoint", "PlayerEndpoint", "Composite",
                                  "Dispatcher", "DispatcherOneToMany"}),
              module_info ("filters",
                  {"FaceOverlayFilter", "ZBarFilter", "GStreamerFilter"}),
              module_info ("chroma", {"ChromaFilter"})}}};
}

/* "getFooBar" → "fooBar" (a property getter or setter's property). */
std::string
property_of (const std::string &operation, const char *prefix)
{
  std::string rest = operation.substr (strlen (prefix));
  if (!rest.empty ())
    rest[0] = g_ascii_tolower (rest[0]);
  return rest;
}

} // namespace

void
run_on_main (std::function<void ()> fn)
{
  g_idle_add_full (
      G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      },
      new std::function<void ()> (std::move (fn)),
      [] (gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
}

std::string
make_object_id (const std::string &parent_id, const std::string &module,
    const std::string &type)
{
  std::string own = random_uuid () + "_" + module + "." + type;
  return parent_id.empty () ? own : parent_id + "/" + own;
}

/* ---- MediaObject ----------------------------------------------------- */

MediaObject::MediaObject (Session &session, std::string type,
    std::string parent_id, std::string module)
    : session_ (session), type_ (std::move (type)),
      parent_id_ (std::move (parent_id)), module_ (std::move (module))
{
  /* Kurento's ids name the pipeline only: "<pipeline id>/<own>", whatever
   * the parent (a hub's port's parent is the hub). */
  id_ = make_object_id (
      parent_id_.substr (0, parent_id_.find ('/')), module_, type_);
  name_ = id_;
  creation_time_ = g_get_real_time () / G_USEC_PER_SEC;
}

bool
MediaObject::accepts_event (const std::string &event) const
{
  return event == "Error";
}

void
MediaObject::emit (const std::string &event, json fields)
{
  if (!session_.subscribed (id_, event) || !session_.send)
    return;
  json data = std::move (fields);
  data["source"] = id_;
  data["type"] = event;
  data["timestampMillis"] = std::to_string (g_get_real_time () / 1000);
  json tags = json::array ();
  if (send_tags_)
    for (const auto &[k, v] : tags_)
      tags.push_back ({{"key", k}, {"value", v}});
  data["tags"] = tags;
  session_.send ({{"jsonrpc", "2.0"}, {"method", "onEvent"},
      {"params",
          {{"value", {{"data", data}, {"object", id_}, {"type", event}}}}}});
}

void
MediaObject::invoke (const std::string &op, const json &params, Done done)
{
  auto arg = [&] (const char *name) -> const json * {
    if (!params.is_object () || !params.contains (name))
      return nullptr;
    return &params[name];
  };
  auto string_arg = [&] (const char *name, std::string &out) {
    const json *v = arg (name);
    if (!v || !v->is_string ())
      return false;
    out = v->get<std::string> ();
    return true;
  };
  std::string s;
  if (op == "getName")
    return done (Reply::with (name_));
  if (op == "setName") {
    if (!string_arg ("name", s))
      return done (Reply::fail (ILLEGAL_PARAM, "'name' must be a string"));
    name_ = s;
    return done (Reply::ok ());
  }
  if (op == "getSendTagsInEvents")
    return done (Reply::with (send_tags_));
  if (op == "setSendTagsInEvents") {
    const json *v = arg ("sendTagsInEvents");
    if (!v || !v->is_boolean ())
      return done (Reply::fail (
          ILLEGAL_PARAM, "'sendTagsInEvents' must be true or false"));
    send_tags_ = v->get<bool> ();
    return done (Reply::ok ());
  }
  if (op == "getMediaPipeline")
    return done (Reply::with (id_.substr (0, id_.find ('/'))));
  if (op == "getParent")
    return done (
        parent_id_.empty () ? Reply::with (nullptr) : Reply::with (parent_id_));
  if (op == "getChildren") {
    json children = json::array ();
    for (const std::string &child : session_.children (id_))
      children.push_back (child);
    return done (Reply::with (children));
  }
  if (op == "getCreationTime")
    return done (Reply::with (creation_time_));
  if (op == "addTag") {
    std::string value;
    if (!string_arg ("key", s) || !string_arg ("value", value))
      return done (
          Reply::fail (ILLEGAL_PARAM, "'key' and 'value' must be strings"));
    tags_[s] = value;
    return done (Reply::ok ());
  }
  if (op == "removeTag") {
    if (!string_arg ("key", s))
      return done (Reply::fail (ILLEGAL_PARAM, "'key' must be a string"));
    tags_.erase (s);
    return done (Reply::ok ());
  }
  if (op == "getTag") {
    if (!string_arg ("key", s))
      return done (Reply::fail (ILLEGAL_PARAM, "'key' must be a string"));
    auto it = tags_.find (s);
    if (it == tags_.end ())
      return done (Reply::fail (ILLEGAL_PARAM, "Tag '" + s + "' not found"));
    return done (Reply::with (it->second));
  }
  if (op == "getTags") {
    json tags = json::array ();
    for (const auto &[k, v] : tags_)
      tags.push_back ({{"__module__", "kurento"}, {"__type__", "Tag"},
          {"key", k}, {"value", v}});
    return done (Reply::with (tags));
  }
  if (g_str_has_prefix (op.c_str (), "get") && op.size () > 3) {
    auto it = properties_.find (property_of (op, "get"));
    if (it != properties_.end ())
      return done (Reply::with (it->second));
  } else if (g_str_has_prefix (op.c_str (), "set") && op.size () > 3) {
    std::string property = property_of (op, "set");
    auto it = properties_.find (property);
    if (it != properties_.end ()) {
      const json *v = arg (property.c_str ());
      if (!v || v->type () != it->second.type ())
        return done (Reply::fail (ILLEGAL_PARAM,
            "'" + property + "' must be like " + it->second.dump ()));
      it->second = *v;
      return done (Reply::ok ());
    }
  }
  done (Reply::fail (
      OBJECT_METHOD_NOT_FOUND, "Method '" + op + "' not found in " + type_));
}

/* ---- Session --------------------------------------------------------- */

Session::Session (const RoomSpec &spec, std::string id)
    : spec_ (spec), id_ (std::move (id))
{}

Session::~Session ()
{
  release_all ();
}

std::shared_ptr<MediaObject>
Session::find (const std::string &id) const
{
  auto it = objects_.find (id);
  return it == objects_.end () ? nullptr : it->second;
}

std::shared_ptr<MediaObject>
Session::lookup (const json &value) const
{
  if (value.is_string ())
    return find (value.get<std::string> ());
  if (value.is_object () && value.contains ("id") && value["id"].is_string ())
    return find (value["id"].get<std::string> ());
  return nullptr;
}

std::vector<std::string>
Session::children (const std::string &id) const
{
  std::vector<std::string> out;
  for (const auto &[child, object] : objects_)
    if (object->parent_id () == id)
      out.push_back (child);
  return out;
}

bool
Session::subscribed (const std::string &object, const std::string &event) const
{
  for (const auto &[token, s] : subscriptions_)
    if (s.object == object && s.event == event)
      return true;
  return false;
}

void
Session::release_object (const std::string &id)
{
  auto target = find (id);
  if (!target)
    return;
  /* Everything whose parent chain leads to @id. */
  std::vector<std::shared_ptr<MediaObject>> under;
  std::vector<std::string> parents{id};
  for (gsize i = 0; i < parents.size (); i++)
    for (const auto &[other, object] : objects_)
      if (object->parent_id () == parents[i]) {
        under.push_back (object);
        parents.push_back (other);
      }
  /* A pipeline stops first: its elements then need not unlink one by
   * one.  An element goes after what hangs under it (a hub's ports). */
  bool pipeline_first =
      dynamic_cast<MediaPipeline *> (target.get ()) != nullptr;
  if (pipeline_first)
    target->release ();
  for (auto &object : under)
    object->release ();
  if (!pipeline_first)
    target->release ();
  under.push_back (target);
  for (auto &object : under) {
    objects_.erase (object->id ());
    for (auto it = subscriptions_.begin (); it != subscriptions_.end ();)
      it = it->second.object == object->id () ? subscriptions_.erase (it)
                                              : std::next (it);
  }
  GST_INFO ("session %s: released %s and %zu more", id_.c_str (), id.c_str (),
      under.size () - 1);
}

void
Session::release_all ()
{
  /* Pipelines (the top-level objects) take their elements with them. */
  while (!objects_.empty ()) {
    std::string top = objects_.begin ()->first;
    top = top.substr (0, top.find ('/'));
    if (!find (top)) /* an orphan: cannot happen, but never loop */
      top = objects_.begin ()->first;
    release_object (top);
  }
  subscriptions_.clear ();
}

void
Session::create (const json &params, Done done)
{
  if (!params.contains ("type") || !params["type"].is_string ())
    return done (Reply::fail (INVALID_PARAMS, "'type' is required"));
  std::string type = params["type"].get<std::string> ();
  for (const char *module : {"kurento.", "chroma."})
    if (g_str_has_prefix (type.c_str (), module))
      type = type.substr (strlen (module));
  json ctor = params.value ("constructorParams", json::object ());
  if (!ctor.is_object ())
    return done (
        Reply::fail (ILLEGAL_PARAM, "'constructorParams' must be an object"));

  std::shared_ptr<MediaObject> object;
  Error error{ILLEGAL_PARAM, ""};
  if (type == "MediaPipeline") {
    object = std::make_shared<MediaPipeline> (*this);
  } else if (type == "HubPort") {
    object = HubPort::create (*this, ctor, error);
  } else if (type == "WebRtcEndpoint" || type == "PlayerEndpoint"
             || type == "RecorderEndpoint"
             || std::find (std::begin (FILTERS), std::end (FILTERS), type)
                    != std::end (FILTERS)
             || std::find (std::begin (HUBS), std::end (HUBS), type)
                    != std::end (HUBS)) {
    auto pipeline = std::dynamic_pointer_cast<MediaPipeline> (
        lookup (ctor.value ("mediaPipeline", json ())));
    if (!pipeline)
      return done (Reply::fail (OBJECT_NOT_FOUND,
          "Object '" + ctor.value ("mediaPipeline", json ()).dump ()
              + "' not found (constructor parameter mediaPipeline)"));
    if (type == "WebRtcEndpoint")
      object = WebRtcEndpoint::create (*this, pipeline, ctor, error);
    else if (type == "PlayerEndpoint")
      object = PlayerEndpoint::create (*this, pipeline, ctor, error);
    else if (type == "RecorderEndpoint")
      object = RecorderEndpoint::create (*this, pipeline, ctor, error);
    else if (std::find (std::begin (HUBS), std::end (HUBS), type)
             != std::end (HUBS))
      object = Hub::create (*this, type, pipeline, ctor, error);
    else
      object = Filter::create (*this, type, pipeline, ctor, error);
  } else if (std::find (std::begin (NOT_YET), std::end (NOT_YET), type)
             != std::end (NOT_YET)) {
    return done (Reply::fail (NOT_IMPLEMENTED,
        "gst-room does not implement " + type + " yet (see docs/kurento.md)"));
  } else {
    return done (
        Reply::fail (NOT_AVAILABLE, "Factory '" + type + "' not found"));
  }
  if (!object)
    return done (Reply::fail (error.code, error.message));
  objects_[object->id ()] = object;
  GST_INFO ("session %s: created %s", id_.c_str (), object->id ().c_str ());
  done (Reply::with (object->id ()));
}

void
Session::describe (const json &params, Done done)
{
  json id = params.value ("object", json ());
  if (!id.is_string ())
    return done (Reply::fail (INVALID_PARAMS, "'object' is required"));
  if (id == SERVER_MANAGER)
    return done (Reply::fields ({{"hierarchy", {"kurento.MediaObject"}},
        {"qualifiedType", "kurento.ServerManager"},
        {"type", "ServerManager"}}));
  auto object = find (id.get<std::string> ());
  if (!object)
    return done (Reply::fail (
        OBJECT_NOT_FOUND, "Object '" + id.get<std::string> () + "' not found"));
  done (Reply::fields ({{"hierarchy", object->hierarchy ()},
      {"qualifiedType", object->qualified_type ()},
      {"type", object->type ()}}));
}

void
Session::invoke (const json &params, Done done)
{
  json id = params.value ("object", json ());
  json op = params.value ("operation", json ());
  if (!id.is_string () || !op.is_string ())
    return done (
        Reply::fail (INVALID_PARAMS, "'object' and 'operation' are required"));
  json args = params.value ("operationParams", json ());
  std::string operation = op.get<std::string> ();
  if (id == SERVER_MANAGER) {
    if (operation == "getInfo")
      return done (Reply::with (server_info ()));
    if (operation == "getSessions")
      return done (Reply::with (json::array ({id_})));
    if (operation == "getPipelines") {
      json pipelines = json::array ();
      for (const auto &[oid, object] : objects_)
        if (object->parent_id ().empty ())
          pipelines.push_back (oid);
      return done (Reply::with (pipelines));
    }
    return done (Reply::fail (OBJECT_METHOD_NOT_FOUND,
        "Method '" + operation + "' not found in ServerManager"));
  }
  auto object = find (id.get<std::string> ());
  if (!object)
    return done (Reply::fail (
        OBJECT_NOT_FOUND, "Object '" + id.get<std::string> () + "' not found"));
  object->invoke (operation, args, std::move (done));
}

void
Session::subscribe (const json &params, Done done)
{
  json id = params.value ("object", json ());
  json type = params.value ("type", json ());
  if (!id.is_string () || !type.is_string ())
    return done (
        Reply::fail (INVALID_PARAMS, "'object' and 'type' are required"));
  std::string event = type.get<std::string> ();
  bool ok;
  if (id == SERVER_MANAGER) {
    ok = event == "Error" || event == "ObjectCreated"
         || event == "ObjectDestroyed";
  } else {
    auto object = find (id.get<std::string> ());
    if (!object)
      return done (Reply::fail (OBJECT_NOT_FOUND,
          "Object '" + id.get<std::string> () + "' not found"));
    ok = object->accepts_event (event);
  }
  if (!ok)
    return done (Reply::fail (EVENT_NOT_SUPPORTED,
        "Event '" + event + "' not supported by " + id.get<std::string> ()));
  std::string token = random_uuid ();
  subscriptions_[token] = {id.get<std::string> (), event};
  done (Reply::with (token));
}

void
Session::unsubscribe (const json &params, Done done)
{
  /* Never an error: the client unsubscribes by itself right after
   * releasing an object, and an error would kill it (§6.1). */
  json token = params.value ("subscription", json ());
  if (token.is_string ())
    subscriptions_.erase (token.get<std::string> ());
  done (Reply::ok ());
}

void
Session::release (const json &params, Done done)
{
  json id = params.value ("object", json ());
  if (!id.is_string ())
    return done (Reply::fail (INVALID_PARAMS, "'object' is required"));
  if (!find (id.get<std::string> ()))
    return done (Reply::fail (
        OBJECT_NOT_FOUND, "Object '" + id.get<std::string> () + "' not found"));
  release_object (id.get<std::string> ());
  done (Reply::ok ());
}

} // namespace kurento
