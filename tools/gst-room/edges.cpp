/* gst-room: push targets for the program (rtmp://, srt://). */
#include "edges.h"

#include <atomic>

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (edges_debug);
#define GST_CAT_DEFAULT edges_debug

namespace {

/* The H.264 program comes as RTP (payloaded once for H.264 viewers):
 * depayloaded, never re-encoded.  The program's Opus becomes AAC, which
 * FLV and every RTMP player take. */
const char *const AAC_FROM_OPUS =
    "rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample "
    "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 "
    "! aacparse";

/* Bytes handed to the edge's sink. */
using Counter = std::shared_ptr<std::atomic<guint64>>;

GstPadProbeReturn
count_bytes (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto &bytes = *static_cast<Counter *> (data);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    *bytes += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    *bytes += gst_buffer_list_calculate_size (list);
  }
  return GST_PAD_PROBE_OK;
}

} // namespace

struct Edges::Edge {
  RoomEdgeSpec spec;
  std::unique_ptr<ManagedPipeline> pipeline;
  Counter bytes = std::make_shared<std::atomic<guint64>> (0);
  bool using_h264 = false; /* holds the on-demand H.264 program */
  /* Seen by the last tick: a restart, and the bytes then. */
  guint restarts_seen = 0;
  guint64 bytes_at_start = 0, bytes_at_tick = 0;
  bool flowing = false; /* bytes went out since the tick before */
};

Edges::Edges (Room &room) : room_ (room)
{
  GST_DEBUG_CATEGORY_INIT (
      edges_debug, "gstroom-edges", 0, "gst-room push targets (edges)");
  room_.add_listener (this);
}

Edges::~Edges ()
{
  room_.remove_listener (this);
  if (tick_)
    g_source_remove (tick_);
  for (auto &edge : edges_) {
    if (edge->using_h264)
      room_.release_on_demand (edge->spec.program_h264);
  }
  edges_.clear ();
}

std::string
Edges::describe_pipeline (const RoomEdgeSpec &spec) const
{
  bool rtmp = spec.kind == RoomEdgeSpec::Kind::RTMP;
  std::string video_pad = rtmp ? "mux.video" : "mux.";
  std::string audio_pad = rtmp ? "mux.audio" : "mux.";
  /* The sinks neither preroll nor wait on the clock: what the hubs give
   * goes out at once; their URL is set as a property, never parsed. */
  std::string mux_and_sink =
      rtmp ? "flvmux name=mux streamable=true latency=100000000 "
             "! rtmp2sink name=sink async-connect=true sync=false async=false"
           : "mpegtsmux name=mux alignment=7 latency=100000000 "
             "! srtsink name=sink auto-reconnect=false sync=false async=false";
  return "hubport name=vport hub=" + spec.program_h264
         + " vport.src ! queue ! rtph264depay request-keyframe=true "
           "wait-for-keyframe=true ! h264parse config-interval=-1 ! queue ! "
         + video_pad + " hubport name=aport hub=" + spec.program
         + " aport.audio_src ! queue ! " + AAC_FROM_OPUS + " ! queue ! "
         + audio_pad + " " + mux_and_sink;
}

bool
Edges::build (std::string &error)
{
  const RoomSpec &room_spec = room_.spec ();
  for (const RoomEdgeSpec &spec : room_spec.edges) {
    for (const std::string &hub : {spec.program, spec.program_h264}) {
      GstElement *e = room_.find_element (hub);
      if (!e) {
        error = room_spec.where (spec.line) + ": [edge " + spec.name
                + "]: no hub named '" + hub
                + "' (the encoded program's dispatchers: set program= and "
                  "program-h264=)";
        return false;
      }
      gst_object_unref (e);
    }
    std::string description = describe_pipeline (spec);
    GstElement *bin = room_parse_branch (description.c_str (), error);
    if (!bin) {
      error =
          room_spec.where (spec.line) + ": [edge " + spec.name + "]: " + error;
      return false;
    }
    auto edge = std::make_unique<Edge> ();
    edge->spec = spec;
    std::string name = "edge-" + spec.name;
    GstElement *pipeline = gst_pipeline_new (name.c_str ());
    gst_bin_add (GST_BIN (pipeline), bin);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    g_object_set (sink,
        spec.kind == RoomEdgeSpec::Kind::RTMP ? "location" : "uri",
        spec.url.c_str (), nullptr);
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad,
        (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                          | GST_PAD_PROBE_TYPE_BUFFER_LIST),
        count_bytes, new Counter (edge->bytes),
        [] (gpointer data) { delete static_cast<Counter *> (data); });
    gst_object_unref (pad);
    gst_object_unref (sink);
    /* Generic lifecycle: started with the room, restarted on error. */
    edge->pipeline = std::make_unique<ManagedPipeline> (name, pipeline,
        room_.clock (), PipelineStart::ALWAYS, PipelineRestart::ON_ERROR);
    Edge *raw = edge.get ();
    edge->pipeline->on_error = [this, raw] (const std::string &why) {
      g_printerr ("gst-room: edge '%s' (%s): %s\n", raw->spec.name.c_str (),
          raw->spec.url.c_str (), why.c_str ());
      notify ();
    };
    edge->pipeline->on_dump = [this, raw] (const std::string &event) {
      room_.dump_dot (
          raw->pipeline->pipeline (), raw->pipeline->name () + "-" + event);
    };
    edges_.push_back (std::move (edge));
  }
  return true;
}

void
Edges::room_started ()
{
  for (auto &edge : edges_) {
    std::string error;
    /* The H.264 program runs while an edge needs it, like it does for an
     * H.264 viewer: one encoder for all of them. */
    if (!room_.use_on_demand (edge->spec.program_h264, error)) {
      g_printerr ("gst-room: edge '%s': no H.264 program: %s\n",
          edge->spec.name.c_str (), error.c_str ());
      continue;
    }
    edge->using_h264 = true;
    g_print ("gst-room: edge '%s': pushing the program to %s\n",
        edge->spec.name.c_str (), edge->spec.url.c_str ());
    if (!edge->pipeline->start_or_retry (error))
      g_printerr ("gst-room: edge '%s': %s\n", edge->spec.name.c_str (),
          error.c_str ());
  }
  if (!edges_.empty ())
    tick_ = g_timeout_add_seconds (1, on_tick, this);
}

gboolean
Edges::on_tick (gpointer data)
{
  auto *self = static_cast<Edges *> (data);
  for (auto &edge : self->edges_) {
    guint64 bytes = edge->bytes->load ();
    if (edge->pipeline->restarts () != edge->restarts_seen) {
      edge->restarts_seen = edge->pipeline->restarts ();
      edge->bytes_at_start = edge->bytes_at_tick;
    }
    edge->flowing = bytes > edge->bytes_at_tick;
    edge->bytes_at_tick = bytes;
    if (edge->pipeline->state () == ManagedPipeline::State::RESTARTING)
      edge->bytes_at_start = bytes;
  }
  self->notify ();
  return G_SOURCE_CONTINUE;
}

json
Edges::list () const
{
  json items = json::array ();
  gint64 now = g_get_monotonic_time ();
  for (const auto &edge : edges_) {
    const ManagedPipeline &mp = *edge->pipeline;
    std::string state;
    json item = {{"name", edge->spec.name}, {"url", edge->spec.url},
        {"kind", edge->spec.kind == RoomEdgeSpec::Kind::RTMP ? "rtmp" : "srt"},
        {"bytes", edge->bytes->load ()}, {"restarts", mp.restarts ()}};
    switch (mp.state ()) {
      case ManagedPipeline::State::RUNNING:
      case ManagedPipeline::State::FINISHING:
        /* Live once the sink took more than the connection's first
         * bytes and keeps taking them. */
        state = edge->flowing && edge->bytes_at_tick > edge->bytes_at_start
                    ? "live"
                    : "connecting";
        break;
      case ManagedPipeline::State::RESTARTING: {
        state = "retrying";
        gint64 at = mp.restart_at ();
        item["retryIn"] =
            at > now ? (double)((at - now + 999999) / 1000000) : 0.0;
        break;
      }
      case ManagedPipeline::State::STOPPED:
      case ManagedPipeline::State::FAILED:
        state = "stopped";
        break;
    }
    item["state"] = state;
    if (!mp.last_error ().empty ())
      item["error"] = mp.last_error ();
    items.push_back (item);
  }
  return {{"type", "edges"}, {"edges", items}};
}

void
Edges::notify ()
{
  if (to_control)
    to_control (list ());
}

void
Edges::stop_pipelines ()
{
  if (tick_) {
    g_source_remove (tick_);
    tick_ = 0;
  }
  for (auto &edge : edges_)
    edge->pipeline->stop ();
}
