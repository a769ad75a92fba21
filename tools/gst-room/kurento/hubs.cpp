/* gst-room, Kurento control API: Composite, Dispatcher,
 * DispatcherOneToMany and HubPort. */
#include "hubs.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

namespace {

/* A positive integer constructor parameter no larger than @max, @fallback
 * when absent; false if it is there and wrong. */
bool
size_param (const json &ctor, const char *name, int max, int fallback, int &out,
    Error &error)
{
  json v = ctor.value (name, json ());
  if (v.is_null ()) {
    out = fallback;
    return true;
  }
  if (!v.is_number_integer () || v.get<gint64> () < 1
      || v.get<gint64> () > max) {
    error = {ILLEGAL_PARAM, std::string ("'") + name
                                + "' must be an integer from 1 to "
                                + std::to_string (max)};
    return false;
  }
  out = v.get<int> ();
  return true;
}

} // namespace

/* ---- Hub ------------------------------------------------------------- */

std::shared_ptr<MediaObject>
Hub::create (Session &session, const std::string &type,
    std::shared_ptr<MediaPipeline> pipeline, const json &ctor, Error &error)
{
  GstElement *element;
  if (type == "Composite") {
    /* Kurento 7.2's output size and rate, with its defaults. */
    int width, height, framerate;
    if (!size_param (ctor, "width", 4096, 800, width, error)
        || !size_param (ctor, "height", 4096, 600, height, error)
        || !size_param (ctor, "framerate", 60, 15, framerate, error))
      return nullptr;
    element = gst_element_factory_make ("mcucompositor", nullptr);
    if (element)
      g_object_set (element, "width", width, "height", height, "framerate",
          framerate, 1, "background", 0xff000000u, nullptr);
  } else {
    element = gst_element_factory_make ("dispatcher", nullptr);
  }
  if (!element) {
    error = {NOT_AVAILABLE, type + " cannot be built: its element is missing"};
    return nullptr;
  }
  /* The hub keeps a reference of its own beside the pipeline's. */
  return std::make_shared<Hub> (session, type, std::move (pipeline),
      GST_ELEMENT (gst_object_ref_sink (element)));
}

Hub::Hub (Session &session, std::string type,
    std::shared_ptr<MediaPipeline> pipeline, GstElement *element)
    : MediaObject (session, std::move (type), pipeline->id ()),
      pipeline_ (std::move (pipeline)), element_ (element)
{
  /* Hubports find it by name in the process: the object's own uuid. */
  std::string own = id ().substr (id ().rfind ('/') + 1, 36);
  std::string name = "kurento-hub-" + own;
  gst_object_set_name (GST_OBJECT (element_), name.c_str ());
  gst_bin_add (GST_BIN (pipeline_->pipeline ()), element_);
  gst_element_sync_state_with_parent (element_);
}

std::string
Hub::element_name () const
{
  gchar *name = gst_object_get_name (GST_OBJECT (element_));
  std::string out = name;
  g_free (name);
  return out;
}

int
Hub::port_of (const json &value) const
{
  auto port = std::dynamic_pointer_cast<HubPort> (session_.lookup (value));
  return port && port->hub () == this ? port->port () : -1;
}

Reply
Hub::route (const json &params)
{
  json source =
      params.is_object () ? params.value ("source", json ()) : json ();
  json sink = params.is_object () ? params.value ("sink", json ()) : json ();
  int in = port_of (source), out = port_of (sink);
  if (in < 0 || out < 0)
    return Reply::fail (ILLEGAL_PARAM,
        "'source' and 'sink' must be HubPorts of this Dispatcher");
  routes_[out] = in;
  apply_routes ();
  return Reply::ok ();
}

void
Hub::apply_routes ()
{
  /* dispatcher's syntax: INPUT>OUTPUT, comma separated. */
  std::string routes;
  for (const auto &[out, in] : routes_)
    routes += (routes.empty () ? "" : ",") + std::to_string (in) + ">"
              + std::to_string (out);
  g_object_set (element_, "routes", routes.c_str (), nullptr);
  GST_INFO ("%s: routes \"%s\"", id ().c_str (), routes.c_str ());
}

Reply
Hub::set_source (const json &params)
{
  int port = port_of (
      params.is_object () ? params.value ("source", json ()) : json ());
  if (port < 0)
    return Reply::fail (ILLEGAL_PARAM,
        "'source' must be a HubPort of this DispatcherOneToMany");
  g_object_set (element_, "source", port, nullptr);
  return Reply::ok ();
}

void
Hub::forget (int port)
{
  if (!element_ || port < 0) /* released with its pipeline */
    return;
  if (type () == "Dispatcher") {
    bool changed = false;
    for (auto it = routes_.begin (); it != routes_.end ();) {
      changed = changed || it->first == port || it->second == port;
      it = it->first == port || it->second == port ? routes_.erase (it)
                                                   : std::next (it);
    }
    if (changed)
      apply_routes ();
  } else if (type () == "DispatcherOneToMany") {
    int source = -1;
    g_object_get (element_, "source", &source, nullptr);
    if (source == port)
      g_object_set (element_, "source", -1, nullptr);
  }
}

void
Hub::invoke (const std::string &op, const json &params, Done done)
{
  if (type () == "Dispatcher" && op == "connect")
    return done (route (params));
  if (type () == "DispatcherOneToMany" && op == "setSource")
    return done (set_source (params));
  if (type () == "DispatcherOneToMany" && op == "removeSource") {
    g_object_set (element_, "source", -1, nullptr);
    return done (Reply::ok ());
  }
  if (op == "getGstreamerDot")
    return pipeline_->invoke (op, params, std::move (done));
  MediaObject::invoke (op, params, std::move (done));
}

void
Hub::release ()
{
  if (!element_)
    return;
  if (!pipeline_->closing ()) {
    gst_element_set_state (element_, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pipeline_->pipeline ()), element_);
  }
  gst_object_unref (element_);
  element_ = nullptr;
}

/* ---- HubPort --------------------------------------------------------- */

std::shared_ptr<MediaObject>
HubPort::create (Session &session, const json &ctor, Error &error)
{
  auto hub = std::dynamic_pointer_cast<Hub> (
      session.lookup (ctor.value ("hub", json ())));
  if (!hub) {
    error = {OBJECT_NOT_FOUND, "Object '" + ctor.value ("hub", json ()).dump ()
                                   + "' not found (constructor parameter hub)"};
    return nullptr;
  }
  auto port = std::make_shared<HubPort> (session, hub);
  if (!port->attach (error)) {
    port->release ();
    return nullptr;
  }
  return port;
}

HubPort::HubPort (Session &session, std::shared_ptr<Hub> hub)
    : MediaElement (
        session, "HubPort", hub->shared_pipeline (), "kurento", hub->id ()),
      hub_ (std::move (hub))
{}

bool
HubPort::attach (Error &error)
{
  hubport_ = gst_element_factory_make ("hubport", nullptr);
  if (!hubport_) {
    error = {NOT_AVAILABLE, "HubPort cannot be built: no hubport element"};
    return false;
  }
  g_object_set (hubport_, "hub", hub_->element_name ().c_str (), nullptr);
  add (hubport_);
  static const char *const in_pads[N_KINDS] = {"audio_sink", "sink"};
  static const char *const out_pads[N_KINDS] = {"audio_src", "src"};
  for (int k = 0; k < N_KINDS; k++) {
    make_input ((MediaKind)k);
    make_output ((MediaKind)k);
    gst_element_link_pads (inputs_[k], "src", hubport_, in_pads[k]);
    gst_element_link_pads (hubport_, out_pads[k], outputs_[k], "sink");
    gst_element_sync_state_with_parent (outputs_[k]);
  }
  if (!gst_element_sync_state_with_parent (hubport_)) {
    error = {UNEXPECTED, "HubPort cannot attach to " + hub_->id ()};
    return false;
  }
  for (int k = 0; k < N_KINDS; k++) {
    gst_element_sync_state_with_parent (inputs_[k]);
    open_input ((MediaKind)k);
  }
  GST_INFO ("%s: port %d of %s", id ().c_str (), port (),
      hub_->element_name ().c_str ());
  return true;
}

int
HubPort::port () const
{
  int port = -1;
  if (hubport_)
    g_object_get (hubport_, "port", &port, nullptr);
  return port;
}

std::vector<const MediaElement *>
HubPort::outlets () const
{
  std::vector<const MediaElement *> out;
  for (const std::string &id : session_.children (hub_->id ()))
    if (auto port = std::dynamic_pointer_cast<HubPort> (session_.find (id)))
      out.push_back (port.get ());
  return out;
}

void
HubPort::release ()
{
  hub_->forget (port ());
  MediaElement::release ();
  hubport_ = nullptr;
}

} // namespace kurento
