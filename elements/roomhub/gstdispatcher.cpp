/* gst-rooms: dispatcher, a switchboard and one-to-many forwarder.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-dispatcher
 * @title: dispatcher
 *
 * Routes whole inputs to outputs without mixing or decoding, so a room can
 * switch and fan out raw or encoded media (VP8, VP9, H.264, Opus, raw video
 * and audio) without transcoding.
 *
 * A *port* is a number: `sink_N` is the video input of port N, `src_N` its
 * video output, `audio_sink_N` / `audio_src_N` the audio of the same port.
 * Requesting a pad by template (`sink_%u`) picks the lowest number not yet used
 * by a pad of that template; explicit names (`sink_7`) work too. The always
 * pads `src` and `audio_src` carry the port chosen by `source`.
 *
 * `source` (one-to-many): every output, and `src`/`audio_src`, carries port
 * `source`'s input. `routes` (switchboard): a comma separated list of
 * `INPUT>OUTPUT` pairs; `"0>1,0>2,3>0"` sends port 0's input to outputs 1 and
 * 2 and port 3's input to output 0. A route for an output overrides `source`
 * for that output; each output appears at most once. A malformed `routes`
 * string posts a warning and leaves the routing (and the property) unchanged;
 * set before the element starts (as in a launch line, where no bus would
 * carry the warning yet), it also makes the change to READY fail with an
 * error that names the value and what is wrong.
 * A route moves a port's audio and video together.
 *
 * Encoded video switches only at a keyframe of the new input: until then the
 * output keeps the old input. On a switch request a force-key-unit event
 * (all-headers) goes upstream to the new input at once and again every
 * `keyframe-retry` ms (measured in the running time of the new input's
 * buffers) until a keyframe passes. Raw video switches at the next frame;
 * audio follows its port's video switch (at once when the port has no video,
 * or while neither output has carried media yet).
 *
 * Each output sends its own stream-start and one TIME segment starting at 0
 * and re-timestamps buffers: the output running time of a buffer is the
 * running time of the buffer on its input plus a per-output offset. The offset
 * is 0 until the first switch; at a switch the first buffer of the new input
 * is placed at the output's current position (end of the last buffer or gap
 * sent), so output timestamps never jump back and never leave a hole. The
 * audio output of a port uses the offset of its video output for the same
 * input, so lip sync survives switches. Buffers whose timestamps do not change
 * are pushed by reference; otherwise one shallow copy (no media copy) is
 * shared by every output with the same offset. New caps (with any
 * `streamheader` field) are sent before the first buffer of a different format.
 *
 * An output with no input (or whose input reached EOS) stays live: it sends
 * GAP events continuing its timeline, paced (every 100 ms) by the running
 * time of one other input.
 *
 * With `keep-running-time`, for inputs on one clock (hubports, live
 * sources), an output's running times are its inputs' own, switches
 * included: a participant who comes back on a new input lands where it
 * came in time, and the time nobody was routed stays as a hole (with GAP
 * events up to the pacing input's running time).  Only an input that would
 * go back in time is moved later, to the output's last buffer.
 * An output that has never carried media sends nothing (its format is
 * unknown). EOS is sent on every output when every input has reached EOS.
 *
 * Outputs never hold each other up: each output is pushed from a thread of
 * its own behind a short queue (raw video 4 buffers, raw audio 16, encoded
 * 30, RTP 500), so a sink waiting to preroll, a full queue or a slow
 * consumer on one output delays neither the input nor the other outputs,
 * and outputs can be linked straight to sinks. When the input is live
 * (latency query) a full output queue drops its oldest buffer: only the
 * blocked output loses media, encoded video then resumes at a keyframe
 * (flagged DISCONT) and one is asked for upstream. When the input is not
 * live (a file) nothing is dropped: the input waits for room, as behind a
 * `queue`, so the slowest output paces a file.
 *
 * Keyframe requests from downstream (force-key-unit events, e.g. a viewer's
 * PLI) go upstream to the output's current input, at most one per
 * `keyframe-min-interval` ms per input (element clock running time, or the
 * input's buffer running time when there is no clock).
 *
 * ## Pad properties
 *
 * * `port` (int, read-only): the port number of the pad, -1 for the always
 *   pads `src` and `audio_src`.
 *
 * ## Messages
 *
 * `dispatcher-switched` (element message), per output, when a switch actually
 * happened (at the first buffer of the new input on that output, or at once
 * when an output loses its input):
 *
 * * `output` (int): the output's port, -1 for `src` / `audio_src`.
 * * `pad` (string): the output pad's name.
 * * `input` (int): the port now feeding the output, -1 for none.
 * * `previous` (int): the port that fed it before, -1 for none.
 * * `running-time` (guint64): running time (on its input) of the first buffer
 *   of the new input sent on the output; GST_CLOCK_TIME_NONE when unrouted.
 * * `latency` (guint64): how long after the request the switch happened,
 *   in running time of the new input: from its latest buffer when the request
 *   was made (property change, pad added) to the buffer that switched; 0 when
 *   the input had sent nothing before the request, or for an unrouting.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m dispatcher name=d source=1 ! vp8dec ! fakesink \
 *   videotestsrc num-buffers=90 ! video/x-raw,width=320,height=240 \
 *     ! vp8enc deadline=1 ! d.sink_0 \
 *   videotestsrc num-buffers=90 pattern=ball ! \
 *     video/x-raw,width=320,height=240 ! vp8enc deadline=1 ! d.sink_1
 * ]| Forwards port 1 (the ball) without decoding it; an application switches
 * by setting `source` or `routes` while playing. Unlike `tee`, outputs need
 * no `queue`, each being pushed from a thread of its own:
 * |[
 * gst-launch-1.0 dispatcher name=d source=0 routes="1>2" \
 *   d.src_0 ! fakesink d.src_1 ! fakesink d.src_2 ! fakesink \
 *   videotestsrc num-buffers=30 ! d.sink_0 \
 *   videotestsrc num-buffers=30 pattern=ball ! d.sink_1
 * ]| Outputs 0 and 1 carry port 0, output 2 carries port 1.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdispatcher.h"

#include "hubregistry.h"
#include "outputpusher.h"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_dispatcher_debug);
#define GST_CAT_DEFAULT gst_dispatcher_debug

/* Lock order: the state lock (priv->lock) and an output's stream lock
 * (Output::stream) are never held together: routing decisions are taken under
 * the state lock, handing data to an output happens under the output's stream
 * lock only, so a blocked output never blocks a property change.  The output
 * thread's own lock (inside OutputPusher) comes last; nothing is pushed
 * downstream under any of these: the output's thread pushes with no lock of
 * ours held. */

#define DEFAULT_SOURCE (-1)
#define DEFAULT_ROUTES ""
#define DEFAULT_KEYFRAME_RETRY 500
#define DEFAULT_KEYFRAME_MIN_INTERVAL 1000
#define DEFAULT_KEEP_RUNNING_TIME FALSE
#define DEFAULT_PORT (-1)

/* How often unrouted outputs get a GAP event, in running time. */
#define GAP_INTERVAL (100 * GST_MSECOND)

enum {
  PROP_0,
  PROP_SOURCE,
  PROP_ROUTES,
  PROP_KEYFRAME_RETRY,
  PROP_KEYFRAME_MIN_INTERVAL,
  PROP_KEEP_RUNNING_TIME,
};

enum {
  PROP_PAD_0,
  PROP_PAD_PORT,
};

namespace {

struct Input;

struct Output {
  GstPad *pad = nullptr; /* owned reference, constant */
  int port = -1;         /* constant; -1 for the always pads */
  bool audio = false;    /* constant */

  /* Written under the state lock, read anywhere. */
  std::atomic<Input *> current{nullptr};
  std::atomic<bool> idle{false}; /* current input reached EOS */
  /* Has sent a buffer since the start or the last flush (written under the
   * stream lock). */
  std::atomic<bool> carried{false};

  /* Under the state lock. */
  Input *pending = nullptr;
  GstClockTime request_rt = GST_CLOCK_TIME_NONE;
  Output *partner = nullptr; /* the video output of an audio output */

  /* Offset of the last switch, readable by the audio partner without locks. */
  std::atomic<gint64> shared_offset{0};
  std::atomic<int> shared_offset_port{-2};

  /* Under the stream lock (held while handing data to the pusher). */
  std::mutex stream;
  bool sent_stream_start = false;
  bool sent_segment = false;
  GstCaps *caps = nullptr;
  guint64 last_serial = 0; /* Input::serial of the last buffer, 0 = none */
  GstClockTimeDiff offset = 0;
  GstClockTime position = GST_CLOCK_TIME_NONE; /* end of last data, out rt */
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;

  /* The output's own streaming thread: everything sent downstream on pad
   * goes through it (constant after creation). */
  std::unique_ptr<OutputPusher> pusher;

  ~Output ()
  {
    pusher.reset ();
    gst_clear_caps (&caps);
    gst_clear_object (&pad);
  }
};

using OutputList = std::vector<std::shared_ptr<Output>>;
using OutputListPtr = std::shared_ptr<const OutputList>;

struct Input {
  GstPad *pad = nullptr; /* borrowed: the pad owns this struct */
  int port = -1;
  bool audio = false;
  guint64 serial = 0;

  /* Streaming thread only (written by serialized events, read in chain). */
  GstSegment segment;
  GstCaps *caps = nullptr;
  std::atomic<bool> encoded{false}; /* video with delta units */
  std::atomic<bool> eos{false};
  /* Upstream is live (asked once per stream): outputs then drop their
   * oldest buffers when full instead of holding this input back. */
  std::atomic<int> live{-1}; /* -1 not asked yet */

  /* Under the state lock. */
  OutputListPtr fed = std::make_shared<OutputList> ();
  OutputListPtr flushed; /* got a flush-start, wait for the flush-stop */
  std::vector<Output *> waiting; /* outputs switching to this input */
  /* Set (under the state lock) whenever fed or waiting change; the
   * streaming thread then takes the lock and refreshes local_fed.  In the
   * steady state a buffer takes no element lock at all. */
  std::atomic<bool> attention{true};
  GstClockTime switch_fku_rt = GST_CLOCK_TIME_NONE;
  GstClockTime viewer_fku_rt = GST_CLOCK_TIME_NONE;
  GstClockTime next_gap_rt = GST_CLOCK_TIME_NONE; /* streaming thread */
  guint fku_count = 0;

  /* Written by the streaming thread, read anywhere. */
  std::atomic<GstClockTime> last_rt{GST_CLOCK_TIME_NONE};

  /* Streaming thread only. */
  OutputListPtr local_fed = std::make_shared<OutputList> ();

  Input () { gst_segment_init (&segment, GST_FORMAT_TIME); }
  ~Input () { gst_clear_caps (&caps); }
};

struct SwitchMessage {
  int output;
  std::string pad;
  int input;
  int previous;
  GstClockTime running_time;
  GstClockTime latency;
};

} // namespace

struct DispatcherPrivate {
  std::mutex lock; /* the state lock */

  /* Under the state lock. */
  int source = DEFAULT_SOURCE;
  std::string routes_string = DEFAULT_ROUTES;
  std::map<int, int> routes; /* output port -> input port */
  /* Why the last routes set before the element ran did not parse; empty
   * when it did (or when it was set while running). */
  std::string routes_error;
  guint keyframe_retry = DEFAULT_KEYFRAME_RETRY;
  guint keyframe_min_interval = DEFAULT_KEYFRAME_MIN_INTERVAL;
  /* Read per switch and per gap tick, without the state lock. */
  std::atomic<bool> keep_running_time{DEFAULT_KEEP_RUNNING_TIME};
  std::vector<std::shared_ptr<Output>> outputs;
  std::vector<Input *> inputs;
  OutputListPtr all_outputs = std::make_shared<OutputList> ();
  guint64 next_serial = 1;
  /* The input whose buffers pace GAP events (atomic: read per buffer). */
  std::atomic<Input *> gap_driver{nullptr};
  bool outputs_running = false; /* state lock: between PAUSED and READY */
};

struct _GstDispatcherPad {
  GstPad parent;
  int port;
  /* Constant after creation.  An output's state is owned by the element's
   * list (and by streaming threads' snapshots) and holds the pad; an input's
   * state is owned by its pad. */
  Output *output;
  Input *input;
};

struct _GstDispatcher {
  GstElement parent;
  DispatcherPrivate *priv;
};

G_DEFINE_TYPE (GstDispatcherPad, gst_dispatcher_pad, GST_TYPE_PAD);

static void
gst_dispatcher_pad_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstDispatcherPad *pad = GST_DISPATCHER_PAD (object);
  switch (prop_id) {
    case PROP_PAD_PORT:
      g_value_set_int (value, pad->port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_dispatcher_pad_finalize (GObject *object)
{
  GstDispatcherPad *pad = GST_DISPATCHER_PAD (object);
  delete pad->input;
  G_OBJECT_CLASS (gst_dispatcher_pad_parent_class)->finalize (object);
}

static void
gst_dispatcher_pad_class_init (GstDispatcherPadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->get_property = gst_dispatcher_pad_get_property;
  gobject_class->finalize = gst_dispatcher_pad_finalize;
  g_object_class_install_property (gobject_class, PROP_PAD_PORT,
      g_param_spec_int ("port", "Port",
          "Port number of this pad (-1 for the always pads src and audio_src)",
          -1, G_MAXINT, DEFAULT_PORT,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
}

static void
gst_dispatcher_pad_init (GstDispatcherPad *pad)
{
  pad->port = DEFAULT_PORT;
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_request_template = GST_STATIC_PAD_TEMPLATE (
    "src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate audio_sink_template = GST_STATIC_PAD_TEMPLATE (
    "audio_sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate audio_src_request_template =
    GST_STATIC_PAD_TEMPLATE (
        "audio_src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate audio_src_template = GST_STATIC_PAD_TEMPLATE (
    "audio_src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_dispatcher_parent_class parent_class
G_DEFINE_TYPE (GstDispatcher, gst_dispatcher, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (
    dispatcher, "dispatcher", GST_RANK_NONE, GST_TYPE_DISPATCHER);

static void gst_dispatcher_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_dispatcher_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static void gst_dispatcher_dispose (GObject *object);
static void gst_dispatcher_finalize (GObject *object);
static GstPad *gst_dispatcher_request_new_pad (GstElement *element,
    GstPadTemplate *templ, const gchar *name, const GstCaps *caps);
static void gst_dispatcher_release_pad (GstElement *element, GstPad *pad);
static GstStateChangeReturn gst_dispatcher_change_state (
    GstElement *element, GstStateChange transition);

static GstFlowReturn gst_dispatcher_sink_chain_list (
    GstPad *pad, GstObject *parent, GstBufferList *list);
static GstFlowReturn gst_dispatcher_sink_chain (
    GstPad *pad, GstObject *parent, GstBuffer *buffer);
static gboolean gst_dispatcher_sink_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_dispatcher_sink_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_dispatcher_src_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_dispatcher_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query);

static void
gst_dispatcher_class_init (GstDispatcherClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_dispatcher_set_property;
  gobject_class->get_property = gst_dispatcher_get_property;
  gobject_class->dispose = gst_dispatcher_dispose;
  gobject_class->finalize = gst_dispatcher_finalize;

  const GParamFlags live_flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                    | GST_PARAM_MUTABLE_PLAYING);

  g_object_class_install_property (gobject_class, PROP_SOURCE,
      g_param_spec_int ("source", "Source",
          "Port whose input goes to every output without a route "
          "(-1 = none)",
          -1, G_MAXINT, DEFAULT_SOURCE, live_flags));
  g_object_class_install_property (gobject_class, PROP_ROUTES,
      g_param_spec_string ("routes", "Routes",
          "Switchboard routes INPUT>OUTPUT separated by commas, e.g. "
          "\"0>1,0>2,3>0\" (input 0 to outputs 1 and 2, input 3 to output 0); "
          "a route overrides source for its output",
          DEFAULT_ROUTES, live_flags));
  g_object_class_install_property (gobject_class, PROP_KEYFRAME_RETRY,
      g_param_spec_uint ("keyframe-retry", "Keyframe retry",
          "Milliseconds between repeated keyframe requests to an encoded "
          "input that an output waits to switch to (0 = request once)",
          0, G_MAXUINT, DEFAULT_KEYFRAME_RETRY, live_flags));
  g_object_class_install_property (gobject_class, PROP_KEYFRAME_MIN_INTERVAL,
      g_param_spec_uint ("keyframe-min-interval", "Keyframe min interval",
          "Minimum milliseconds between downstream keyframe requests "
          "forwarded to one input (0 = forward all)",
          0, G_MAXUINT, DEFAULT_KEYFRAME_MIN_INTERVAL, live_flags));
  g_object_class_install_property (gobject_class, PROP_KEEP_RUNNING_TIME,
      g_param_spec_boolean ("keep-running-time", "Keep running time",
          "Outputs keep their inputs' running times across switches (inputs "
          "on one clock, as hubports are): the time no input was routed "
          "stays in the timeline; a new input is moved later only where it "
          "would go back in time",
          DEFAULT_KEEP_RUNNING_TIME, live_flags));

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_DISPATCHER_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_sink_template, GST_TYPE_DISPATCHER_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_DISPATCHER_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_src_template, GST_TYPE_DISPATCHER_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_request_template, GST_TYPE_DISPATCHER_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_src_request_template, GST_TYPE_DISPATCHER_PAD);

  gst_element_class_set_static_metadata (element_class, "Dispatcher",
      "Generic/Video/Audio",
      "Switches and fans out whole raw or encoded inputs to outputs, "
      "switching encoded video at keyframes",
      "gst-rooms");

  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_dispatcher_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_dispatcher_release_pad);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_dispatcher_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_DISPATCHER_PAD, (GstPluginAPIFlags)0);

  GST_DEBUG_CATEGORY_INIT (
      gst_dispatcher_debug, "dispatcher", 0, "gst-rooms dispatcher");
}

/* ---- helpers, called with the state lock held unless said otherwise ---- */

static Input *
find_input (DispatcherPrivate *priv, bool audio, int port)
{
  for (Input *in : priv->inputs)
    if (in->audio == audio && in->port == port)
      return in;
  return nullptr;
}

static Output *
find_output (DispatcherPrivate *priv, bool audio, int port)
{
  for (auto &out : priv->outputs)
    if (out->audio == audio && out->port == port)
      return out.get ();
  return nullptr;
}

/* Rebuilds @in's list of fed outputs from Output::current. */
static void
rebuild_fed (DispatcherPrivate *priv, Input *in)
{
  auto list = std::make_shared<OutputList> ();
  for (auto &out : priv->outputs)
    if (out->current.load () == in)
      list->push_back (out);
  in->fed = std::move (list);
  in->attention.store (true);
}

static void
rebuild_all_outputs (DispatcherPrivate *priv)
{
  priv->all_outputs = std::make_shared<OutputList> (priv->outputs);
}

static void
cancel_pending (Output *out)
{
  if (!out->pending)
    return;
  auto &w = out->pending->waiting;
  w.erase (std::remove (w.begin (), w.end (), out), w.end ());
  out->pending = nullptr;
}

/* The running time now, from the element clock, or NONE without one. */
static GstClockTime
clock_running_time (GstDispatcher *self)
{
  GstClockTime now = GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (self);
  GstClock *clock = GST_ELEMENT_CLOCK (self);
  GstClockTime base = GST_ELEMENT_CAST (self)->base_time;
  bool playing = GST_STATE (self) == GST_STATE_PLAYING;
  if (clock)
    gst_object_ref (clock);
  GST_OBJECT_UNLOCK (self);
  if (clock) {
    GstClockTime t = gst_clock_get_time (clock);
    if (playing && GST_CLOCK_TIME_IS_VALID (t) && t >= base)
      now = t - base;
    gst_object_unref (clock);
  }
  return now;
}

static GstEvent *
new_switch_fku (Input *in)
{
  return gst_video_event_new_upstream_force_key_unit (
      GST_CLOCK_TIME_NONE, TRUE, ++in->fku_count);
}

struct PendingEvent {
  GstPad *pad; /* owned */
  GstEvent *event;
};

static void
send_upstream (std::vector<PendingEvent> &events)
{
  for (auto &e : events) {
    GST_DEBUG_OBJECT (e.pad, "sending %" GST_PTR_FORMAT, e.event);
    gst_pad_push_event (e.pad, e.event);
    gst_object_unref (e.pad);
  }
  events.clear ();
}

static void
post_switch_messages (GstDispatcher *self, std::vector<SwitchMessage> &msgs)
{
  for (auto &m : msgs) {
    GstStructure *s = gst_structure_new ("dispatcher-switched", "output",
        G_TYPE_INT, m.output, "pad", G_TYPE_STRING, m.pad.c_str (), "input",
        G_TYPE_INT, m.input, "previous", G_TYPE_INT, m.previous, "running-time",
        G_TYPE_UINT64, (guint64)m.running_time, "latency", G_TYPE_UINT64,
        (guint64)m.latency, NULL);
    GST_INFO_OBJECT (self, "switched %" GST_PTR_FORMAT, s);
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  }
  msgs.clear ();
}

/* Recomputes what every output should carry after a change of properties or
 * pads.  Outputs losing their input are unrouted at once; outputs getting a
 * new input wait for its next switchable buffer.  Keyframe requests to send
 * and messages to post are returned to the caller, who sends them unlocked. */
static void
apply_routing (GstDispatcher *self, std::vector<PendingEvent> &events,
    std::vector<SwitchMessage> &msgs)
{
  DispatcherPrivate *priv = self->priv;
  std::vector<Input *> to_rebuild;

  for (auto &sp : priv->outputs) {
    Output *out = sp.get ();
    int port = priv->source;
    if (out->port >= 0) {
      auto it = priv->routes.find (out->port);
      if (it != priv->routes.end ())
        port = it->second;
    }
    Input *want = port >= 0 ? find_input (priv, out->audio, port) : nullptr;
    Input *cur = out->current.load ();

    if (want == cur) {
      cancel_pending (out);
      continue;
    }
    if (want && want == out->pending)
      continue;
    cancel_pending (out);

    if (!want) {
      /* Losing the input needs no keyframe: stop now, gaps follow. */
      out->current.store (nullptr);
      out->idle.store (false);
      to_rebuild.push_back (cur);
      msgs.push_back ({out->port, GST_PAD_NAME (out->pad), -1, cur->port,
          GST_CLOCK_TIME_NONE, 0});
      continue;
    }

    out->pending = want;
    /* Latency is measured on the new input's own timeline: from its latest
     * buffer at the request to the buffer that switches. */
    out->request_rt = want->last_rt.load ();
    want->waiting.push_back (out);
    want->attention.store (true);
    if (want->encoded.load () && !want->audio) {
      bool already = false;
      for (auto &e : events)
        already |= e.pad == want->pad;
      if (!already) {
        events.push_back (
            {GST_PAD (gst_object_ref (want->pad)), new_switch_fku (want)});
        want->switch_fku_rt = want->last_rt.load ();
      }
    }
  }

  std::sort (to_rebuild.begin (), to_rebuild.end ());
  to_rebuild.erase (
      std::unique (to_rebuild.begin (), to_rebuild.end ()), to_rebuild.end ());
  for (Input *in : to_rebuild)
    rebuild_fed (priv, in);
}

static void
reroute (GstDispatcher *self)
{
  std::vector<PendingEvent> events;
  std::vector<SwitchMessage> msgs;
  {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    apply_routing (self, events, msgs);
  }
  send_upstream (events);
  post_switch_messages (self, msgs);
}

/* Parses "IN>OUT,IN>OUT"; on error returns false and says why in @error. */
static bool
parse_routes (const char *text, std::map<int, int> &routes, std::string &error)
{
  routes.clear ();
  if (!text)
    return true;
  std::string s (text);
  /* Only whitespace: no routes. */
  if (s.find_first_not_of (" \t") == std::string::npos)
    return true;

  auto parse_number = [&] (const std::string &part, int &value) -> bool {
    size_t b = part.find_first_not_of (" \t");
    size_t e = part.find_last_not_of (" \t");
    if (b == std::string::npos) {
      error = "missing port number";
      return false;
    }
    std::string num = part.substr (b, e - b + 1);
    for (char c : num) {
      if (c < '0' || c > '9') {
        error = "\"" + num + "\" is not a port number (0 or more)";
        return false;
      }
    }
    errno = 0;
    long v = strtol (num.c_str (), nullptr, 10);
    if (errno != 0 || v > G_MAXINT) {
      error = "port number " + num + " is too large";
      return false;
    }
    value = (int)v;
    return true;
  };

  size_t start = 0;
  while (true) {
    size_t comma = s.find (',', start);
    std::string item = s.substr (
        start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t gt = item.find ('>');
    if (item.find_first_not_of (" \t") == std::string::npos) {
      error = "empty route";
      return false;
    }
    if (gt == std::string::npos
        || item.find ('>', gt + 1) != std::string::npos) {
      error = "route \"" + item + "\" is not of the form INPUT>OUTPUT";
      return false;
    }
    int in, out;
    if (!parse_number (item.substr (0, gt), in)
        || !parse_number (item.substr (gt + 1), out)) {
      error = "route \"" + item + "\": " + error;
      return false;
    }
    if (routes.count (out)) {
      error = "output " + std::to_string (out) + " is routed twice";
      return false;
    }
    routes[out] = in;
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return true;
}

static void
gst_dispatcher_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstDispatcher *self = GST_DISPATCHER (object);
  DispatcherPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_SOURCE: {
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->source = g_value_get_int (value);
      }
      reroute (self);
      break;
    }
    case PROP_ROUTES: {
      const char *text = g_value_get_string (value);
      std::map<int, int> routes;
      std::string error;
      if (!parse_routes (text, routes, error)) {
        /* Before the element runs (a launch line sets properties before the
         * element is in a bin) a warning may reach no bus: the change to
         * READY then fails with an error that says the same. */
        if (GST_STATE (self) < GST_STATE_PAUSED) {
          std::lock_guard<std::mutex> lk (priv->lock);
          priv->routes_error = std::string ("Invalid routes \"")
                               + (text ? text : "") + "\": " + error + ".";
        }
        GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
            ("Invalid routes \"%s\": %s; routing unchanged.", text,
                error.c_str ()),
            (NULL));
        break;
      }
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        priv->routes = std::move (routes);
        priv->routes_string = text ? text : "";
        priv->routes_error.clear ();
      }
      reroute (self);
      break;
    }
    case PROP_KEYFRAME_RETRY: {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->keyframe_retry = g_value_get_uint (value);
      break;
    }
    case PROP_KEYFRAME_MIN_INTERVAL: {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->keyframe_min_interval = g_value_get_uint (value);
      break;
    }
    case PROP_KEEP_RUNNING_TIME:
      priv->keep_running_time.store (g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_dispatcher_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstDispatcher *self = GST_DISPATCHER (object);
  DispatcherPrivate *priv = self->priv;
  std::lock_guard<std::mutex> lk (priv->lock);

  switch (prop_id) {
    case PROP_SOURCE:
      g_value_set_int (value, priv->source);
      break;
    case PROP_ROUTES:
      g_value_set_string (value, priv->routes_string.c_str ());
      break;
    case PROP_KEYFRAME_RETRY:
      g_value_set_uint (value, priv->keyframe_retry);
      break;
    case PROP_KEYFRAME_MIN_INTERVAL:
      g_value_set_uint (value, priv->keyframe_min_interval);
      break;
    case PROP_KEEP_RUNNING_TIME:
      g_value_set_boolean (value, priv->keep_running_time.load ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ---- pads ---- */

static GstDispatcherPad *
make_output_pad (GstDispatcher *self, GstPadTemplate *templ, const char *name,
    int port, bool audio, std::shared_ptr<Output> &out)
{
  GstDispatcherPad *pad =
      GST_DISPATCHER_PAD (g_object_new (GST_TYPE_DISPATCHER_PAD, "name", name,
          "direction", GST_PAD_SRC, "template", templ, NULL));
  pad->port = port;
  out = std::make_shared<Output> ();
  out->pad = GST_PAD (gst_object_ref (pad));
  out->port = port;
  out->audio = audio;
  out->pusher.reset (new OutputPusher (GST_PAD (pad)));
  pad->output = out.get ();
  gst_pad_set_event_function (
      GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_src_event));
  gst_pad_set_query_function (
      GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_src_query));
  GST_PAD_SET_PROXY_SCHEDULING (pad);
  return pad;
}

/* Registers an output pad's state (after the pad was added). */
static void
register_output (GstDispatcher *self, const std::shared_ptr<Output> &out)
{
  DispatcherPrivate *priv = self->priv;
  std::lock_guard<std::mutex> lk (priv->lock);
  priv->outputs.push_back (out);
  if (priv->outputs_running)
    out->pusher->start ();
  for (auto &o : priv->outputs)
    if (o->audio)
      o->partner = find_output (priv, false, o->port);
  rebuild_all_outputs (priv);
}

static void
gst_dispatcher_init (GstDispatcher *self)
{
  self->priv = new DispatcherPrivate ();

  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  std::shared_ptr<Output> out;
  GstDispatcherPad *src = make_output_pad (self,
      gst_element_class_get_pad_template (klass, "src"), "src", -1, false, out);
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (src));
  register_output (self, out);
  GstDispatcherPad *asrc = make_output_pad (self,
      gst_element_class_get_pad_template (klass, "audio_src"), "audio_src", -1,
      true, out);
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (asrc));
  register_output (self, out);

  /* hubports look hubs up by name: the registry tells waiting ones when it
   * changes. */
  gst_room_hub_registry_add (GST_ELEMENT (self));
}

static void
gst_dispatcher_dispose (GObject *object)
{
  gst_room_hub_registry_remove (GST_ELEMENT (object));
  G_OBJECT_CLASS (parent_class)->dispose (object);
}

static void
gst_dispatcher_finalize (GObject *object)
{
  GstDispatcher *self = GST_DISPATCHER (object);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* The lowest number not used by a pad of template @prefix. */
static int
lowest_free_port (GstDispatcher *self, const char *prefix)
{
  std::vector<int> used;
  GST_OBJECT_LOCK (self);
  for (GList *l = GST_ELEMENT (self)->pads; l; l = l->next) {
    GstDispatcherPad *p = GST_DISPATCHER_PAD (l->data);
    const char *name = GST_PAD_NAME (p);
    if (p->port >= 0 && g_str_has_prefix (name, prefix)
        && strlen (name) > strlen (prefix)
        && g_ascii_isdigit (name[strlen (prefix)]))
      used.push_back (p->port);
  }
  GST_OBJECT_UNLOCK (self);
  int port = 0;
  while (std::find (used.begin (), used.end (), port) != used.end ())
    port++;
  return port;
}

static GstPad *
gst_dispatcher_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *req_name, const GstCaps *caps)
{
  GstDispatcher *self = GST_DISPATCHER (element);
  const char *tname = GST_PAD_TEMPLATE_NAME_TEMPLATE (templ);
  bool audio = g_str_has_prefix (tname, "audio_");
  bool sink = GST_PAD_TEMPLATE_DIRECTION (templ) == GST_PAD_SINK;
  std::string prefix (tname, strlen (tname) - 2); /* strip "%u" */

  int port;
  if (req_name && strcmp (req_name, tname) != 0) {
    if (!g_str_has_prefix (req_name, prefix.c_str ())) {
      GST_WARNING_OBJECT (
          self, "pad name %s does not match %s", req_name, tname);
      return NULL;
    }
    const char *num = req_name + prefix.size ();
    char *end = NULL;
    guint64 v = g_ascii_strtoull (num, &end, 10);
    if (!*num || *end || v > G_MAXINT || !g_ascii_isdigit (*num)) {
      GST_WARNING_OBJECT (self, "invalid pad name %s", req_name);
      return NULL;
    }
    port = (int)v;
  } else {
    port = lowest_free_port (self, prefix.c_str ());
  }
  std::string name = prefix + std::to_string (port);
  GstPad *existing = gst_element_get_static_pad (element, name.c_str ());
  if (existing) {
    gst_object_unref (existing);
    GST_WARNING_OBJECT (self, "pad %s already exists", name.c_str ());
    return NULL;
  }

  GstDispatcherPad *pad;
  std::shared_ptr<Output> out;
  if (sink) {
    pad = GST_DISPATCHER_PAD (g_object_new (GST_TYPE_DISPATCHER_PAD, "name",
        name.c_str (), "direction", GST_PAD_SINK, "template", templ, NULL));
    pad->port = port;
    Input *in = new Input ();
    in->pad = GST_PAD (pad);
    in->port = port;
    in->audio = audio;
    pad->input = in;
    gst_pad_set_chain_function (
        GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_sink_chain));
    gst_pad_set_chain_list_function (
        GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_sink_chain_list));
    gst_pad_set_event_function (
        GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_sink_event));
    gst_pad_set_query_function (
        GST_PAD (pad), GST_DEBUG_FUNCPTR (gst_dispatcher_sink_query));
    GST_OBJECT_FLAG_SET (pad, GST_PAD_FLAG_PROXY_CAPS);
  } else {
    pad = make_output_pad (self, templ, name.c_str (), port, audio, out);
  }

  if (GST_STATE (element) >= GST_STATE_PAUSED
      || GST_STATE_PENDING (element) >= GST_STATE_PAUSED)
    gst_pad_set_active (GST_PAD (pad), TRUE);
  if (!gst_element_add_pad (element, GST_PAD (pad))) {
    gst_object_unref (pad);
    return NULL;
  }

  if (sink) {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    pad->input->serial = self->priv->next_serial++;
    self->priv->inputs.push_back (pad->input);
  } else {
    register_output (self, out);
  }
  GST_DEBUG_OBJECT (self, "new pad %s (port %d)", name.c_str (), port);
  reroute (self);
  return GST_PAD (pad);
}

static void
gst_dispatcher_release_pad (GstElement *element, GstPad *gpad)
{
  GstDispatcher *self = GST_DISPATCHER (element);
  DispatcherPrivate *priv = self->priv;
  GstDispatcherPad *pad = GST_DISPATCHER_PAD (gpad);
  std::vector<SwitchMessage> msgs;
  std::vector<PendingEvent> events;
  std::shared_ptr<Output> gone;

  {
    std::lock_guard<std::mutex> lk (priv->lock);
    if (pad->input) {
      Input *in = pad->input;
      if (priv->gap_driver.load () == in)
        priv->gap_driver.store (nullptr);
      priv->inputs.erase (
          std::remove (priv->inputs.begin (), priv->inputs.end (), in),
          priv->inputs.end ());
      for (Output *o : in->waiting)
        o->pending = nullptr;
      in->waiting.clear ();
      for (auto &o : priv->outputs) {
        if (o->current.load () == in) {
          o->current.store (nullptr);
          msgs.push_back ({o->port, GST_PAD_NAME (o->pad), -1, in->port,
              GST_CLOCK_TIME_NONE, 0});
        }
      }
      in->fed = std::make_shared<OutputList> ();
    } else if (pad->output) {
      Output *out = pad->output;
      cancel_pending (out);
      Input *cur = out->current.load ();
      out->current.store (nullptr);
      for (auto &o : priv->outputs)
        if (o.get () == out)
          gone = o;
      priv->outputs.erase (
          std::remove_if (priv->outputs.begin (), priv->outputs.end (),
              [out] (const std::shared_ptr<Output> &o) {
                return o.get () == out;
              }),
          priv->outputs.end ());
      for (auto &o : priv->outputs)
        if (o->partner == out)
          o->partner = nullptr;
      if (cur)
        rebuild_fed (priv, cur);
      rebuild_all_outputs (priv);
    }
    apply_routing (self, events, msgs);
  }
  send_upstream (events);
  post_switch_messages (self, msgs);

  /* The pad first stops taking data, so a push under way on the output's
   * thread returns at once unless its consumer is stuck; the thread then
   * ends before the pad goes, but a stuck consumer of a pad being released
   * holds up neither the caller nor the other outputs. */
  gst_pad_set_active (gpad, FALSE);
  if (gone)
    gone->pusher->stop_without_waiting ();
  gst_element_remove_pad (element, gpad);
}

/* ---- pushing ---- */

/* Sends stream-start, caps and segment as needed before data from @in.
 * Called with @out's stream lock held. */
static void
prepare_output (GstDispatcher *self, Output *out, Input *in)
{
  if (!out->sent_stream_start) {
    /* Our own stream: gst_pad_create_stream_id () would ask the one
     * upstream, and we have many. */
    gchar *id = g_strdup_printf ("%08x%08x/%s", g_random_int (),
        g_random_int (), GST_PAD_NAME (out->pad));
    out->pusher->push_event (gst_event_new_stream_start (id));
    g_free (id);
    out->sent_stream_start = true;
  }
  if (in && in->caps && out->caps != in->caps) {
    bool same = out->caps && gst_caps_is_equal (out->caps, in->caps);
    gst_caps_replace (&out->caps, in->caps);
    if (!same) {
      GST_DEBUG_OBJECT (out->pad, "caps %" GST_PTR_FORMAT, in->caps);
      out->pusher->push_event (gst_event_new_caps (in->caps));
    }
  }
  if (!out->sent_segment && out->caps) {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    out->pusher->push_event (gst_event_new_segment (&seg));
    out->sent_segment = true;
  }
}

static GstClockTime
apply_offset (GstClockTime rt, GstClockTimeDiff offset)
{
  if (!GST_CLOCK_TIME_IS_VALID (rt))
    return GST_CLOCK_TIME_NONE;
  GstClockTimeDiff t = (GstClockTimeDiff)rt + offset;
  return t < 0 ? 0 : (GstClockTime)t;
}

/* A buffer re-timestamped once per chain call and shared by the outputs with
 * the same offset. */
struct RetimedCache {
  GstBuffer *buffer = nullptr;
  GstClockTimeDiff offset = 0;
  bool discont = false;
  ~RetimedCache () { gst_clear_buffer (&buffer); }
};

/* What @buf becomes on @out: a ref of it, or a shallow copy with the
 * output's timestamps (shared through @cache by outputs with the same
 * offset).  Called with out->stream held, after prepare_output(). */
static GstBuffer *
retime_for_output (Output *out, Input *in, GstBuffer *buf, GstClockTime in_rt,
    GstClockTime in_dts_rt, RetimedCache &cache, bool keep_running_time)
{
  bool discont = false;
  if (out->last_serial != in->serial) {
    /* First buffer of a new input: continue at the output's position. */
    GstClockTimeDiff offset = 0;
    Output *partner = out->audio ? out->partner : nullptr;
    if (partner && partner->shared_offset_port.load () == in->port)
      offset = partner->shared_offset.load ();
    else if (keep_running_time)
      /* Its own running time, unless that is before the last buffer. */
      offset = GST_CLOCK_TIME_IS_VALID (out->last_pts)
                       && GST_CLOCK_TIME_IS_VALID (in_rt)
                       && in_rt < out->last_pts
                   ? (GstClockTimeDiff)out->last_pts - (GstClockTimeDiff)in_rt
                   : 0;
    else if (GST_CLOCK_TIME_IS_VALID (out->position)
             && GST_CLOCK_TIME_IS_VALID (in_rt))
      offset = (GstClockTimeDiff)out->position - (GstClockTimeDiff)in_rt;
    out->offset = offset;
    out->shared_offset.store (offset);
    out->shared_offset_port.store (in->port);
    out->last_serial = in->serial;
    out->carried.store (true);
    discont = out->position != GST_CLOCK_TIME_NONE;
    GST_DEBUG_OBJECT (out->pad, "now from %s, offset %" GST_STIME_FORMAT,
        GST_PAD_NAME (in->pad), GST_STIME_ARGS (offset));
  }

  GstClockTime pts = apply_offset (in_rt, out->offset);
  GstClockTime dts = apply_offset (in_dts_rt, out->offset);
  GstBuffer *outbuf;
  if (pts == GST_BUFFER_PTS (buf) && dts == GST_BUFFER_DTS (buf) && !discont) {
    outbuf = gst_buffer_ref (buf);
  } else if (cache.buffer && cache.offset == out->offset
             && cache.discont == discont) {
    outbuf = gst_buffer_ref (cache.buffer);
  } else {
    outbuf = gst_buffer_copy (buf); /* shallow: memory is shared */
    GST_BUFFER_PTS (outbuf) = pts;
    GST_BUFFER_DTS (outbuf) = dts;
    if (discont)
      GST_BUFFER_FLAG_SET (outbuf, GST_BUFFER_FLAG_DISCONT);
    gst_buffer_replace (&cache.buffer, outbuf);
    cache.offset = out->offset;
    cache.discont = discont;
  }

  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime end = pts;
    if (GST_BUFFER_DURATION_IS_VALID (buf))
      end += GST_BUFFER_DURATION (buf);
    else if (GST_CLOCK_TIME_IS_VALID (out->last_pts) && pts > out->last_pts)
      end += pts - out->last_pts;
    out->last_pts = pts;
    if (!GST_CLOCK_TIME_IS_VALID (out->position) || end > out->position)
      out->position = end;
  }
  return outbuf;
}

/* Whether @in's upstream is live, asked once per stream (streaming
 * thread). */
static bool
input_is_live (Input *in)
{
  int live = in->live.load ();
  if (G_LIKELY (live >= 0))
    return live;
  GstQuery *q = gst_query_new_latency ();
  gboolean is_live = FALSE;
  if (gst_pad_peer_query (in->pad, q))
    gst_query_parse_latency (q, &is_live, NULL, NULL);
  gst_query_unref (q);
  in->live.store (is_live ? 1 : 0);
  GST_DEBUG_OBJECT (in->pad, "upstream is %slive", is_live ? "" : "not ");
  return is_live;
}

static void
push_to_output (GstDispatcher *self, Output *out, Input *in, GstBuffer *buf,
    GstClockTime in_rt, GstClockTime in_dts_rt, bool live, RetimedCache &cache)
{
  /* Unlinked (e.g. the always src nobody uses): nothing to do; its sticky
   * events go out with the first buffer after it gets linked. */
  if (G_UNLIKELY (!GST_PAD_PEER (out->pad)))
    return;
  std::lock_guard<std::mutex> lk (out->stream);
  if (out->current.load () != in)
    return; /* switched away since the list was taken */

  prepare_output (self, out, in);
  GstBuffer *outbuf = retime_for_output (out, in, buf, in_rt, in_dts_rt, cache,
      self->priv->keep_running_time.load ());
  /* Handed to the output's own thread: a blocked consumer of this output
   * drops its own buffers and holds up no other output, nor the input. */
  out->pusher->push_buffer (outbuf, live);
}

/* Running times of a buffer on its input. */
struct InputTimes {
  GstClockTime pts = GST_CLOCK_TIME_NONE, dts = GST_CLOCK_TIME_NONE;
};

/* Like push_to_output for a whole list, pushed on as one list. */
static void
push_list_to_output (GstDispatcher *self, Output *out, Input *in,
    GstBufferList *list, const std::vector<InputTimes> &times, bool live,
    std::vector<RetimedCache> &caches)
{
  if (G_UNLIKELY (!GST_PAD_PEER (out->pad)))
    return;
  std::lock_guard<std::mutex> lk (out->stream);
  if (out->current.load () != in)
    return;

  prepare_output (self, out, in);
  /* While timestamps come out as they went in (no switch yet), every output
   * gets the input's own list by reference; a list of its own is made only
   * from the first buffer that changed. */
  guint n = gst_buffer_list_length (list);
  GstBufferList *outlist = nullptr;
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_list_get (list, i);
    GstBuffer *retimed = retime_for_output (out, in, buf, times[i].pts,
        times[i].dts, caches[i], self->priv->keep_running_time.load ());
    if (!outlist && retimed == buf) {
      gst_buffer_unref (retimed);
      continue;
    }
    if (!outlist) {
      outlist = gst_buffer_list_new_sized (n);
      for (guint k = 0; k < i; k++)
        gst_buffer_list_add (
            outlist, gst_buffer_ref (gst_buffer_list_get (list, k)));
    }
    gst_buffer_list_add (outlist, retimed);
  }
  if (!outlist)
    outlist = gst_buffer_list_ref (list);
  out->pusher->push_list (outlist, live);
}

/* Keeps outputs without a live input going with GAP events: each output's
 * position advances by @elapsed, the running time that passed on the input
 * that paces the gaps (with keep-running-time: up to @now, that input's
 * running time). */
static void
push_gaps (GstDispatcher *self, const OutputList &outputs, GstClockTime elapsed,
    GstClockTime now)
{
  bool keep = self->priv->keep_running_time.load ();
  for (auto &sp : outputs) {
    Output *out = sp.get ();
    if ((out->current.load () && !out->idle.load ())
        || !GST_PAD_PEER (out->pad))
      continue;
    std::lock_guard<std::mutex> lk (out->stream);
    /* Never carried media: its format and timeline are unknown. */
    if (!out->caps || !GST_CLOCK_TIME_IS_VALID (out->position))
      continue;
    GstClockTime until = keep ? now : out->position + elapsed;
    if (until <= out->position)
      continue;
    prepare_output (self, out, nullptr);
    out->pusher->push_event (
        gst_event_new_gap (out->position, until - out->position));
    out->position = until;
  }
}

static void
push_event_to_fed (Input *in, const OutputListPtr &fed, GstEvent *event)
{
  for (auto &sp : *fed) {
    Output *out = sp.get ();
    std::lock_guard<std::mutex> lk (out->stream);
    if (out->current.load () != in)
      continue;
    out->pusher->push_event (gst_event_ref (event));
  }
  gst_event_unref (event);
}

/* Switches waiting outputs to @in if @buf allows it; requests keyframes
 * otherwise.  Called with the state lock held. */
static void
handle_waiting (GstDispatcher *self, Input *in, GstBuffer *buf,
    GstClockTime in_rt, std::vector<SwitchMessage> &msgs,
    std::vector<PendingEvent> &events)
{
  DispatcherPrivate *priv = self->priv;
  bool switchable = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)
                    && !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER);
  std::vector<Input *> previous;
  bool any = false;

  for (auto it = in->waiting.begin (); it != in->waiting.end ();) {
    Output *out = *it;
    /* Audio waits while its port's video still waits for the same port,
     * so that it can take the video's offset (lip sync).  Not when neither
     * has carried anything yet: both keep their input's running time then,
     * and audio that came before the first video frame (a short file's
     * whole audio) is not lost. */
    bool allowed = switchable;
    if (out->audio && out->partner && out->partner->pending
        && out->partner->pending->port == in->port
        && (out->carried.load () || out->partner->carried.load ()))
      allowed = false;
    if (!allowed) {
      if (!GST_CLOCK_TIME_IS_VALID (out->request_rt))
        out->request_rt = in_rt;
      ++it;
      continue;
    }
    Input *prev = out->current.load ();
    out->current.store (in);
    out->idle.store (in->eos.load ());
    out->pending = nullptr;
    if (prev)
      previous.push_back (prev);
    GstClockTime latency = 0;
    if (GST_CLOCK_TIME_IS_VALID (out->request_rt)
        && GST_CLOCK_TIME_IS_VALID (in_rt) && in_rt > out->request_rt)
      latency = in_rt - out->request_rt;
    msgs.push_back ({out->port, GST_PAD_NAME (out->pad), in->port,
        prev ? prev->port : -1, in_rt, latency});
    it = in->waiting.erase (it);
    any = true;
  }

  if (any) {
    rebuild_fed (priv, in);
    std::sort (previous.begin (), previous.end ());
    previous.erase (
        std::unique (previous.begin (), previous.end ()), previous.end ());
    for (Input *p : previous)
      rebuild_fed (priv, p);
  }

  /* Still waiting for a keyframe: ask again every keyframe-retry ms. */
  if (!in->waiting.empty () && in->encoded.load () && !in->audio
      && GST_CLOCK_TIME_IS_VALID (in_rt)) {
    GstClockTime retry = priv->keyframe_retry * GST_MSECOND;
    bool first = !GST_CLOCK_TIME_IS_VALID (in->switch_fku_rt);
    if (first || (retry > 0 && in_rt >= in->switch_fku_rt + retry)) {
      events.push_back (
          {GST_PAD (gst_object_ref (in->pad)), new_switch_fku (in)});
      in->switch_fku_rt = in_rt;
    }
  } else if (in->waiting.empty ()) {
    in->switch_fku_rt = GST_CLOCK_TIME_NONE;
  }
}

/* One input at a time paces the gaps of outputs without media. */
static void
drive_gaps (GstDispatcher *self, Input *in, GstClockTime in_rt)
{
  DispatcherPrivate *priv = self->priv;
  Input *driver = priv->gap_driver.load ();
  if (!driver && !in->eos.load ()) {
    priv->gap_driver.compare_exchange_strong (driver, in);
    driver = priv->gap_driver.load ();
  }
  if (driver != in || !GST_CLOCK_TIME_IS_VALID (in_rt))
    return;
  if (!GST_CLOCK_TIME_IS_VALID (in->next_gap_rt)
      || in_rt + GAP_INTERVAL < in->next_gap_rt) {
    in->next_gap_rt = in_rt + GAP_INTERVAL; /* (re)start the ticks */
  } else if (in_rt >= in->next_gap_rt) {
    GstClockTime elapsed = in_rt - (in->next_gap_rt - GAP_INTERVAL);
    in->next_gap_rt = in_rt + GAP_INTERVAL;
    OutputListPtr all;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      all = priv->all_outputs;
    }
    push_gaps (self, *all, elapsed, in_rt);
  }
}

static GstFlowReturn
gst_dispatcher_sink_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstDispatcher *self = GST_DISPATCHER (parent);
  DispatcherPrivate *priv = self->priv;
  Input *in = GST_DISPATCHER_PAD (pad)->input;

  GstClockTime in_rt = GST_CLOCK_TIME_NONE, in_dts_rt = GST_CLOCK_TIME_NONE;
  if (GST_BUFFER_PTS_IS_VALID (buf))
    in_rt = gst_segment_to_running_time (
        &in->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (GST_BUFFER_DTS_IS_VALID (buf))
    in_dts_rt = gst_segment_to_running_time (
        &in->segment, GST_FORMAT_TIME, GST_BUFFER_DTS (buf));

  std::vector<SwitchMessage> msgs;
  std::vector<PendingEvent> events;
  if (GST_CLOCK_TIME_IS_VALID (in_rt))
    in->last_rt.store (in_rt);

  if (in->attention.load ()) {
    std::vector<SwitchMessage> msgs;
    std::vector<PendingEvent> events;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      if (!in->waiting.empty () || GST_CLOCK_TIME_IS_VALID (in->switch_fku_rt))
        handle_waiting (self, in, buf, in_rt, msgs, events);
      in->local_fed = in->fed;
      in->attention.store (
          !in->waiting.empty () || GST_CLOCK_TIME_IS_VALID (in->switch_fku_rt));
    }
    send_upstream (events);
    post_switch_messages (self, msgs);
  }

  drive_gaps (self, in, in_rt);

  RetimedCache cache;
  const bool live = input_is_live (in);
  for (auto &out : *in->local_fed)
    push_to_output (self, out.get (), in, buf, in_rt, in_dts_rt, live, cache);
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* A list (a frame's RTP packets from a payloader) goes on as one list to
 * every output it feeds, so a viewer's pipeline takes it in one push.  While
 * a switch waits on this input each buffer is judged on its own. */
static GstFlowReturn
gst_dispatcher_sink_chain_list (
    GstPad *pad, GstObject *parent, GstBufferList *list)
{
  GstDispatcher *self = GST_DISPATCHER (parent);
  Input *in = GST_DISPATCHER_PAD (pad)->input;
  guint n = gst_buffer_list_length (list);
  if (n <= 1 || in->attention.load ()) {
    for (guint i = 0; i < n; i++)
      gst_dispatcher_sink_chain (
          pad, parent, gst_buffer_ref (gst_buffer_list_get (list, i)));
    gst_buffer_list_unref (list);
    return GST_FLOW_OK;
  }

  std::vector<InputTimes> times (n);
  GstClockTime last_rt = GST_CLOCK_TIME_NONE;
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_list_get (list, i);
    if (GST_BUFFER_PTS_IS_VALID (buf))
      times[i].pts = gst_segment_to_running_time (
          &in->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
    if (GST_BUFFER_DTS_IS_VALID (buf))
      times[i].dts = gst_segment_to_running_time (
          &in->segment, GST_FORMAT_TIME, GST_BUFFER_DTS (buf));
    if (GST_CLOCK_TIME_IS_VALID (times[i].pts))
      last_rt = times[i].pts;
  }
  if (GST_CLOCK_TIME_IS_VALID (last_rt))
    in->last_rt.store (last_rt);
  drive_gaps (self, in, last_rt);

  std::vector<RetimedCache> caches (n);
  const bool live = input_is_live (in);
  for (auto &out : *in->local_fed)
    push_list_to_output (self, out.get (), in, list, times, live, caches);
  gst_buffer_list_unref (list);
  return GST_FLOW_OK;
}

static void
check_all_eos (GstDispatcher *self)
{
  DispatcherPrivate *priv = self->priv;
  OutputListPtr outputs;
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    if (priv->inputs.empty ())
      return;
    for (Input *in : priv->inputs)
      if (!in->eos.load ())
        return;
    outputs = priv->all_outputs;
  }
  GST_DEBUG_OBJECT (self, "all inputs reached EOS");
  for (auto &sp : *outputs) {
    std::lock_guard<std::mutex> lk (sp->stream);
    prepare_output (self, sp.get (), nullptr);
    sp->pusher->push_event (gst_event_new_eos ());
  }
}

static gboolean
gst_dispatcher_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstDispatcher *self = GST_DISPATCHER (parent);
  DispatcherPrivate *priv = self->priv;
  Input *in = GST_DISPATCHER_PAD (pad)->input;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      in->eos.store (false);
      in->live.store (-1);
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      const GstStructure *s = gst_caps_get_structure (caps, 0);
      const char *name = gst_structure_get_name (s);
      bool encoded = g_str_has_prefix (name, "video/")
                     && !g_str_equal (name, "video/x-raw");
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        gst_caps_replace (&in->caps, caps);
        in->encoded.store (encoded);
      }
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *seg;
      gst_event_parse_segment (event, &seg);
      if (seg->format != GST_FORMAT_TIME) {
        GST_ELEMENT_WARNING (self, STREAM, FORMAT,
            ("Input %s sends a %s segment; only TIME is supported.",
                GST_PAD_NAME (pad), gst_format_get_name (seg->format)),
            (NULL));
      } else {
        gst_segment_copy_into (seg, &in->segment);
      }
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_EOS: {
      in->eos.store (true);
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        if (priv->gap_driver.load () == in)
          priv->gap_driver.store (nullptr);
        for (auto &o : *in->fed)
          if (o->current.load () == in)
            o->idle.store (true);
      }
      gst_event_unref (event);
      check_all_eos (self);
      return TRUE;
    }
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP: {
      /* The outputs that get the flush-start get the flush-stop, even when
       * a switch changed what this input feeds in between: an output left
       * flushing would take nothing any more. */
      OutputListPtr fed;
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START) {
          if (!in->flushed)
            in->flushed = in->fed;
          fed = in->flushed;
        } else {
          fed = in->flushed ? in->flushed : in->fed;
          in->flushed = nullptr;
        }
      }
      if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
        in->eos.store (false);
        in->live.store (-1);
        gst_segment_init (&in->segment, GST_FORMAT_TIME);
        /* The output timeline restarts: new segment, offsets from 0. */
        for (auto &sp : *fed) {
          std::lock_guard<std::mutex> lk (sp->stream);
          sp->sent_segment = false;
          sp->position = GST_CLOCK_TIME_NONE;
          sp->last_pts = GST_CLOCK_TIME_NONE;
          sp->last_serial = 0;
          sp->carried.store (false);
        }
      }
      /* Flushes overtake what the output threads have queued (which is
       * dropped, but for sticky events). */
      for (auto &sp : *fed) {
        if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START)
          sp->pusher->flush_start (gst_event_ref (event));
        else
          sp->pusher->flush_stop (gst_event_ref (event));
      }
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_GAP: {
      /* Pass the gap on, re-timed, to the outputs this input feeds. */
      GstClockTime ts, dur;
      gst_event_parse_gap (event, &ts, &dur);
      GstClockTime rt =
          gst_segment_to_running_time (&in->segment, GST_FORMAT_TIME, ts);
      gst_event_unref (event);
      OutputListPtr fed;
      {
        std::lock_guard<std::mutex> lk (priv->lock);
        fed = in->fed;
      }
      if (!GST_CLOCK_TIME_IS_VALID (rt))
        return TRUE;
      for (auto &sp : *fed) {
        Output *out = sp.get ();
        std::lock_guard<std::mutex> lk (out->stream);
        if (out->current.load () != in || out->last_serial != in->serial)
          continue;
        prepare_output (self, out, in);
        GstClockTime start = apply_offset (rt, out->offset);
        out->pusher->push_event (gst_event_new_gap (start, dur));
        if (GST_CLOCK_TIME_IS_VALID (dur)
            && (!GST_CLOCK_TIME_IS_VALID (out->position)
                || start + dur > out->position))
          out->position = start + dur;
      }
      return TRUE;
    }
    default:
      break;
  }

  if (GST_EVENT_IS_STICKY (event) || !GST_EVENT_IS_SERIALIZED (event)) {
    /* Tags and other per-input sticky state do not cross a switchboard. */
    gst_event_unref (event);
    return TRUE;
  }
  OutputListPtr fed;
  {
    std::lock_guard<std::mutex> lk (priv->lock);
    fed = in->fed;
  }
  push_event_to_fed (in, fed, event);
  return TRUE;
}

static gboolean
gst_dispatcher_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      /* What the outputs this input feeds (or is about to feed) accept, so
       * an encoder upstream picks a format its viewers can use; anything when
       * it feeds nobody. */
      GstCaps *filter, *result = NULL;
      gst_query_parse_caps (query, &filter);
      std::vector<GstPad *> outs;
      if (parent) {
        GstDispatcher *self = GST_DISPATCHER (parent);
        Input *in = GST_DISPATCHER_PAD (pad)->input;
        std::lock_guard<std::mutex> lk (self->priv->lock);
        for (auto &o : self->priv->outputs)
          if (o->current.load () == in || o->pending == in)
            outs.push_back (GST_PAD (gst_object_ref (o->pad)));
      }
      for (GstPad *out : outs) {
        GstCaps *peer = gst_pad_peer_query_caps (out, filter);
        if (!result) {
          result = peer;
        } else {
          GstCaps *both = gst_caps_intersect (result, peer);
          gst_caps_unref (result);
          gst_caps_unref (peer);
          result = both;
        }
        gst_object_unref (out);
      }
      if (!result)
        result = filter ? gst_caps_ref (filter) : gst_caps_new_any ();
      gst_query_set_caps_result (query, result);
      gst_caps_unref (result);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS:
      gst_query_set_accept_caps_result (query, TRUE);
      return TRUE;
    case GST_QUERY_ALLOCATION:
      /* Buffers fan out to many outputs: upstream allocates its own. */
      return FALSE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_dispatcher_src_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  /* No parent: a released pad whose thread still ends its last push. */
  if (!parent) {
    gst_event_unref (event);
    return FALSE;
  }
  GstDispatcher *self = GST_DISPATCHER (parent);
  DispatcherPrivate *priv = self->priv;
  Output *out = GST_DISPATCHER_PAD (pad)->output;
  bool is_fku = gst_video_event_is_force_key_unit (event);
  GstClockTime now = is_fku ? clock_running_time (self) : GST_CLOCK_TIME_NONE;
  GstPad *target = NULL;

  {
    std::lock_guard<std::mutex> lk (priv->lock);
    Input *in = out->current.load ();
    if (!in)
      in = out->pending;
    if (in) {
      bool forward = true;
      if (is_fku) {
        if (!GST_CLOCK_TIME_IS_VALID (now))
          now = in->last_rt.load ();
        GstClockTime min = priv->keyframe_min_interval * GST_MSECOND;
        if (GST_CLOCK_TIME_IS_VALID (in->viewer_fku_rt)
            && GST_CLOCK_TIME_IS_VALID (now) && now < in->viewer_fku_rt + min)
          forward = false;
        else
          in->viewer_fku_rt = now;
      }
      if (forward)
        target = GST_PAD (gst_object_ref (in->pad));
    }
  }

  if (!target) {
    GST_LOG_OBJECT (pad, "not forwarding %" GST_PTR_FORMAT, event);
    gst_event_unref (event);
    return is_fku || GST_EVENT_TYPE (event) == GST_EVENT_RECONFIGURE;
  }
  if (is_fku) {
    /* Viewers joining mid-stream need the codec headers too.  A running time
     * in the request belongs to this output's timeline, not to the input's
     * (outputs are re-timestamped), so the input is asked for the next frame:
     * an encoder would otherwise skip a request it thinks it already met. */
    GstClockTime running_time;
    gboolean all_headers;
    guint count;
    gst_video_event_parse_upstream_force_key_unit (
        event, &running_time, &all_headers, &count);
    gst_event_unref (event);
    event = gst_video_event_new_upstream_force_key_unit (
        GST_CLOCK_TIME_NONE, TRUE, count);
  }
  gboolean ret = gst_pad_push_event (target, event);
  gst_object_unref (target);
  return ret;
}

static gboolean
gst_dispatcher_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  if (!parent)
    return FALSE;
  GstDispatcher *self = GST_DISPATCHER (parent);
  Output *out = GST_DISPATCHER_PAD (pad)->output;

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter;
    gst_query_parse_caps (query, &filter);
    /* The caps we sent (not out->caps: downstream may query from inside our
     * push, with the output's stream lock held). */
    GstCaps *caps = gst_pad_get_current_caps (pad);
    if (!caps)
      caps = gst_caps_new_any ();
    if (filter) {
      GstCaps *tmp =
          gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (caps);
      caps = tmp;
    }
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }

  GstPad *target = NULL;
  {
    std::lock_guard<std::mutex> lk (self->priv->lock);
    Input *in = out->current.load ();
    if (!in)
      in = out->pending;
    if (in)
      target = GST_PAD (gst_object_ref (in->pad));
  }
  if (!target) {
    if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
      gst_query_set_latency (query, FALSE, 0, GST_CLOCK_TIME_NONE);
      return TRUE;
    }
    return FALSE;
  }
  gboolean ret = gst_pad_peer_query (target, query);
  gst_object_unref (target);
  return ret;
}

static GstStateChangeReturn
gst_dispatcher_change_state (GstElement *element, GstStateChange transition)
{
  GstDispatcher *self = GST_DISPATCHER (element);
  DispatcherPrivate *priv = self->priv;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      || transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    /* A routes value that did not parse before the start: running with
     * other routing than written would go unnoticed. */
    std::string routes_error;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      routes_error = priv->routes_error;
    }
    if (!routes_error.empty ()) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("%s", routes_error.c_str ()),
          ("routes is a list of INPUT>OUTPUT port pairs separated by commas, "
           "e.g. \"0>1,0>2,3>0\"; set a valid value (or \"\") to start"));
      return GST_STATE_CHANGE_FAILURE;
    }
  }

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    OutputListPtr outputs;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->outputs_running = true;
      for (auto &o : priv->outputs)
        o->pusher->start ();
      outputs = priv->all_outputs;
      priv->gap_driver.store (nullptr);
      for (Input *in : priv->inputs) {
        gst_segment_init (&in->segment, GST_FORMAT_TIME);
        in->eos.store (false);
        in->live.store (-1);
        in->flushed = nullptr;
        in->last_rt.store (GST_CLOCK_TIME_NONE);
        in->attention.store (true);
        in->switch_fku_rt = GST_CLOCK_TIME_NONE;
        in->viewer_fku_rt = GST_CLOCK_TIME_NONE;
        in->next_gap_rt = GST_CLOCK_TIME_NONE;
        in->serial = priv->next_serial++;
      }
    }
    for (auto &sp : *outputs) {
      std::lock_guard<std::mutex> lk (sp->stream);
      sp->sent_stream_start = false;
      sp->sent_segment = false;
      gst_clear_caps (&sp->caps);
      sp->last_serial = 0;
      sp->carried.store (false);
      sp->offset = 0;
      sp->position = GST_CLOCK_TIME_NONE;
      sp->last_pts = GST_CLOCK_TIME_NONE;
      sp->idle.store (false);
      sp->shared_offset_port.store (-2);
    }
  }

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    /* The output threads end first (downstream is READY already, so a push
     * under way returns): an input waiting for room in an output queue is
     * let go, and its sink pad can then be deactivated. */
    std::vector<std::shared_ptr<Output>> outputs;
    {
      std::lock_guard<std::mutex> lk (priv->lock);
      priv->outputs_running = false;
      outputs = priv->outputs;
    }
    for (auto &o : outputs)
      o->pusher->stop ();
  }

  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}
