/* gst-room, Kurento control API: PassThrough, GStreamerFilter,
 * FaceOverlayFilter, ZBarFilter and chroma.ChromaFilter. */
#include "filters.h"

#include <algorithm>
#include <cmath>

#include "player.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

namespace {

/* The converters in front of a filter's element; GStreamerFilter's
 * setElementProperty never looks at them. */
constexpr const char *CONVERT_NAME = "gst-room-convert";
const char *const CONVERT[N_KINDS] = {
    "audioconvert name=gst-room-convert ! audioresample",
    "videoconvert name=gst-room-convert",
};

/* A Kurento number parameter: any JSON number. */
bool
number_arg (const json &params, const char *name, double &out)
{
  if (!params.is_object () || !params.contains (name)
      || !params[name].is_number ())
    return false;
  out = params[name].get<double> ();
  return true;
}

GstElement *
parse (const std::string &description, std::string &error)
{
  GError *err = nullptr;
  GstElement *bin = gst_parse_bin_from_description_full (
      description.c_str (), TRUE, nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    error = err ? err->message : "cannot parse";
    g_clear_error (&err);
    return nullptr;
  }
  gst_object_ref_sink (bin);
  return bin;
}

/* Why @bin cannot be a GStreamerFilter, or "" if it can: one chain with one
 * input and one output (every other pad linked), and filters only (a source
 * or a sink would let a client read or write files, or open sockets, on the
 * server). */
std::string
refuse_filter (GstElement *bin)
{
  GstPad *sink = gst_element_get_static_pad (bin, "sink");
  GstPad *src = gst_element_get_static_pad (bin, "src");
  bool pads = sink && src && bin->numpads == 2;
  if (sink)
    gst_object_unref (sink);
  if (src)
    gst_object_unref (src);
  std::string why;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  while (why.empty () && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    auto *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *factory = gst_element_get_factory (e);
    const char *klass = factory ? gst_element_factory_get_metadata (
                            factory, GST_ELEMENT_METADATA_KLASS)
                                : nullptr;
    if (klass && (strstr (klass, "Source") || strstr (klass, "Sink")))
      why = std::string ("'") + GST_OBJECT_NAME (factory)
            + "' is a source or a sink; a GStreamerFilter holds filters only";
    GST_OBJECT_LOCK (e);
    for (GList *l = e->pads; l; l = l->next)
      pads = pads && GST_PAD_PEER (GST_PAD (l->data)) != nullptr;
    GST_OBJECT_UNLOCK (e);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  if (why.empty () && !pads)
    why = "it must be one chain, with one unlinked input and one unlinked "
          "output";
  return why;
}

/* The kind a filter bin works on, from what its input accepts: audio when
 * every structure is audio, video otherwise. */
MediaKind
kind_of (GstElement *bin)
{
  GstPad *sink = gst_element_get_static_pad (bin, "sink");
  GstCaps *caps = gst_pad_query_caps (sink, nullptr);
  gst_object_unref (sink);
  bool audio = !gst_caps_is_any (caps) && !gst_caps_is_empty (caps);
  for (guint i = 0; audio && i < gst_caps_get_size (caps); i++)
    audio = g_str_has_prefix (
        gst_structure_get_name (gst_caps_get_structure (caps, i)), "audio/");
  gst_caps_unref (caps);
  return audio ? KIND_AUDIO : KIND_VIDEO;
}

/* Chroma's calibration window, in pixels of the frames, turned into the
 * fractions chromakey takes once the first frame's size is known. */
struct Window {
  double x, y, width, height;
};

GstPadProbeReturn
calibrate_on_caps (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  int w = 0, h = 0;
  GstStructure *s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_get_int (s, "width", &w)
      || !gst_structure_get_int (s, "height", &h) || w <= 0 || h <= 0)
    return GST_PAD_PROBE_OK;
  const Window &win = *static_cast<Window *> (data);
  auto fraction = [] (double v, int size) {
    return std::clamp (v / size, 0.0, 1.0);
  };
  double x = fraction (win.x, w), y = fraction (win.y, h);
  GstElement *chroma = gst_pad_get_parent_element (pad);
  g_object_set (chroma, "calibrate-x", x, "calibrate-y", y, "calibrate-width",
      std::max (fraction (win.width, w), 1.0 / w), "calibrate-height",
      std::max (fraction (win.height, h), 1.0 / h), "calibrate", TRUE, nullptr);
  gst_object_unref (chroma);
  GST_INFO ("chroma: calibrating on %gx%g at %g,%g of %dx%d", win.width,
      win.height, win.x, win.y, w, h);
  return GST_PAD_PROBE_REMOVE;
}

} // namespace

std::shared_ptr<MediaObject>
Filter::create (Session &session, const std::string &type,
    std::shared_ptr<MediaPipeline> pipeline, const json &ctor, Error &error)
{
  std::string module = type == "ChromaFilter" ? "chroma" : "kurento";
  auto filter = std::make_shared<Filter> (session, type, pipeline, module);
  std::string why;
  if (type == "PassThrough") {
    filter->build (KIND_VIDEO, nullptr);
    return filter;
  }
  if (type == "GStreamerFilter") {
    json command = ctor.value ("command", json ());
    json filter_type = ctor.value ("filterType", json ("AUTODETECT"));
    if (!command.is_string () || command.get<std::string> ().empty ()) {
      error = {ILLEGAL_PARAM, "'command' must be a gst-launch description"};
      return nullptr;
    }
    if (filter_type != "AUDIO" && filter_type != "VIDEO"
        && filter_type != "AUTODETECT") {
      error = {
          ILLEGAL_PARAM, "'filterType' must be AUDIO, VIDEO or AUTODETECT"};
      return nullptr;
    }
    /* Parsed alone first, to learn its kind and to check what is in it. */
    GstElement *bare = parse (command.get<std::string> (), why);
    if (bare && (why = refuse_filter (bare)).empty ()) {
      MediaKind kind = filter_type == "AUDIO"   ? KIND_AUDIO
                       : filter_type == "VIDEO" ? KIND_VIDEO
                                                : kind_of (bare);
      gst_object_unref (bare);
      GstElement *bin = parse (
          std::string (CONVERT[kind]) + " ! " + command.get<std::string> (),
          why);
      if (bin) {
        filter->properties_["command"] = command;
        filter->build (kind, bin);
        return filter;
      }
    } else if (bare) {
      gst_object_unref (bare);
    }
    error = {ILLEGAL_PARAM,
        "Cannot use '" + command.get<std::string> () + "' as a filter: " + why};
    return nullptr;
  }
  if (type == "FaceOverlayFilter" || type == "ZBarFilter") {
    const char *description =
        type == "ZBarFilter"
            /* A code still in view is told again every second, as Kurento's
             * ZBarFilter does. */
            ? "videoconvert ! qrdetect name=filter message=true "
              "repeat-interval=1000"
            : "videoconvert ! faceoverlayfilter name=filter";
    GstElement *bin = parse (description, why);
    if (!bin) {
      error = {NOT_AVAILABLE, type + " cannot be built: " + why};
      return nullptr;
    }
    filter->build (KIND_VIDEO, bin);
    if (type == "ZBarFilter") {
      std::weak_ptr<Filter> weak = filter;
      filter->pipeline ().watch (
          filter->element (), [weak] (const GstStructure *message) {
            if (auto self = weak.lock ())
              self->code_found (message);
          });
    }
    return filter;
  }
  if (type == "ChromaFilter") {
    json window = ctor.value ("window", json ());
    Window win{};
    if (!number_arg (window, "topRightCornerX", win.x)
        || !number_arg (window, "topRightCornerY", win.y)
        || !number_arg (window, "width", win.width)
        || !number_arg (window, "height", win.height) || win.width <= 0
        || win.height <= 0 || win.x < 0 || win.y < 0) {
      error = {ILLEGAL_PARAM,
          "'window' must be a WindowParam {topRightCornerX, topRightCornerY, "
          "width, height} in pixels, with a positive size"};
      return nullptr;
    }
    std::string background;
    json image = ctor.value ("backgroundImage", json (""));
    if (!image.is_string ()) {
      error = {ILLEGAL_PARAM, "'backgroundImage' must be a URI"};
      return nullptr;
    }
    if (!image.get<std::string> ().empty ()
        && !filter->image_path (image.get<std::string> (), background, error))
      return nullptr;
    /* Opaque frames, so the keyed area shows the background (or black). */
    GstElement *bin = parse (
        "videoconvert ! video/x-raw,format=BGRx ! chromakey name=filter", why);
    if (!bin) {
      error = {NOT_AVAILABLE, "ChromaFilter cannot be built: " + why};
      return nullptr;
    }
    filter->build (KIND_VIDEO, bin);
    GstElement *chroma = filter->element ();
    if (!background.empty ())
      g_object_set (chroma, "background", background.c_str (), nullptr);
    GstPad *sink = gst_element_get_static_pad (chroma, "sink");
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        calibrate_on_caps, new Window (win),
        [] (gpointer data) { delete static_cast<Window *> (data); });
    gst_object_unref (sink);
    return filter;
  }
  error = {NOT_AVAILABLE, "Factory '" + type + "' not found"};
  return nullptr;
}

Filter::Filter (Session &session, std::string type,
    std::shared_ptr<MediaPipeline> pipeline, std::string module)
    : MediaElement (
        session, std::move (type), std::move (pipeline), std::move (module))
{}

std::vector<std::string>
Filter::hierarchy () const
{
  if (type () == "PassThrough")
    return MediaElement::hierarchy ();
  return {"kurento.Filter", "kurento.MediaElement", "kurento.MediaObject"};
}

bool
Filter::accepts_event (const std::string &event) const
{
  return (type () == "ZBarFilter" && event == "CodeFound")
         || MediaElement::accepts_event (event);
}

void
Filter::build (MediaKind filtered, GstElement *bin)
{
  for (int k = 0; k < N_KINDS; k++) {
    MediaKind kind = (MediaKind)k;
    make_input (kind);
    make_output (kind);
    if (kind == filtered && bin) {
      bin_ = add (bin);
      gst_object_unref (bin); /* the pipeline holds it now */
      gst_element_link_many (inputs_[k], bin_, outputs_[k], nullptr);
      gst_element_sync_state_with_parent (bin_);
    } else {
      gst_element_link (inputs_[k], outputs_[k]);
    }
    gst_element_sync_state_with_parent (outputs_[k]);
    gst_element_sync_state_with_parent (inputs_[k]);
    /* The tees drop what nobody takes yet: open from the start. */
    open_input (kind);
  }
}

GstElement *
Filter::element () const
{
  if (!bin_)
    return nullptr;
  GstElement *e = gst_bin_get_by_name (GST_BIN (bin_), "filter");
  if (e)
    gst_object_unref (e); /* the bin keeps it */
  return e;
}

void
Filter::code_found (const GstStructure *message)
{
  const char *value = gst_structure_get_string (message, "symbol");
  const char *code_type = gst_structure_get_string (message, "type");
  if (!value)
    return;
  emit ("CodeFound",
      {{"codeType", code_type ? code_type : "QR-Code"}, {"value", value}});
}

bool
Filter::image_path (const std::string &uri, std::string &path, Error &error)
{
  const char *scheme = g_uri_peek_scheme (uri.c_str ());
  std::string why;
  if (!scheme || strcmp (scheme, "file") != 0) {
    error = {ILLEGAL_PARAM,
        "Cannot use image '" + uri
            + "': only file: URIs inside player-folders (see docs/kurento.md)"};
    return false;
  }
  if (!PlayerEndpoint::uri_allowed (session_.spec (), uri, why)) {
    error = {why == "no such file" ? URI_PATH_FILE_NOT_FOUND : ILLEGAL_PARAM,
        "Cannot use image '" + uri + "': " + why};
    return false;
  }
  gchar *file = g_filename_from_uri (uri.c_str (), nullptr, nullptr);
  path = file ? file : "";
  g_free (file);
  return !path.empty ();
}

Reply
Filter::set_image (
    const json &params, const char *uri_param, const char *property)
{
  json uri = params.is_object () ? params.value (uri_param, json ()) : json ();
  if (!uri.is_string ())
    return Reply::fail (
        ILLEGAL_PARAM, std::string ("'") + uri_param + "' must be a URI");
  std::string path;
  Error error;
  if (!image_path (uri.get<std::string> (), path, error))
    return Reply::fail (error.code, error.message);
  g_object_set (element (), property, path.c_str (), nullptr);
  return Reply::ok ();
}

Reply
Filter::set_element_property (const json &params)
{
  json name =
      params.is_object () ? params.value ("propertyName", json ()) : json ();
  json value =
      params.is_object () ? params.value ("propertyValue", json ()) : json ();
  if (!name.is_string () || !value.is_string ())
    return Reply::fail (
        ILLEGAL_PARAM, "'propertyName' and 'propertyValue' must be strings");
  std::string property = name.get<std::string> ();
  /* The first element of the command, from its input on, that has it. */
  GstElement *target = nullptr;
  GstIterator *it = gst_bin_iterate_sorted (GST_BIN (bin_));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    auto *e = GST_ELEMENT (g_value_get_object (&item));
    if (strcmp (GST_OBJECT_NAME (e), CONVERT_NAME) != 0
        && g_object_class_find_property (
            G_OBJECT_GET_CLASS (e), property.c_str ()))
      target = e; /* sorted from the output: the last one wins */
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  if (!target)
    return Reply::fail (ILLEGAL_PARAM,
        "No element of the filter has a property '" + property + "'");
  GParamSpec *spec = g_object_class_find_property (
      G_OBJECT_GET_CLASS (target), property.c_str ());
  if (!(spec->flags & G_PARAM_WRITABLE))
    return Reply::fail (ILLEGAL_PARAM, "'" + property + "' is read-only");
  gst_util_set_object_arg (
      G_OBJECT (target), property.c_str (), value.get<std::string> ().c_str ());
  return Reply::ok ();
}

void
Filter::invoke (const std::string &op, const json &params, Done done)
{
  if (type () == "GStreamerFilter" && op == "setElementProperty")
    return done (set_element_property (params));
  if (type () == "GStreamerFilter" && op == "setCommand") /* read-only */
    return done (Reply::fail (OBJECT_METHOD_NOT_FOUND,
        "Method 'setCommand' not found in GStreamerFilter"));
  if (type () == "FaceOverlayFilter" && op == "setOverlayedImage") {
    double x, y, w, h;
    if (!number_arg (params, "offsetXPercent", x)
        || !number_arg (params, "offsetYPercent", y)
        || !number_arg (params, "widthPercent", w)
        || !number_arg (params, "heightPercent", h) || w <= 0 || h <= 0
        || w > 100 || h > 100 || std::abs (x) > 100 || std::abs (y) > 100)
      return done (Reply::fail (ILLEGAL_PARAM,
          "'offsetXPercent', 'offsetYPercent', 'widthPercent' and "
          "'heightPercent' must be numbers from -100 to 100, the sizes "
          "positive"));
    /* Kurento's "percents" are fractions of the face, as ours are. */
    Reply reply = set_image (params, "uri", "image");
    if (!reply.error)
      g_object_set (element (), "offset-x", x, "offset-y", y, "width", w,
          "height", h, nullptr);
    return done (reply);
  }
  if (type () == "FaceOverlayFilter" && op == "unsetOverlayedImage") {
    g_object_set (element (), "image", nullptr, nullptr);
    return done (Reply::ok ());
  }
  if (type () == "ChromaFilter" && op == "setBackground")
    return done (set_image (params, "uri", "background"));
  if (type () == "ChromaFilter" && op == "unsetBackground") {
    g_object_set (element (), "background", nullptr, nullptr);
    return done (Reply::ok ());
  }
  MediaElement::invoke (op, params, std::move (done));
}

void
Filter::release ()
{
  if (GstElement *e = element ())
    pipeline ().unwatch (e);
  MediaElement::release ();
}

} // namespace kurento
