/* gst-room, Kurento control API: MediaPipeline and MediaElement. */
#include "pipeline.h"

#include "../room.h"

#include <algorithm>

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

const char *
kind_name (MediaKind kind)
{
  return kind == KIND_AUDIO ? "AUDIO" : "VIDEO";
}

/* ---- MediaPipeline --------------------------------------------------- */

bool MediaPipeline::release_in_background = true;

MediaPipeline::MediaPipeline (Session &session)
    : MediaObject (session, "MediaPipeline", "")
{
  properties_["latencyStats"] = false;
  /* "kurento-" marks it for the loop warning filter of main.cpp: an
   * endpoint connected to itself is a loop in the graph by design. */
  std::string name = "kurento-" + id ().substr (0, 8);
  pipeline_ = gst_pipeline_new (name.c_str ());
  gst_object_ref_sink (pipeline_);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
  bus_watch_ = gst_bus_add_watch (bus, on_bus_message, this);
  gst_object_unref (bus);
  gst_element_set_state (pipeline_, GST_STATE_PLAYING);
}

MediaPipeline::~MediaPipeline ()
{
  release ();
  gst_object_unref (pipeline_);
}

void
MediaPipeline::release ()
{
  if (closing_)
    return;
  closing_ = true;
  if (bus_watch_)
    g_source_remove (bus_watch_);
  bus_watch_ = 0;
  /* To NULL on a thread of its own: the main loop goes on serving every
   * client while this pipeline's streaming threads wind down (a pipeline of
   * players, filters and browsers can take a while, and must never hold up
   * another session's answers). */
  if (release_in_background) {
    GThread *thread = g_thread_try_new (
        "kurento-release",
        [] (gpointer data) -> gpointer {
          gst_element_set_state (GST_ELEMENT (data), GST_STATE_NULL);
          gst_object_unref (data);
          return nullptr;
        },
        gst_object_ref (pipeline_), nullptr);
    if (thread) {
      g_thread_unref (thread);
      return;
    }
    gst_object_unref (pipeline_); /* the thread's, never started */
  }
  gst_element_set_state (pipeline_, GST_STATE_NULL);
}

gboolean
MediaPipeline::on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto *self = static_cast<MediaPipeline *> (data);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    std::string report = room_report_error (msg);
    g_printerr ("gst-room: kurento pipeline %s: %s\n", self->id ().c_str (),
        report.c_str ());
    self->emit ("Error", {{"description", report}, {"errorCode", 1},
                             {"type", "UNEXPECTED_PIPELINE_ERROR"}});
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
    auto it = self->watched_.find (GST_ELEMENT (GST_MESSAGE_SRC (msg)));
    if (it != self->watched_.end () && gst_message_get_structure (msg)) {
      /* A copy: the handler may unwatch. */
      ElementMessageHandler handler = it->second;
      handler (gst_message_get_structure (msg));
    }
  }
  return G_SOURCE_CONTINUE;
}

void
MediaPipeline::watch (GstElement *element, ElementMessageHandler handler)
{
  watched_[element] = std::move (handler);
}

void
MediaPipeline::unwatch (GstElement *element)
{
  watched_.erase (element);
}

void
MediaPipeline::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "getGstreamerDot") {
    gchar *dot = gst_debug_bin_to_dot_data (
        GST_BIN (pipeline_), GST_DEBUG_GRAPH_SHOW_ALL);
    std::string text = dot;
    g_free (dot);
    return done (Reply::with (text));
  }
  MediaObject::invoke (op, params, std::move (done));
}

/* ---- MediaElement ---------------------------------------------------- */

MediaElement::MediaElement (Session &session, std::string type,
    std::shared_ptr<MediaPipeline> pipeline, std::string module,
    const std::string &parent_id)
    : MediaObject (session, std::move (type),
        parent_id.empty () ? pipeline->id () : parent_id, std::move (module)),
      pipeline_ (std::move (pipeline))
{
  properties_["encoderBitrate"] = 300000;
  properties_["minEncoderBitrate"] = 0;
  properties_["maxEncoderBitrate"] = 0;
}

bool
MediaElement::accepts_event (const std::string &event) const
{
  static const char *const events[] = {"ElementConnected",
      "ElementDisconnected", "MediaFlowInStateChanged",
      "MediaFlowOutStateChanged", "MediaTranscodingStateChanged"};
  for (const char *e : events)
    if (event == e)
      return true;
  return MediaObject::accepts_event (event);
}

GstElement *
MediaElement::add (GstElement *element)
{
  gst_bin_add (GST_BIN (pipeline_->pipeline ()), element);
  elements_.push_back (element);
  return element;
}

void
MediaElement::remove (GstElement *element)
{
  auto it = std::find (elements_.begin (), elements_.end (), element);
  if (it == elements_.end ())
    return;
  elements_.erase (it);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (pipeline_->pipeline ()), element);
}

GstElement *
MediaElement::add_bin (const std::string &description, std::string &error)
{
  GError *err = nullptr;
  GstElement *bin =
      gst_parse_bin_from_description (description.c_str (), TRUE, &err);
  if (!bin) {
    error = description + ": " + (err ? err->message : "cannot parse");
    g_clear_error (&err);
    return nullptr;
  }
  return add (bin);
}

void
MediaElement::make_output (MediaKind kind)
{
  GstElement *tee = gst_element_factory_make ("tee", nullptr);
  g_object_set (tee, "allow-not-linked", TRUE, nullptr);
  outputs_[kind] = add (tee);
}

void
MediaElement::make_input (MediaKind kind)
{
  /* Closed until the element has somewhere to send what comes in. */
  GstElement *valve = gst_element_factory_make ("valve", nullptr);
  g_object_set (valve, "drop", TRUE, nullptr);
  inputs_[kind] = add (valve);
  joins_[kind] = add (gst_element_factory_make ("funnel", nullptr));
  gst_element_link (joins_[kind], valve);
  gst_element_sync_state_with_parent (joins_[kind]);
}

void
MediaElement::open_input (MediaKind kind)
{
  if (inputs_[kind])
    g_object_set (inputs_[kind], "drop", FALSE, nullptr);
}

bool
MediaElement::kinds_of (const json &params, bool kinds[N_KINDS])
{
  json type =
      params.is_object () ? params.value ("mediaType", json ()) : json ();
  if (type.is_null ()) {
    kinds[KIND_AUDIO] = kinds[KIND_VIDEO] = true;
    return true;
  }
  kinds[KIND_AUDIO] = type == "AUDIO";
  kinds[KIND_VIDEO] = type == "VIDEO";
  /* DATA is accepted and carries nothing here. */
  return kinds[KIND_AUDIO] || kinds[KIND_VIDEO] || type == "DATA";
}

bool
MediaElement::makes_loop (const MediaElement &sink, MediaKind kind) const
{
  /* The inputs media entering @sink reaches, breadth first. */
  std::vector<const MediaElement *> reached{&sink};
  for (gsize i = 0; i < reached.size (); i++) {
    for (const MediaElement *outlet : reached[i]->outlets ()) {
      if (outlet == this)
        return true;
      for (const Link &l : outlet->links_) {
        auto next = l.sink.lock ();
        if (l.kind == kind && next
            && std::find (reached.begin (), reached.end (), next.get ())
                   == reached.end ())
          reached.push_back (next.get ());
      }
    }
  }
  return false;
}

Reply
MediaElement::connect (const json &params)
{
  auto sink = std::dynamic_pointer_cast<MediaElement> (session_.lookup (
      params.is_object () ? params.value ("sink", json ()) : json ()));
  if (!sink)
    return Reply::fail (ILLEGAL_PARAM, "'sink' must be a MediaElement");
  if (&sink->pipeline () != pipeline_.get ())
    return Reply::fail (
        CONNECT_ERROR, "cannot connect elements of different pipelines");
  bool kinds[N_KINDS];
  if (!kinds_of (params, kinds))
    return Reply::fail (
        ILLEGAL_PARAM, "'mediaType' must be AUDIO, VIDEO or DATA");
  auto self = std::static_pointer_cast<MediaElement> (shared_from_this ());
  for (int k = 0; k < N_KINDS; k++) {
    MediaKind kind = (MediaKind)k;
    if (!kinds[k] || !outputs_[k] || !sink->joins_[k])
      continue;
    if (makes_loop (*sink, kind))
      return Reply::fail (CONNECT_ERROR,
          "Connecting " + id () + " to " + sink->id () + " (" + kind_name (kind)
              + ") would send its media round a loop back into it");
    /* One source per input: a new one replaces the old (Kurento's rule). */
    if (auto old = sink->sources_[k].lock ()) {
      if (old == self)
        continue;
      auto &links = old->links_;
      for (auto it = links.begin (); it != links.end (); ++it) {
        if (it->sink_id == sink->id () && it->kind == kind) {
          Link link = *it;
          links.erase (it);
          old->unlink (link);
          break;
        }
      }
    }
    GstElement *queue = gst_element_factory_make ("queue", nullptr);
    /* Raw media: never hold a live source back for a slow sink. */
    g_object_set (queue, "leaky", 2, "max-size-buffers", 5, "max-size-bytes", 0,
        "max-size-time", (guint64)0, nullptr);
    gst_bin_add (GST_BIN (pipeline_->pipeline ()), queue);
    /* Playing and linked downstream before the tee sees it: a tee pushing
     * into a pad that is not active yet gets FLUSHING, and hands it up to
     * the source, whose streaming thread then stops for good. */
    gst_element_sync_state_with_parent (queue);
    GstPad *join_pad =
        gst_element_request_pad_simple (sink->joins_[k], "sink_%u");
    GstPad *queue_src = gst_element_get_static_pad (queue, "src");
    gst_pad_link (queue_src, join_pad);
    gst_object_unref (queue_src);
    GstPad *tee_pad = gst_element_request_pad_simple (outputs_[k], "src_%u");
    GstPad *queue_sink = gst_element_get_static_pad (queue, "sink");
    gst_pad_link (tee_pad, queue_sink);
    gst_object_unref (queue_sink);
    links_.push_back ({sink, sink->id (), kind, tee_pad, queue, join_pad});
    sink->sources_[k] = self;
    GST_INFO (
        "%s → %s (%s)", id ().c_str (), sink->id ().c_str (), kind_name (kind));
    emit ("ElementConnected",
        {{"sink", sink->id ()}, {"mediaType", kind_name (kind)},
            {"sourceMediaDescription", "default"},
            {"sinkMediaDescription", "default"}});
  }
  return Reply::ok ();
}

Reply
MediaElement::disconnect (const json &params)
{
  auto sink = session_.lookup (
      params.is_object () ? params.value ("sink", json ()) : json ());
  if (!sink)
    return Reply::fail (ILLEGAL_PARAM, "'sink' must be a MediaElement");
  bool kinds[N_KINDS];
  if (!kinds_of (params, kinds))
    return Reply::fail (
        ILLEGAL_PARAM, "'mediaType' must be AUDIO, VIDEO or DATA");
  for (auto it = links_.begin (); it != links_.end ();) {
    if (it->sink_id == sink->id () && kinds[it->kind]) {
      Link link = *it;
      it = links_.erase (it);
      unlink (link);
    } else {
      ++it;
    }
  }
  return Reply::ok ();
}

void
MediaElement::unlink (Link link)
{
  if (auto sink = link.sink.lock ()) {
    if (sink->sources_[link.kind].lock ().get () == this)
      sink->sources_[link.kind].reset ();
  }
  emit ("ElementDisconnected",
      {{"sink", link.sink_id}, {"mediaType", kind_name (link.kind)},
          {"sourceMediaDescription", "default"},
          {"sinkMediaDescription", "default"}});
  if (pipeline_->closing ()) {
    gst_object_unref (link.tee_pad);
    gst_object_unref (link.join_pad);
    return;
  }
  /* Unlinked when no buffer is passing; taken apart on the main thread. */
  struct Unlink {
    GstElement *tee, *queue, *pipeline, *funnel;
    GstPad *tee_pad, *join_pad;
  };
  auto *u = new Unlink{
      GST_ELEMENT (gst_object_get_parent (GST_OBJECT (link.tee_pad))),
      link.queue, GST_ELEMENT (gst_object_ref (pipeline_->pipeline ())),
      GST_ELEMENT (gst_object_get_parent (GST_OBJECT (link.join_pad))),
      link.tee_pad, link.join_pad};
  gst_object_ref (u->queue);
  gst_pad_add_probe (
      link.tee_pad, GST_PAD_PROBE_TYPE_IDLE,
      [] (GstPad *pad, GstPadProbeInfo *, gpointer data) {
        auto *un = static_cast<Unlink *> (data);
        GstPad *peer = gst_pad_get_peer (pad);
        if (peer) {
          gst_pad_unlink (pad, peer);
          gst_object_unref (peer);
        }
        run_on_main ([un] () {
          gst_element_release_request_pad (un->tee, un->tee_pad);
          gst_element_set_state (un->queue, GST_STATE_NULL);
          if (GST_OBJECT_PARENT (un->queue) == GST_OBJECT (un->pipeline))
            gst_bin_remove (GST_BIN (un->pipeline), un->queue);
          /* After the queue: its thread no longer pushes into the pad. */
          if (un->funnel)
            gst_element_release_request_pad (un->funnel, un->join_pad);
          gst_object_unref (un->queue);
          gst_object_unref (un->tee_pad);
          gst_object_unref (un->join_pad);
          gst_object_unref (un->tee);
          if (un->funnel)
            gst_object_unref (un->funnel);
          gst_object_unref (un->pipeline);
          delete un;
        });
        return GST_PAD_PROBE_REMOVE;
      },
      u, nullptr);
}

json
MediaElement::connections (bool as_source) const
{
  json out = json::array ();
  auto entry = [] (const std::string &source, const std::string &sink,
                   MediaKind kind) {
    return json{{"__module__", "kurento"},
        {"__type__", "ElementConnectionData"}, {"source", source},
        {"sink", sink}, {"type", kind_name (kind)},
        {"sourceDescription", "default"}, {"sinkDescription", "default"}};
  };
  if (as_source) {
    for (const Link &l : links_)
      out.push_back (entry (id (), l.sink_id, l.kind));
  } else {
    for (int k = 0; k < N_KINDS; k++)
      if (auto source = sources_[k].lock ())
        out.push_back (entry (source->id (), id (), (MediaKind)k));
  }
  return out;
}

void
MediaElement::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "connect")
    return done (connect (params));
  if (op == "disconnect")
    return done (disconnect (params));
  if (op == "getSinkConnections")
    return done (Reply::with (connections (true)));
  if (op == "getSourceConnections")
    return done (Reply::with (connections (false)));
  if (op == "getGstreamerDot" || op == "getStats" || op == "isMediaFlowingIn"
      || op == "isMediaFlowingOut" || op == "isMediaTranscoding") {
    /* The pipeline's graph serves for the element's too. */
    if (op == "getGstreamerDot")
      return pipeline_->invoke (op, params, std::move (done));
    return done (Reply::fail (NOT_IMPLEMENTED,
        "gst-room does not implement " + op + " yet (see docs/kurento.md)"));
  }
  MediaObject::invoke (op, params, std::move (done));
}

void
MediaElement::release ()
{
  for (const Link &l : std::vector<Link> (links_))
    unlink (l);
  links_.clear ();
  /* Whoever feeds us lets go. */
  for (int k = 0; k < N_KINDS; k++) {
    auto source = sources_[k].lock ();
    if (!source)
      continue;
    auto &links = source->links_;
    for (auto it = links.begin (); it != links.end (); ++it) {
      if (it->sink_id == id () && it->kind == k) {
        Link link = *it;
        links.erase (it);
        source->unlink (link);
        break;
      }
    }
  }
  if (pipeline_->closing ())
    return;
  for (GstElement *e : elements_) {
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (pipeline_->pipeline ()), e);
  }
  elements_.clear ();
}

/* ---- UriEndpoint ----------------------------------------------------- */

UriEndpoint::UriEndpoint (Session &session, std::string type,
    std::shared_ptr<MediaPipeline> pipeline, std::string uri)
    : MediaElement (session, std::move (type), std::move (pipeline)),
      uri_ (std::move (uri))
{}

bool
UriEndpoint::accepts_event (const std::string &event) const
{
  return event == "UriEndpointStateChanged"
         || MediaElement::accepts_event (event);
}

void
UriEndpoint::set_state (const char *state)
{
  if (state_ == state)
    return;
  state_ = state;
  emit ("UriEndpointStateChanged", {{"state", state}});
}

void
UriEndpoint::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "getUri")
    return done (Reply::with (uri_));
  if (op == "getState")
    return done (Reply::with (state_));
  MediaElement::invoke (op, params, std::move (done));
}

} // namespace kurento
