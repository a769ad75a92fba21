/* gst-rooms: hubport tests.
 *
 * The hubport talks to hubs only through their pads, so most tests use two
 * small hubs defined here: `roomtestswitch` (dispatcher-like: port pads
 * `src_N` loop each port's input back to it) and `roomtestmixer`
 * (mcucompositor-like: one shared `src`/`audio_src` with everything).  Tests
 * with the real `mcucompositor` and `dispatcher` run when those elements are
 * built. */
#include "roomcheck.h"

#include "hubregistry.h"

#include <gst/app/gstappsrc.h>
#include <gst/check/gsttestclock.h>
#include <gst/video/video.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

/* ---------------------------------------------------------------------- */
/* The hub registry lives in the roomhub plugin.  This test links that same
 * library (tests/check/meson.build), and GStreamer loads it from the same
 * path, so test hubs register in the registry the real hubs use. */

/* ---------------------------------------------------------------------- */
/* Test hubs */

typedef struct {
  GstElement parent;
  guint next_port;
} TestHub;
typedef struct {
  GstElementClass parent_class;
} TestHubClass;

static GType test_switch_get_type (void);
static GType test_mixer_get_type (void);
G_DEFINE_TYPE (TestHub, test_hub, GST_TYPE_ELEMENT);

static GstStaticPadTemplate hub_sink_t = GST_STATIC_PAD_TEMPLATE (
    "sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate hub_audio_sink_t = GST_STATIC_PAD_TEMPLATE (
    "audio_sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate hub_src_port_t = GST_STATIC_PAD_TEMPLATE (
    "src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate hub_audio_src_port_t = GST_STATIC_PAD_TEMPLATE (
    "audio_src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate hub_src_t = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate hub_audio_src_t = GST_STATIC_PAD_TEMPLATE (
    "audio_src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* "sink_3" -> "src_3", "audio_sink_3" -> "audio_src_3". */
static std::string
port_out_name (GstPad *sinkpad)
{
  std::string name = GST_PAD_NAME (sinkpad);
  name.replace (name.find ("sink"), 4, "src");
  return name;
}

static std::string
shared_out_name (GstPad *sinkpad)
{
  return g_str_has_prefix (GST_PAD_NAME (sinkpad), "audio") ? "audio_src"
                                                            : "src";
}

static GstFlowReturn
test_hub_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstElement *hub = GST_ELEMENT (parent);
  for (const std::string &name : {port_out_name (pad), shared_out_name (pad)}) {
    GstPad *out = gst_element_get_static_pad (hub, name.c_str ());
    if (out) {
      gst_pad_push (out, gst_buffer_ref (buffer));
      gst_object_unref (out);
    }
  }
  gst_buffer_unref (buffer);
  return GST_FLOW_OK;
}

static gboolean
test_hub_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstElement *hub = GST_ELEMENT (parent);
  if (GST_EVENT_IS_SERIALIZED (event)) {
    for (const std::string &name :
        {port_out_name (pad), shared_out_name (pad)}) {
      GstPad *out = gst_element_get_static_pad (hub, name.c_str ());
      if (out) {
        gst_pad_push_event (out, gst_event_ref (event));
        gst_object_unref (out);
      }
    }
  }
  gst_event_unref (event);
  return TRUE;
}

static gboolean
copy_sticky (GstPad *pad, GstEvent **event, gpointer user_data)
{
  gst_pad_store_sticky_event (GST_PAD (user_data), *event);
  return TRUE;
}

static GstPad *
test_hub_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *caps)
{
  TestHub *hub = (TestHub *)element;
  std::string pad_name;
  if (name) {
    pad_name = name;
  } else {
    GST_OBJECT_LOCK (hub);
    guint port = hub->next_port++;
    GST_OBJECT_UNLOCK (hub);
    std::string prefix = GST_PAD_TEMPLATE_NAME_TEMPLATE (templ);
    pad_name = prefix.substr (0, prefix.size () - 2) + std::to_string (port);
  }
  GstPad *pad = gst_pad_new_from_template (templ, pad_name.c_str ());
  if (GST_PAD_IS_SINK (pad)) {
    gst_pad_set_chain_function (pad, test_hub_chain);
    gst_pad_set_event_function (pad, test_hub_event);
  } else {
    /* A late output starts with what its input already announced. */
    std::string in_name = pad_name;
    in_name.replace (in_name.find ("src"), 3, "sink");
    GstPad *in = gst_element_get_static_pad (element, in_name.c_str ());
    if (in) {
      gst_pad_sticky_events_foreach (in, copy_sticky, pad);
      gst_object_unref (in);
    }
  }
  gst_element_add_pad (element, pad);
  return pad;
}

static void
test_hub_release_pad (GstElement *element, GstPad *pad)
{
  gst_element_remove_pad (element, pad);
}

static void
test_hub_init (TestHub *hub)
{
  for (GstStaticPadTemplate *t : {&hub_src_t, &hub_audio_src_t}) {
    GstPad *pad = gst_pad_new_from_static_template (t, t->name_template);
    gst_element_add_pad (GST_ELEMENT (hub), pad);
  }
  gst_room_hub_registry_add (GST_ELEMENT (hub));
}

static void
test_hub_dispose (GObject *object)
{
  gst_room_hub_registry_remove (GST_ELEMENT (object));
  G_OBJECT_CLASS (test_hub_parent_class)->dispose (object);
}

static void
test_hub_class_init (TestHubClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_hub_dispose;
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  element_class->request_new_pad = test_hub_request_new_pad;
  element_class->release_pad = test_hub_release_pad;
  gst_element_class_add_static_pad_template (element_class, &hub_sink_t);
  gst_element_class_add_static_pad_template (element_class, &hub_audio_sink_t);
  gst_element_class_add_static_pad_template (element_class, &hub_src_t);
  gst_element_class_add_static_pad_template (element_class, &hub_audio_src_t);
  gst_element_class_set_static_metadata (
      element_class, "test hub", "Generic", "test hub", "gst-rooms");
}

/* Dispatcher-like: also per-port outputs. */
typedef TestHub TestSwitch;
typedef TestHubClass TestSwitchClass;
G_DEFINE_TYPE (TestSwitch, test_switch, test_hub_get_type ());
static void
test_switch_init (TestSwitch *)
{}
static void
test_switch_class_init (TestSwitchClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  gst_element_class_add_static_pad_template (element_class, &hub_src_port_t);
  gst_element_class_add_static_pad_template (
      element_class, &hub_audio_src_port_t);
}

/* Mixer-like: only the shared outputs. */
typedef TestHub TestMixer;
typedef TestHubClass TestMixerClass;
G_DEFINE_TYPE (TestMixer, test_mixer, test_hub_get_type ());
static void
test_mixer_init (TestMixer *)
{}
static void
test_mixer_class_init (TestMixerClass *)
{}

static void
register_test_hubs (void)
{
  gst_element_register (
      NULL, "roomtestswitch", GST_RANK_NONE, test_switch_get_type ());
  gst_element_register (
      NULL, "roomtestmixer", GST_RANK_NONE, test_mixer_get_type ());
}

/* ---------------------------------------------------------------------- */
/* Helpers */

/* Every pipeline a test made that is still alive (a weak ref forgets it).
 * A failed assertion leaves the test by longjmp (in-process, CK_FORK=no)
 * with its pipelines playing: a participant blocked in a probe, a hub still
 * pushing into it.  Their threads would crash a later test before check
 * could name the assertion, so the teardown stops whatever is left. */
static std::mutex pipelines_lock;
static std::set<GstElement *> live_pipelines;

static GstElement *
track_pipeline (GstElement *pipeline)
{
  std::lock_guard<std::mutex> guard (pipelines_lock);
  live_pipelines.insert (pipeline);
  g_object_weak_ref (
      G_OBJECT (pipeline),
      [] (gpointer, GObject *gone) {
        std::lock_guard<std::mutex> guard (pipelines_lock);
        live_pipelines.erase ((GstElement *)gone);
      },
      NULL);
  return pipeline;
}

static void
stop_what_a_failed_test_left ()
{
  std::vector<GstElement *> left;
  {
    std::lock_guard<std::mutex> guard (pipelines_lock);
    left.assign (live_pipelines.begin (), live_pipelines.end ());
  }
  for (GstElement *pipeline : left)
    gst_element_set_state (pipeline, GST_STATE_NULL);
}

static GstElement *
make_pipeline (const char *description)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  fail_unless (pipeline != NULL && error == NULL, "%s: %s", description,
      error ? error->message : "?");
  return track_pipeline (pipeline);
}

static GstElement *
by_name (GstElement *pipeline, const char *name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  fail_unless (e != NULL, "no element %s", name);
  return e;
}

static void
set_state_checked (GstElement *pipeline, GstState state)
{
  /* Live pipelines: sinks complete their state change with the first
   * buffer, which the tests push themselves afterwards. */
  GstStateChangeReturn ret = gst_element_set_state (pipeline, state);
  fail_if (ret == GST_STATE_CHANGE_FAILURE);
}

static gint
get_port (GstElement *hubport)
{
  gint port;
  g_object_get (hubport, "port", &port, NULL);
  return port;
}

static guint
count_pads (GstElement *element, const char *prefix)
{
  guint n = 0;
  GST_OBJECT_LOCK (element);
  for (GList *l = element->pads; l; l = l->next)
    if (g_str_has_prefix (GST_PAD_NAME (l->data), prefix))
      n++;
  GST_OBJECT_UNLOCK (element);
  return n;
}

static GstBuffer *
video_frame (GstClockTime pts, guint8 value)
{
  gsize size = 160 * 120 * 4;
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_memset (buffer, 0, value, size);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
  return buffer;
}

static GstBuffer *
audio_chunk (GstClockTime pts)
{
  gsize size = 480 * 2 * 2; /* 10 ms of S16 stereo at 48 kHz */
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_memset (buffer, 0, 0, size);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = 10 * GST_MSECOND;
  return buffer;
}

#define VIDEO_CAPS "video/x-raw,format=BGRA,width=160,height=120,framerate=30/1"
#define AUDIO_CAPS                                                             \
  "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2"

/* Records the running time (plus base time: the clock time it stands for)
 * of every buffer passing a pad.  From a streaming thread: records only, the
 * test thread asserts. */
struct ClockTimes {
  GMutex lock;
  std::vector<GstClockTime> times;  /* lock */
  std::vector<GstBuffer *> buffers; /* lock; not owned: identity only */
  bool without_segment = false;     /* lock: a buffer came before a segment */
};

static GstPadProbeReturn
record_clock_time (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ClockTimes *rec = (ClockTimes *)data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstEvent *seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  GstClockTime rt = GST_CLOCK_TIME_NONE;
  if (seg_event) {
    const GstSegment *segment;
    gst_event_parse_segment (seg_event, &segment);
    rt = gst_segment_to_running_time (
        segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
    gst_event_unref (seg_event);
  }
  GstElement *element = gst_pad_get_parent_element (pad);
  GstClockTime base = gst_element_get_base_time (element);
  gst_object_unref (element);
  g_mutex_lock (&rec->lock);
  if (seg_event == NULL)
    rec->without_segment = true;
  rec->times.push_back (rt + base);
  rec->buffers.push_back (buffer);
  g_mutex_unlock (&rec->lock);
  return GST_PAD_PROBE_OK;
}

/* The running time of @pipeline now: what a live source stamps a buffer
 * with (a buffer stamped earlier stands for a moment before a participant
 * that joined since, which never gets it). */
static GstClockTime
running_time_now (GstElement *pipeline)
{
  GstClock *clock = gst_element_get_clock (pipeline);
  fail_unless (clock != NULL);
  GstClockTime now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  return now - gst_element_get_base_time (pipeline);
}

/* appsrc/appsink through their action signals: the tests link only
 * gstreamer and gstcheck. */
static GstFlowReturn
app_push (GstElement *appsrc, GstBuffer *buffer)
{
  GstFlowReturn ret;
  g_signal_emit_by_name (appsrc, "push-buffer", buffer, &ret);
  gst_buffer_unref (buffer);
  return ret;
}

static GstSample *
app_pull (GstElement *appsink)
{
  GstSample *sample = NULL;
  g_signal_emit_by_name (appsink, "try-pull-sample", 10 * GST_SECOND, &sample);
  return sample;
}

static GstMessage *
pop_message (GstElement *pipeline, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, types);
  gst_object_unref (bus);
  return msg;
}

/* ---------------------------------------------------------------------- */
/* Tests */

GST_START_TEST (test_missing_hub)
{
  GstElement *pipeline = make_pipeline (
      "videotestsrc ! hubport name=p hub=no-such-hub ! fakesink");
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = pop_message (pipeline, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *error = NULL;
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (g_error_matches (
      error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless_equals_string (
      error->message, "no hub named 'no-such-hub' in this process");
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* A participant in its own pipeline sends video and audio into a switch
 * port and gets them back through the port's own outputs: same memory,
 * re-timed so each buffer stands for the same clock time on both sides. */
GST_START_TEST (test_switch_loopback_retimed)
{
  register_test_hubs ();
  GstClock *clock = gst_test_clock_new_with_start_time (GST_SECOND);

  GstElement *hub_pipeline = track_pipeline (gst_pipeline_new ("hubs"));
  GstElement *hub = gst_element_factory_make ("roomtestswitch", "room");
  gst_bin_add (GST_BIN (hub_pipeline), hub);
  gst_pipeline_use_clock (GST_PIPELINE (hub_pipeline), clock);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);

  gst_test_clock_set_time (GST_TEST_CLOCK (clock), 5 * GST_SECOND);
  GstElement *participant = make_pipeline (
      "appsrc name=v is-live=true format=time caps=" VIDEO_CAPS " ! "
      "hubport name=p hub=room ! appsink name=vout sync=false "
      "appsrc name=a is-live=true format=time caps=" AUDIO_CAPS
      " ! p.audio_sink "
      "p.audio_src ! appsink name=aout sync=false");
  gst_pipeline_use_clock (GST_PIPELINE (participant), clock);
  GstElement *hubport = by_name (participant, "p");
  fail_unless_equals_int (get_port (hubport), -1);
  set_state_checked (participant, GST_STATE_PLAYING);
  gint port = get_port (hubport);
  fail_unless (port >= 0);
  fail_unless (gst_element_get_base_time (participant)
               != gst_element_get_base_time (hub_pipeline));

  /* Clock times seen on the hub's input pads of the port. */
  ClockTimes video_in, audio_in;
  g_mutex_init (&video_in.lock);
  g_mutex_init (&audio_in.lock);
  std::string vname = "sink_" + std::to_string (port);
  GstPad *hub_video = gst_element_get_static_pad (hub, vname.c_str ());
  fail_unless (hub_video != NULL);
  gst_pad_add_probe (
      hub_video, GST_PAD_PROBE_TYPE_BUFFER, record_clock_time, &video_in, NULL);

  GstElement *vsrc = by_name (participant, "v");
  GstElement *asrc = by_name (participant, "a");
  GstElement *vout = by_name (participant, "vout");
  GstElement *aout = by_name (participant, "aout");
  std::vector<GstBuffer *> sent;
  for (int i = 0; i < 3; i++) {
    GstBuffer *frame = video_frame (i * GST_SECOND / 30, 0x40 + i);
    sent.push_back (frame);
    fail_unless_equals_int (
        app_push (vsrc, gst_buffer_ref (frame)), GST_FLOW_OK);
    GstBuffer *chunk = audio_chunk (i * GST_SECOND / 30);
    fail_unless_equals_int (app_push (asrc, chunk), GST_FLOW_OK);
    if (i == 0) {
      /* The audio pad is requested when audio arrives. */
      GstSample *s = app_pull (aout);
      fail_unless (s != NULL);
      gst_sample_unref (s);
      std::string aname = "audio_sink_" + std::to_string (port);
      GstPad *hub_audio = gst_element_get_static_pad (hub, aname.c_str ());
      fail_unless (hub_audio != NULL);
      gst_pad_add_probe (hub_audio, GST_PAD_PROBE_TYPE_BUFFER,
          record_clock_time, &audio_in, NULL);
      gst_object_unref (hub_audio);
    }
  }

  for (int i = 0; i < 3; i++) {
    GstSample *sample = app_pull (vout);
    fail_unless (sample != NULL, "frame %d did not come back", i);
    GstBuffer *back = gst_sample_get_buffer (sample);
    /* Nothing copied: the very same memory went round. */
    fail_unless (gst_buffer_peek_memory (back, 0)
                 == gst_buffer_peek_memory (sent[i], 0));
    const GstSegment *segment = gst_sample_get_segment (sample);
    GstClockTime rt = gst_segment_to_running_time (
        segment, GST_FORMAT_TIME, GST_BUFFER_PTS (back));
    fail_unless_equals_uint64 (rt, i * GST_SECOND / 30);
    gst_sample_unref (sample);
  }
  for (GstBuffer *b : sent)
    gst_buffer_unref (b);
  /* appsrc pushes from its own thread: wait for the audio to come round. */
  for (int i = 1; i < 3; i++) {
    GstSample *sample = app_pull (aout);
    fail_unless (sample != NULL, "audio chunk %d did not come back", i);
    gst_sample_unref (sample);
  }

  /* In the hub pipeline: the participant's running time 0 (clock time 5 s)
   * is the hub's running time 4 s, for video and audio alike. */
  g_mutex_lock (&video_in.lock);
  fail_if (
      video_in.without_segment, "a buffer reached the hub before a segment");
  fail_unless (video_in.times.size () == 3);
  for (int i = 0; i < 3; i++)
    fail_unless_equals_uint64 (
        video_in.times[i], 5 * GST_SECOND + i * GST_SECOND / 30);
  g_mutex_unlock (&video_in.lock);
  g_mutex_lock (&audio_in.lock);
  fail_if (
      audio_in.without_segment, "a buffer reached the hub before a segment");
  fail_unless (audio_in.times.size () == 2);
  for (int i = 1; i < 3; i++)
    fail_unless_equals_uint64 (
        audio_in.times[i - 1], 5 * GST_SECOND + i * GST_SECOND / 30);
  g_mutex_unlock (&audio_in.lock);
  gst_object_unref (hub_video);

  /* Leaving releases every pad of the port at once. */
  fail_unless_equals_int (count_pads (hub, "sink_"), 1);
  fail_unless_equals_int (count_pads (hub, "src_"), 1);
  gst_element_set_state (participant, GST_STATE_NULL);
  fail_unless_equals_int (count_pads (hub, "sink_"), 0);
  fail_unless_equals_int (count_pads (hub, "audio_sink_"), 0);
  fail_unless_equals_int (count_pads (hub, "src_"), 0);
  fail_unless_equals_int (count_pads (hub, "audio_src_"), 0);
  fail_unless_equals_int (get_port (hubport), -1);

  for (GstElement *e : {vsrc, asrc, vout, aout, hubport})
    gst_object_unref (e);
  gst_object_unref (participant);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
  gst_object_unref (clock);
  g_mutex_clear (&video_in.lock);
  g_mutex_clear (&audio_in.lock);
}
GST_END_TEST;

/* A participant pipeline with no clock of its own takes the hub pipeline's
 * clock, offered by the hubport. */
GST_START_TEST (test_participant_takes_hub_clock)
{
  register_test_hubs ();
  GstClock *clock = gst_test_clock_new ();
  GstElement *hub_pipeline = track_pipeline (gst_pipeline_new (NULL));
  GstElement *hub = gst_element_factory_make ("roomtestswitch", "clocked");
  gst_bin_add (GST_BIN (hub_pipeline), hub);
  gst_pipeline_use_clock (GST_PIPELINE (hub_pipeline), clock);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);

  GstElement *participant =
      make_pipeline ("appsrc is-live=true format=time caps=" VIDEO_CAPS " ! "
                     "hubport hub=clocked");
  set_state_checked (participant, GST_STATE_PLAYING);
  GstClock *used = gst_element_get_clock (participant);
  fail_unless (used == clock, "the participant uses %" GST_PTR_FORMAT, used);
  gst_object_unref (used);

  gst_element_set_state (participant, GST_STATE_NULL);
  gst_object_unref (participant);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
  gst_object_unref (clock);
}
GST_END_TEST;

/* Two different clocks: the port still works, measured once, with a warning
 * that drift is not followed. */
GST_START_TEST (test_different_clocks_warn)
{
  register_test_hubs ();
  GstClock *hub_clock = gst_test_clock_new_with_start_time (10 * GST_SECOND);
  GstElement *hub_pipeline = track_pipeline (gst_pipeline_new (NULL));
  GstElement *hub = gst_element_factory_make ("roomtestswitch", "two-clocks");
  gst_bin_add (GST_BIN (hub_pipeline), hub);
  gst_pipeline_use_clock (GST_PIPELINE (hub_pipeline), hub_clock);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);

  GstElement *participant = make_pipeline (
      "appsrc name=v is-live=true format=time caps=" VIDEO_CAPS " ! "
      "hubport name=p hub=two-clocks ! appsink name=out sync=false");
  GstClock *system = gst_system_clock_obtain ();
  gst_pipeline_use_clock (GST_PIPELINE (participant), system);
  gst_object_unref (system);
  set_state_checked (participant, GST_STATE_PLAYING);
  GstElement *v = by_name (participant, "v");
  GstElement *out = by_name (participant, "out");
  fail_unless_equals_int (app_push (v, video_frame (0, 1)), GST_FLOW_OK);
  GstSample *sample = app_pull (out);
  fail_unless (sample != NULL, "nothing came back across two clocks");
  gst_sample_unref (sample);
  GstMessage *msg = pop_message (participant, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  GError *error = NULL;
  gst_message_parse_warning (msg, &error, NULL);
  fail_unless (g_error_matches (error, GST_CORE_ERROR, GST_CORE_ERROR_CLOCK));
  g_error_free (error);
  gst_message_unref (msg);

  gst_element_set_state (participant, GST_STATE_NULL);
  for (GstElement *e : {v, out, participant})
    gst_object_unref (e);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
  gst_object_unref (hub_clock);
}
GST_END_TEST;

/* A hub created after the participant started takes the waiting port. */
GST_START_TEST (test_wait_for_hub)
{
  register_test_hubs ();
  GstElement *participant =
      make_pipeline ("videotestsrc is-live=true ! " VIDEO_CAPS " ! "
                     "hubport name=p hub=later wait-for-hub=true ! fakesink");
  GstElement *hubport = by_name (participant, "p");
  set_state_checked (participant, GST_STATE_PLAYING);
  fail_unless_equals_int (get_port (hubport), -1);

  GstElement *hub_pipeline = track_pipeline (gst_pipeline_new (NULL));
  GstElement *hub = gst_element_factory_make ("roomtestmixer", "later");
  gst_bin_add (GST_BIN (hub_pipeline), hub);
  fail_unless (get_port (hubport) >= 0);
  fail_unless_equals_int (count_pads (hub, "sink_"), 1);

  /* The hub goes away: the port detaches with a warning, and comes back
   * when a new hub of that name appears. */
  gst_object_unref (hub_pipeline);
  fail_unless_equals_int (get_port (hubport), -1);
  GstMessage *msg = pop_message (participant, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  GstElement *hub2 = gst_element_factory_make ("roomtestmixer", NULL);
  gst_object_ref_sink (hub2);
  fail_unless_equals_int (get_port (hubport), -1);
  gst_object_set_name (GST_OBJECT (hub2), "later");
  fail_unless (get_port (hubport) >= 0);

  gst_element_set_state (participant, GST_STATE_NULL);
  fail_unless_equals_int (count_pads (hub2, "sink_"), 0);
  gst_object_unref (hub2);
  gst_object_unref (hubport);
  gst_object_unref (participant);
}
GST_END_TEST;

/* Against a mixer: the participant gets the shared output (what every port
 * sends) on `src` and the hub pipeline keeps running when a participant
 * pipeline fails or is thrown away. */
GST_START_TEST (test_mixer_shared_output_and_departures)
{
  register_test_hubs ();
  GstElement *hub_pipeline = make_pipeline (
      "roomtestmixer name=mix mix.src ! fakesink name=out sync=false");
  GstElement *hub = by_name (hub_pipeline, "mix");
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);

  GstElement *sender = make_pipeline (
      "appsrc name=v is-live=true format=time caps=" VIDEO_CAPS " ! "
      "hubport hub=mix");
  GstElement *viewer =
      make_pipeline ("hubport name=p hub=mix ! appsink name=vout sync=false");
  set_state_checked (sender, GST_STATE_PLAYING);
  set_state_checked (viewer, GST_STATE_PLAYING);
  fail_unless_equals_int (count_pads (hub, "sink_"), 2);

  GstElement *vsrc = by_name (sender, "v");
  GstElement *vout = by_name (viewer, "vout");
  fail_unless_equals_int (
      app_push (vsrc, video_frame (running_time_now (sender), 0x7f)),
      GST_FLOW_OK);
  GstSample *sample = app_pull (vout);
  fail_unless (sample != NULL);
  GstMapInfo map;
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  fail_unless_equals_int (map.data[0], 0x7f);
  fail_unless_equals_int (map.data[map.size - 1], 0x7f);
  gst_buffer_unmap (buffer, &map);
  gst_sample_unref (sample);

  /* The sender's pipeline errors out and is thrown away; its port goes. */
  GST_ELEMENT_ERROR (vsrc, STREAM, FAILED, ("participant failure"), (NULL));
  gst_object_unref (vsrc);
  gst_element_set_state (sender, GST_STATE_NULL);
  gst_object_unref (sender);
  fail_unless_equals_int (count_pads (hub, "sink_"), 1);

  /* The viewer is disposed while PLAYING, from its bin: released too. */
  GstElement *p = by_name (viewer, "p");
  gst_bin_remove (GST_BIN (viewer), p);
  fail_unless_equals_int (count_pads (hub, "sink_"), 0);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  gst_object_unref (vout);
  gst_element_set_state (viewer, GST_STATE_NULL);
  gst_object_unref (viewer);

  GstState state;
  fail_unless_equals_int (gst_element_get_state (hub_pipeline, &state, NULL, 0),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (hub_pipeline);
  GstMessage *error = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (error == NULL, "the hub pipeline got an error");
  gst_object_unref (bus);
  gst_object_unref (hub);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

/* A live participant with only `sink` linked reaches PLAYING at once. */
GST_START_TEST (test_live_no_preroll)
{
  register_test_hubs ();
  GstElement *hub = gst_element_factory_make ("roomtestmixer", "lonely");
  gst_object_ref_sink (hub);
  for (const char *description :
      {"videotestsrc is-live=true ! " VIDEO_CAPS " ! hubport hub=lonely",
          "videotestsrc ! " VIDEO_CAPS " ! hubport hub=lonely"}) {
    GstElement *participant = make_pipeline (description);
    fail_unless_equals_int (
        gst_element_set_state (participant, GST_STATE_PAUSED),
        GST_STATE_CHANGE_NO_PREROLL);
    GstStateChangeReturn ret =
        gst_element_set_state (participant, GST_STATE_PLAYING);
    fail_unless (
        ret == GST_STATE_CHANGE_SUCCESS || ret == GST_STATE_CHANGE_NO_PREROLL,
        "%s: %s", description, gst_element_state_change_return_get_name (ret));
    GstState state;
    gst_element_get_state (participant, &state, NULL, 0);
    fail_unless_equals_int (state, GST_STATE_PLAYING);
    gst_element_set_state (participant, GST_STATE_NULL);
    gst_object_unref (participant);
  }
  gst_object_unref (hub);
}
GST_END_TEST;

/* ---------------------------------------------------------------------- */
/* With the real hubs */

/* The real hubs are required: a test without one fails, by name, rather
 * than passing without having run. */
static void
require_element (const char *name)
{
  GstElementFactory *f = gst_element_factory_find (name);
  fail_unless (f != NULL,
      "element %s is required and not registered (is the roomhub plugin "
      "built, and on GST_PLUGIN_PATH=%s?)",
      name, g_getenv ("GST_PLUGIN_PATH"));
  gst_object_unref (f);
}

struct Rect {
  guint port;
  gint x, y, width, height;
};

/* Waits for the next mcucompositor-layout message; returns its tiles. */
static bool
next_layout (GstBus *bus, std::vector<Rect> &tiles)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
    if (msg == NULL)
      continue;
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
        "error in the hub pipeline");
    const GstStructure *s = gst_message_get_structure (msg);
    if (!gst_structure_has_name (s, "mcucompositor-layout")) {
      gst_message_unref (msg);
      continue;
    }
    tiles.clear ();
    const GValue *ports = gst_structure_get_value (s, "ports");
    for (guint i = 0; ports && i < gst_value_array_get_size (ports); i++) {
      const GstStructure *tile =
          gst_value_get_structure (gst_value_array_get_value (ports, i));
      Rect r;
      fail_unless (gst_structure_get (tile, "port", G_TYPE_UINT, &r.port, "x",
          G_TYPE_INT, &r.x, "y", G_TYPE_INT, &r.y, "width", G_TYPE_INT,
          &r.width, "height", G_TYPE_INT, &r.height, NULL));
      tiles.push_back (r);
    }
    gst_message_unref (msg);
    return true;
  }
  return false;
}

/* HUBPORT_TEST_ROUNDS overrides the 100 rounds when hunting a problem. */
static int
join_rounds (void)
{
  const char *env = g_getenv ("HUBPORT_TEST_ROUNDS");
  return env ? atoi (env) : 100;
}

/* Each test names its hub differently, so a hub of an earlier test that is
 * still being torn down can never be found instead. */
static std::string
mcu_hub (const std::string &name)
{
  return "mcucompositor name=" + name
         + " width=320 height=240 framerate=60/1 ! fakesink sync=false "
           "videotestsrc is-live=true pattern=blue "
           "! video/x-raw,width=160,height=120,framerate=30/1 ! "
         + name + ".sink_0";
}

/* Port 0 of the hub's own pipeline plus a participant from another pipeline,
 * joining and leaving 100 times: each join shows the participant in the
 * right half of a 1x2 grid, each departure gives the whole frame back. */
GST_START_TEST (test_mcu_join_leave)
{
  require_element ("mcucompositor");
  GstElement *hub_pipeline = make_pipeline (mcu_hub ("mcu-join").c_str ());
  GstElement *mcu = by_name (hub_pipeline, "mcu-join");
  GstBus *bus = gst_element_get_bus (hub_pipeline);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  std::vector<Rect> tiles;
  do {
    fail_unless (next_layout (bus, tiles));
  } while (tiles.size () != 1);

  for (int round = 0; round < join_rounds (); round++) {
    GstElement *participant =
        make_pipeline ("videotestsrc is-live=true pattern=red "
                       "! video/x-raw,width=160,height=120,framerate=30/1 "
                       "! hubport name=p hub=mcu-join");
    GstElement *hubport = by_name (participant, "p");
    set_state_checked (participant, GST_STATE_PLAYING);
    gint port = get_port (hubport);
    fail_unless (port > 0);
    do {
      fail_unless (next_layout (bus, tiles), "round %d: no layout", round);
    } while (tiles.size () != 2);
    fail_unless_equals_int (tiles[0].port, 0);
    fail_unless_equals_int (tiles[1].port, port);
    fail_unless (tiles[0].x == 0 && tiles[0].y == 60 && tiles[0].width == 160
                 && tiles[0].height == 120);
    fail_unless (tiles[1].x == 160 && tiles[1].y == 60 && tiles[1].width == 160
                     && tiles[1].height == 120,
        "round %d: port %d at %d,%d %dx%d", round, port, tiles[1].x, tiles[1].y,
        tiles[1].width, tiles[1].height);

    /* Leave: a third of the time by removal from the bin, a third after an
     * error in the participant pipeline, else by going to NULL. */
    int leave = g_getenv ("HUBPORT_TEST_LEAVE")
                    ? atoi (g_getenv ("HUBPORT_TEST_LEAVE"))
                    : round % 3;
    if (leave == 0) {
      gst_bin_remove (GST_BIN (participant), hubport);
      gst_element_set_state (hubport, GST_STATE_NULL);
    } else if (leave == 1) {
      GST_ELEMENT_ERROR (
          hubport, STREAM, FAILED, ("participant failed"), (NULL));
    }
    gst_element_set_state (participant, GST_STATE_NULL);
    fail_unless_equals_int (count_pads (mcu, "sink_"), 1);
    do {
      fail_unless (next_layout (bus, tiles), "round %d: no layout", round);
    } while (tiles.size () != 1);
    fail_unless_equals_int (tiles[0].port, 0);
    fail_unless_equals_int (tiles[0].width, 320);
    gst_object_unref (hubport);
    gst_object_unref (participant);
  }

  GstState state;
  gst_element_get_state (hub_pipeline, &state, NULL, 0);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  gst_object_unref (mcu);
  gst_object_unref (bus);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

static bool
pixel_is (const GstMapInfo &map, gint stride, gint x, gint y, guint8 r,
    guint8 g, guint8 b)
{
  const guint8 *p = map.data + y * stride + x * 3;
  return std::abs (p[0] - r) < 40 && std::abs (p[1] - g) < 40
         && std::abs (p[2] - b) < 40;
}

/* The participant sees the composite on its `src`: itself (red) on the
 * right, port 0 (blue) on the left. */
GST_START_TEST (test_mcu_composite_to_participant)
{
  require_element ("mcucompositor");
  GstElement *hub_pipeline = make_pipeline (mcu_hub ("mcu-composite").c_str ());
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstElement *participant =
      make_pipeline ("videotestsrc is-live=true pattern=red "
                     "! video/x-raw,width=160,height=120,framerate=30/1 "
                     "! hubport name=p hub=mcu-composite ! videoconvert "
                     "! video/x-raw,format=RGB,width=320,height=240 "
                     "! appsink name=out sync=false max-buffers=2 drop=true");
  GstElement *out = by_name (participant, "out");
  set_state_checked (participant, GST_STATE_PLAYING);

  bool seen = false;
  for (int i = 0; i < 120 && !seen; i++) {
    GstSample *sample = app_pull (out);
    fail_unless (sample != NULL, "no composite frame");
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    gint stride = GST_ROUND_UP_4 (320 * 3);
    seen = pixel_is (map, stride, 240, 120, 255, 0, 0)
           && pixel_is (map, stride, 80, 120, 0, 0, 255)
           && pixel_is (map, stride, 160, 10, 0, 0, 0);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
  fail_unless (seen, "the participant never saw itself in the composite");

  gst_element_set_state (participant, GST_STATE_NULL);
  gst_object_unref (out);
  gst_object_unref (participant);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

/* Two participants on a dispatcher: what is routed to port A arrives on A's
 * `src` (B's green), pixels and all. */
GST_START_TEST (test_dispatcher_route_to_port)
{
  require_element ("dispatcher");
  GstElement *hub_pipeline =
      make_pipeline ("dispatcher name=d ! fakesink sync=false async=false "
                     "d.audio_src ! fakesink sync=false async=false");
  GstElement *d = by_name (hub_pipeline, "d");
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstElement *a = make_pipeline (
      "videotestsrc is-live=true pattern=red "
      "! video/x-raw,width=160,height=120,framerate=30/1 "
      "! hubport name=p hub=d ! videoconvert ! video/x-raw,format=RGB "
      "! appsink name=out sync=false max-buffers=2 drop=true");
  GstElement *b =
      make_pipeline ("videotestsrc is-live=true pattern=green "
                     "! video/x-raw,width=160,height=120,framerate=30/1 "
                     "! hubport name=p hub=d");
  set_state_checked (a, GST_STATE_PLAYING);
  set_state_checked (b, GST_STATE_PLAYING);
  GstElement *pa = by_name (a, "p"), *pb = by_name (b, "p");
  gint port_a = get_port (pa), port_b = get_port (pb);
  fail_unless (port_a >= 0 && port_b >= 0 && port_a != port_b);
  std::string routes = std::to_string (port_b) + ">" + std::to_string (port_a);
  g_object_set (d, "routes", routes.c_str (), NULL);

  GstElement *out = by_name (a, "out");
  bool green = false;
  for (int i = 0; i < 120 && !green; i++) {
    GstSample *sample = app_pull (out);
    fail_unless (sample != NULL, "nothing routed to port %d", port_a);
    GstMapInfo map;
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    green = pixel_is (map, GST_ROUND_UP_4 (160 * 3), 80, 60, 0, 255, 0);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
  fail_unless (green, "port %d never got port %d's picture", port_a, port_b);

  for (GstElement *p : {a, b})
    gst_element_set_state (p, GST_STATE_NULL);
  fail_unless_equals_int (count_pads (d, "sink_"), 0);
  fail_unless_equals_int (count_pads (d, "src_"), 0);
  for (GstElement *e : {out, pa, pb, a, b, d})
    gst_object_unref (e);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

/* Clock time (running time + base time) of every buffer, by buffer offset
 * (frame number / sample number set by the test sources). */
struct OffsetTimes {
  GMutex lock;
  std::map<guint64, GstClockTime> times;
};

static GstPadProbeReturn
record_by_offset (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  OffsetTimes *rec = (OffsetTimes *)data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstEvent *seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (seg_event == NULL)
    return GST_PAD_PROBE_OK;
  const GstSegment *segment;
  gst_event_parse_segment (seg_event, &segment);
  GstClockTime rt = gst_segment_to_running_time (
      segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
  gst_event_unref (seg_event);
  GstElement *element = gst_pad_get_parent_element (pad);
  GstClockTime base = gst_element_get_base_time (element);
  gst_object_unref (element);
  g_mutex_lock (&rec->lock);
  rec->times[GST_BUFFER_OFFSET (buffer)] = rt + base;
  g_mutex_unlock (&rec->lock);
  return GST_PAD_PROBE_OK;
}

static void
add_offset_probe (GstElement *element, const char *pad_name, OffsetTimes *rec)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);
  fail_unless (pad != NULL);
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER, record_by_offset, rec, NULL);
  gst_object_unref (pad);
}

/* Largest |hub clock time - participant clock time| over matching buffers. */
static GstClockTimeDiff
worst_skew (OffsetTimes &participant, OffsetTimes &hub, guint *matched)
{
  GstClockTimeDiff worst = 0;
  *matched = 0;
  g_mutex_lock (&participant.lock);
  g_mutex_lock (&hub.lock);
  for (auto &entry : hub.times) {
    auto it = participant.times.find (entry.first);
    if (it == participant.times.end ())
      continue;
    GstClockTimeDiff skew =
        std::abs (GST_CLOCK_DIFF (it->second, entry.second));
    worst = MAX (worst, skew);
    (*matched)++;
  }
  g_mutex_unlock (&hub.lock);
  g_mutex_unlock (&participant.lock);
  return worst;
}

/* Live audio and video from a participant started later than the hub (so
 * the base times differ) reach the dispatcher's outputs at the same clock
 * time they stand for in the participant pipeline, within 20 ms. */
/* RTP fanned out to a participant that lags: a keyframe's burst of packets
 * waits for it rather than being cut to the last few (a lost packet breaks
 * the picture until the next keyframe). */
GST_START_TEST (test_dispatcher_rtp_burst_kept)
{
  require_element ("dispatcher");
  GstElement *hub_pipeline = make_pipeline (
      "appsrc name=src is-live=true format=time "
      "caps=application/x-rtp,media=video,encoding-name=VP8,payload=96,"
      "clock-rate=90000 ! dispatcher name=d source=0 "
      "! fakesink sync=false async=false");
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstElement *participant = make_pipeline (
      "hubport name=p hub=d ! appsink name=out sync=false async=false");
  set_state_checked (participant, GST_STATE_PLAYING);
  GstElement *p = by_name (participant, "p");
  fail_unless (get_port (p) >= 0);
  GstElement *out = by_name (participant, "out");
  GstPad *sink = gst_element_get_static_pad (out, "sink");
  /* The participant stalls on its first packet... */
  gulong block = gst_pad_add_probe (
      sink, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM,
      [] (GstPad *, GstPadProbeInfo *, gpointer) { return GST_PAD_PROBE_OK; },
      NULL, NULL);

  /* ...while the hub forwards a burst of 200: 100 one by one, then 100 as
   * lists of 10 (a payloader's frames), which the dispatcher and the hubport
   * pass on as lists. */
  const guint n = 200;
  GstElement *src = by_name (hub_pipeline, "src");
  GstClockTime now = running_time_now (hub_pipeline);
  GstBufferList *list = NULL;
  for (guint i = 0; i < n; i++) {
    GstBuffer *buffer = gst_buffer_new_allocate (NULL, 4, NULL);
    gst_buffer_memset (buffer, 0, (guint8)i, 4);
    GST_BUFFER_PTS (buffer) = now + i * GST_MSECOND;
    GST_BUFFER_OFFSET (buffer) = i;
    GstFlowReturn ret = GST_FLOW_OK;
    if (i < n / 2) {
      g_signal_emit_by_name (src, "push-buffer", buffer, &ret);
      gst_buffer_unref (buffer);
    } else {
      if (!list)
        list = gst_buffer_list_new ();
      gst_buffer_list_add (list, buffer);
      if (gst_buffer_list_length (list) == 10) {
        /* The list is handed over, not shared: appsrc then holds its only
         * reference.  With the "push-buffer-list" signal (which refs it) and
         * our unref racing the streaming thread, GStreamer 1.22's
         * gst_base_src_submit_buffer_list() could copy the shared list and
         * then log the length of the original after we freed it (a rare
         * critical in this test, with logging on for the leaks tracer). */
        ret = gst_app_src_push_buffer_list (GST_APP_SRC (src), list);
        list = NULL;
      }
    }
    fail_unless_equals_int (ret, GST_FLOW_OK);
  }
  g_usleep (200 * 1000);
  gst_pad_remove_probe (sink, block);

  for (guint i = 0; i < n; i++) {
    GstSample *sample = app_pull (out);
    fail_unless (sample != NULL, "packet %u of %u never arrived", i, n);
    GstMapInfo map;
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    fail_unless_equals_int (map.data[0], (guint8)i);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }

  gst_object_unref (sink);
  gst_element_set_state (participant, GST_STATE_NULL);
  for (GstElement *e : {p, out, src})
    gst_object_unref (e);
  gst_object_unref (participant);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

GST_START_TEST (test_dispatcher_av_sync)
{
  require_element ("dispatcher");
  GstElement *hub_pipeline = make_pipeline (
      "dispatcher name=d source=0 ! fakesink name=vsink sync=false "
      "async=false d.audio_src ! fakesink name=asink sync=false async=false");
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  g_usleep (30 * 1000); /* only so that the base times differ */
  GstElement *participant = make_pipeline (
      "videotestsrc is-live=true "
      "! video/x-raw,width=160,height=120,framerate=30/1 "
      "! hubport name=p hub=d "
      "audiotestsrc is-live=true samplesperbuffer=480 ! " AUDIO_CAPS
      " ! p.audio_sink");
  GstElement *hubport = by_name (participant, "p");
  GstElement *vsink = by_name (hub_pipeline, "vsink");
  GstElement *asink = by_name (hub_pipeline, "asink");
  OffsetTimes pv, pa, hv, ha;
  for (OffsetTimes *r : {&pv, &pa, &hv, &ha})
    g_mutex_init (&r->lock);
  add_offset_probe (hubport, "sink", &pv);
  add_offset_probe (hubport, "audio_sink", &pa);
  add_offset_probe (vsink, "sink", &hv);
  add_offset_probe (asink, "sink", &ha);
  set_state_checked (participant, GST_STATE_PLAYING);
  fail_unless_equals_int (get_port (hubport), 0);
  fail_unless (gst_element_get_base_time (participant)
               != gst_element_get_base_time (hub_pipeline));

  guint video_matched = 0, audio_matched = 0;
  GstClockTimeDiff video_skew = 0, audio_skew = 0;
  for (int i = 0; i < 100 && (video_matched < 10 || audio_matched < 30); i++) {
    g_usleep (20 * 1000);
    video_skew = worst_skew (pv, hv, &video_matched);
    audio_skew = worst_skew (pa, ha, &audio_matched);
  }
  gst_element_set_state (participant, GST_STATE_NULL);
  fail_unless (video_matched >= 10 && audio_matched >= 30,
      "only %u video and %u audio buffers crossed", video_matched,
      audio_matched);
  GST_INFO ("worst skew: video %" GST_STIME_FORMAT ", audio %" GST_STIME_FORMAT,
      GST_STIME_ARGS (video_skew), GST_STIME_ARGS (audio_skew));
  fail_unless (video_skew <= 20 * GST_MSECOND, "video skew %" GST_STIME_FORMAT,
      GST_STIME_ARGS (video_skew));
  fail_unless (audio_skew <= 20 * GST_MSECOND, "audio skew %" GST_STIME_FORMAT,
      GST_STIME_ARGS (audio_skew));

  for (GstElement *e : {hubport, vsink, asink, participant})
    gst_object_unref (e);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
  for (OffsetTimes *r : {&pv, &pa, &hv, &ha})
    g_mutex_clear (&r->lock);
}
GST_END_TEST;

/* wait-for-hub with a real mcucompositor created later, in a pipeline of
 * its own; then the hub goes away under the attached port. */
GST_START_TEST (test_mcu_wait_then_hub_disposed)
{
  require_element ("mcucompositor");
  GstElement *participant =
      make_pipeline ("videotestsrc is-live=true pattern=red "
                     "! video/x-raw,width=160,height=120,framerate=30/1 "
                     "! hubport name=p hub=late-mcu wait-for-hub=true");
  GstElement *hubport = by_name (participant, "p");
  set_state_checked (participant, GST_STATE_PLAYING);
  fail_unless_equals_int (get_port (hubport), -1);

  GstElement *hub_pipeline = make_pipeline (
      "mcucompositor name=late-mcu width=320 height=240 framerate=60/1 "
      "! fakesink sync=false");
  gint port = get_port (hubport);
  fail_unless (port >= 0, "the port did not attach to the new hub");
  GstBus *bus = gst_element_get_bus (hub_pipeline);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  std::vector<Rect> tiles;
  do {
    fail_unless (next_layout (bus, tiles));
  } while (tiles.size () != 1);
  fail_unless_equals_int (tiles[0].port, port);
  gst_object_unref (bus);

  /* The hub's pipeline ends while the participant plays on. */
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
  fail_unless_equals_int (get_port (hubport), -1);
  GstMessage *msg = pop_message (participant, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  GstState state;
  gst_element_get_state (participant, &state, NULL, 0);
  fail_unless_equals_int (state, GST_STATE_PLAYING);

  gst_element_set_state (participant, GST_STATE_NULL);
  gst_object_unref (hubport);
  gst_object_unref (participant);
}
GST_END_TEST;

/* A participant pipeline that reaches EOS releases its port (the hub
 * re-lays out at once) and ends; the hub, whose only input that was, goes
 * on instead of ending. */
GST_START_TEST (test_mcu_participant_eos)
{
  require_element ("mcucompositor");
  GstElement *hub_pipeline = make_pipeline (
      "mcucompositor name=mcu-eos width=320 height=240 framerate=60/1 "
      "! fakesink sync=false");
  GstElement *mcu = by_name (hub_pipeline, "mcu-eos");
  GstBus *bus = gst_element_get_bus (hub_pipeline);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstElement *participant =
      make_pipeline ("videotestsrc is-live=true num-buffers=15 "
                     "! video/x-raw,width=160,height=120,framerate=30/1 "
                     "! hubport name=p hub=mcu-eos");
  set_state_checked (participant, GST_STATE_PLAYING);
  std::vector<Rect> tiles;
  do {
    fail_unless (next_layout (bus, tiles));
  } while (tiles.size () != 1);
  GstMessage *msg = pop_message (participant, GST_MESSAGE_EOS);
  fail_unless (msg != NULL, "the participant pipeline did not end");
  gst_message_unref (msg);
  fail_unless_equals_int (count_pads (mcu, "sink_"), 0);
  do {
    fail_unless (next_layout (bus, tiles));
  } while (tiles.size () != 0);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_EOS) == NULL);

  gst_element_set_state (participant, GST_STATE_NULL);
  gst_object_unref (participant);
  gst_object_unref (bus);
  gst_object_unref (mcu);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub_pipeline);
}
GST_END_TEST;

/* ---------------------------------------------------------------------- */
/* Loops: a hubport fed by the hub it feeds */

/* Sets @description PLAYING and returns the first error or EOS within 10 s
 * (NULL: neither, the pipeline hangs). */
static GstMessage *
run_until_error_or_eos (GstElement *pipeline)
{
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  return pop_message (
      pipeline, (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
}

/* @msg is the hubport's refusal of a loop through @hub. */
static void
check_loop_error (GstMessage *msg, const char *hub)
{
  fail_unless (msg != NULL, "neither an error nor EOS within 10 s: the loop "
                            "hangs");
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
      "the loop was not refused (%s)", GST_MESSAGE_TYPE_NAME (msg));
  GstElementFactory *factory =
      gst_element_get_factory (GST_ELEMENT (GST_MESSAGE_SRC (msg)));
  fail_unless (
      factory != NULL && g_str_equal (GST_OBJECT_NAME (factory), "hubport"),
      "the error came from %s", GST_MESSAGE_SRC_NAME (msg));
  GError *error = NULL;
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (g_error_matches (error, GST_CORE_ERROR, GST_CORE_ERROR_PAD),
      "%s", error->message);
  std::string expected = std::string ("fed by its own hub '") + hub + "'";
  fail_unless (strstr (error->message, expected.c_str ()) != NULL,
      "unclear error: %s", error->message);
  g_error_free (error);
}

/* The composite of an mcucompositor into a hubport attached to it: refused
 * with an error (it overflowed the stack in the latency query). */
GST_START_TEST (test_loop_mcu_refused)
{
  require_element ("mcucompositor");
  GstElement *pipeline = make_pipeline (
      "mcucompositor name=loop-mcu width=160 height=120 framerate=30/1 "
      "! hubport name=p hub=loop-mcu ! fakesink async=false");
  GstMessage *msg = run_until_error_or_eos (pipeline);
  check_loop_error (msg, "loop-mcu");
  gst_message_unref (msg);
  GstElement *p = by_name (pipeline, "p");
  fail_unless_equals_int (get_port (p), -1);
  gst_object_unref (p);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* A dispatcher's output into a hubport attached to it, directly and through
 * other elements: refused (it hung, the pipeline's EOS waiting on itself). */
GST_START_TEST (test_loop_dispatcher_refused)
{
  require_element ("dispatcher");
  for (const char *description :
      {"videotestsrc is-live=true num-buffers=30 ! loop-d.sink_0 "
       "dispatcher name=loop-d source=0 ! fakesink async=false "
       "loop-d. ! hubport hub=loop-d ! fakesink async=false",
          "videotestsrc is-live=true num-buffers=30 ! loop-d.sink_0 "
          "dispatcher name=loop-d source=0 ! fakesink async=false "
          "loop-d.src_0 ! queue ! videoconvert ! hubport hub=loop-d "
          "! fakesink async=false"}) {
    GstElement *pipeline = make_pipeline (description);
    GstMessage *msg = run_until_error_or_eos (pipeline);
    check_loop_error (msg, "loop-d");
    gst_message_unref (msg);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
}
GST_END_TEST;

/* A loop made after the port attached (nothing refuses it then): a latency
 * query that goes round it comes back answered instead of recursing until
 * the stack overflows. */
GST_START_TEST (test_loop_made_later_queries_return)
{
  require_element ("mcucompositor");
  GstElement *pipeline = make_pipeline (
      "mcucompositor name=later-loop width=160 height=120 framerate=30/1 "
      "! tee name=t ! fakesink sync=false async=false "
      "t. ! valve name=v drop=true "
      "videotestsrc is-live=true "
      "! video/x-raw,width=160,height=120,framerate=30/1 ! later-loop.sink_0 "
      "hubport name=p hub=later-loop");
  GstElement *v = by_name (pipeline, "v");
  GstElement *p = by_name (pipeline, "p");
  set_state_checked (pipeline, GST_STATE_PLAYING);
  fail_unless (get_port (p) >= 0);
  /* The composite now comes back into the port (the valve lets queries and
   * events through, not buffers). */
  fail_unless (gst_element_link_pads (v, "src", p, "sink"));

  for (int i = 0; i < 3; i++) {
    GstQuery *query = gst_query_new_latency ();
    fail_unless (gst_element_query (pipeline, query));
    gboolean live;
    gst_query_parse_latency (query, &live, NULL, NULL);
    fail_unless (live);
    gst_query_unref (query);
    /* The latency event goes round the loop too, and returns. */
    gst_bin_recalculate_latency (GST_BIN (pipeline));
  }
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *error = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (error == NULL, "error from %s", GST_MESSAGE_SRC_NAME (error));
  gst_object_unref (bus);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (v);
  gst_object_unref (p);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* ---------------------------------------------------------------------- */
/* The timeline rule (DESIGN §3.3) */

/* What crosses a pad on the participant's side, seen from a streaming thread:
 * recorded here, asserted on by the test thread. */
struct Arrivals {
  GMutex lock;
  GCond changed;
  GstClock *clock = NULL;               /* to read the time of arrival */
  std::vector<GstClockTime> running;    /* running time of each buffer */
  std::vector<bool> keyframe;           /* no DELTA_UNIT flag */
  std::vector<GstClockTime> arrived_at; /* clock time when it passed */
  bool without_segment = false;         /* a buffer came before a segment */

  Arrivals ()
  {
    g_mutex_init (&lock);
    g_cond_init (&changed);
  }
  ~Arrivals ()
  {
    g_cond_clear (&changed);
    g_mutex_clear (&lock);
  }
  size_t count ()
  {
    g_mutex_lock (&lock);
    size_t n = running.size ();
    g_mutex_unlock (&lock);
    return n;
  }
  /* Waits (up to 5 s) for at least @n buffers. */
  bool wait_for (size_t n, gint64 timeout = 5 * G_TIME_SPAN_SECOND)
  {
    gint64 deadline = g_get_monotonic_time () + timeout;
    g_mutex_lock (&lock);
    while (running.size () < n && g_cond_wait_until (&changed, &lock, deadline))
      ;
    bool enough = running.size () >= n;
    g_mutex_unlock (&lock);
    return enough;
  }
};

static void
record_arrival_of (GstPad *pad, GstBuffer *buffer, Arrivals *rec)
{
  GstClockTime now = rec->clock ? gst_clock_get_time (rec->clock) : 0;
  GstEvent *seg_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  GstClockTime rt = GST_CLOCK_TIME_NONE;
  if (seg_event) {
    const GstSegment *segment;
    gst_event_parse_segment (seg_event, &segment);
    rt = gst_segment_to_running_time (
        segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
    gst_event_unref (seg_event);
  }
  g_mutex_lock (&rec->lock);
  if (seg_event == NULL)
    rec->without_segment = true;
  rec->running.push_back (rt);
  rec->keyframe.push_back (
      !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT));
  rec->arrived_at.push_back (now);
  g_cond_broadcast (&rec->changed);
  g_mutex_unlock (&rec->lock);
}

/* Buffers and lists of buffers (the hubport pushes what queued up together
 * as one list).  A list pushed to a pad without a chain-list function is
 * split by GStreamer and seen again buffer by buffer: probe such a pad for
 * buffers only. */
static GstPadProbeReturn
record_arrival (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Arrivals *rec = (Arrivals *)data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    record_arrival_of (pad, GST_PAD_PROBE_INFO_BUFFER (info), rec);
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      record_arrival_of (pad, gst_buffer_list_get (list, i), rec);
  }
  return GST_PAD_PROBE_OK;
}

static void
add_arrival_probe (GstElement *element, const char *pad_name, Arrivals *rec,
    bool lists = false)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);
  fail_unless (pad != NULL, "no pad %s", pad_name);
  int types = GST_PAD_PROBE_TYPE_BUFFER;
  if (lists)
    types |= GST_PAD_PROBE_TYPE_BUFFER_LIST;
  gst_pad_add_probe (pad, (GstPadProbeType)types, record_arrival, rec, NULL);
  gst_object_unref (pad);
}

/* Lets a live hub on @clock send one more frame (seen by @frames): moves the
 * clock to each of its clock waits and releases it until the frame comes (a
 * wait may be given up and made again, e.g. when the hub gets a new pad).
 * False when no frame came within 5 s. */
static bool
crank_one_frame (GstTestClock *clock, Arrivals &frames)
{
  size_t before = frames.count ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (frames.count () == before && g_get_monotonic_time () < deadline) {
    GList *ids = NULL;
    if (!gst_test_clock_timed_wait_for_multiple_pending_ids (
            clock, 1, 100, &ids))
      continue;
    GstClockTime due = gst_clock_id_get_time ((GstClockID)ids->data);
    if (due > gst_clock_get_time (GST_CLOCK (clock)))
      gst_test_clock_set_time (clock, due);
    gst_test_clock_process_id_list (clock, ids);
    g_list_free_full (ids, (GDestroyNotify)gst_clock_id_unref);
    frames.wait_for (before + 1, 20 * G_TIME_SPAN_MILLISECOND);
  }
  return frames.count () > before;
}

/* A participant joins a room whose composite has run for 2 s (on a test
 * clock) and encodes what it receives (`hubport ! vp8enc`; vp8enc dropped
 * every frame before: "pts does not match input frames").  Every composite
 * frame from its joining on arrives with its clock time kept (running time +
 * base time the same on both sides) and comes out of the encoder, a keyframe
 * first, with increasing timestamps; the first one's running time is the
 * clock time minus the participant's base time when it arrived. */
GST_START_TEST (test_late_participant_encodes)
{
  require_element ("mcucompositor");
  GstClock *clock = gst_test_clock_new_with_start_time (GST_SECOND);
  GstTestClock *test_clock = GST_TEST_CLOCK (clock);
  GstElement *hub_pipeline = make_pipeline (
      "mcucompositor name=late-join-mcu width=160 height=120 framerate=30/1 "
      "! fakesink sync=false async=false");
  gst_pipeline_use_clock (GST_PIPELINE (hub_pipeline), clock);
  GstElement *hub = by_name (hub_pipeline, "late-join-mcu");
  Arrivals composite;
  add_arrival_probe (hub, "src", &composite);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstClockTime hub_base = gst_element_get_base_time (hub_pipeline);
  const GstClockTime frame = GST_SECOND / 30;

  /* The room runs for 2 s: the compositor waits on the clock for each frame
   * (with no input it sends its background). */
  for (int i = 0; i < 60; i++)
    fail_unless (crank_one_frame (test_clock, composite),
        "the composite stopped at frame %d", i);

  /* It joins between two frames, as anyone would. */
  gst_test_clock_advance_time (test_clock, frame / 3 + 7);
  GstElement *participant = make_pipeline (
      "hubport name=p hub=late-join-mcu ! videoconvert name=convert "
      "! vp8enc name=enc deadline=1 ! appsink sync=false");
  gst_pipeline_use_clock (GST_PIPELINE (participant), clock);
  GstElement *convert = by_name (participant, "convert");
  GstElement *enc = by_name (participant, "enc");
  Arrivals raw, encoded;
  raw.clock = clock;
  add_arrival_probe (convert, "sink", &raw);
  add_arrival_probe (enc, "src", &encoded);
  set_state_checked (participant, GST_STATE_PLAYING);
  GstClockTime participant_base = gst_element_get_base_time (participant);
  fail_unless (participant_base > hub_base + GST_SECOND);

  /* One more second of the room, each composite frame waited for at the
   * participant (its queue holds only a few raw frames): every frame whose
   * clock time is the participant's base time or later. */
  std::vector<GstClockTime> expected; /* clock times */
  auto expect = [&] () {
    expected.clear ();
    g_mutex_lock (&composite.lock);
    for (GstClockTime rt : composite.running)
      if (rt + hub_base >= participant_base)
        expected.push_back (rt + hub_base);
    g_mutex_unlock (&composite.lock);
  };
  for (int i = 0; i < 30; i++) {
    fail_unless (
        crank_one_frame (test_clock, composite), "the composite stopped");
    expect ();
    fail_unless (raw.wait_for (expected.size ()),
        "composite frame %d did not reach the participant", i);
  }
  g_usleep (20 * 1000); /* a frame the last crank let go as well */
  expect ();
  raw.wait_for (expected.size ());
  fail_unless (expected.size () >= 28, "only %u frames after joining",
      (guint)expected.size ());
  fail_unless (encoded.wait_for (expected.size ()),
      "only %u of %u frames came out of the encoder", (guint)encoded.count (),
      (guint)expected.size ());

  g_mutex_lock (&raw.lock);
  fail_if (raw.without_segment);
  fail_unless_equals_int (raw.running.size (), expected.size ());
  for (size_t i = 0; i < expected.size (); i++)
    fail_unless_equals_uint64 (raw.running[i] + participant_base, expected[i]);
  GstClockTime now_rt = raw.arrived_at[0] - participant_base;
  fail_unless (raw.running[0] <= now_rt && now_rt - raw.running[0] <= 2 * frame,
      "first running time %" GST_TIME_FORMAT
      " against clock time minus base time %" GST_TIME_FORMAT,
      GST_TIME_ARGS (raw.running[0]), GST_TIME_ARGS (now_rt));
  g_mutex_lock (&encoded.lock);
  fail_unless_equals_int (encoded.running.size (), raw.running.size ());
  fail_unless (encoded.keyframe[0], "the encoded stream starts with a delta");
  for (size_t i = 0; i < encoded.running.size (); i++) {
    fail_unless_equals_uint64 (encoded.running[i], raw.running[i]);
    fail_unless (i == 0 || encoded.running[i] > encoded.running[i - 1]);
  }
  g_mutex_unlock (&encoded.lock);
  g_mutex_unlock (&raw.lock);

  gst_element_set_state (participant, GST_STATE_NULL);
  for (GstElement *e : {convert, enc, participant})
    gst_object_unref (e);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_object_unref (hub);
  gst_object_unref (hub_pipeline);
  gst_object_unref (clock);
}
GST_END_TEST;

/* Force-key-unit events that reach the room's encoder (stood in for by the
 * test's own pad), counted from whichever thread sends them. */
static gboolean
count_keyframe_requests (GstPad *pad, GstObject *, GstEvent *event)
{
  if (gst_video_event_is_force_key_unit (event))
    g_atomic_int_inc ((gint *)g_object_get_data (G_OBJECT (pad), "requests"));
  gst_event_unref (event);
  return TRUE;
}

/* Encoded video forwarded by a dispatcher to a participant that joins late:
 * frames from before it joined (by their clock time) never reach it, delta
 * units wait for a keyframe, which the hubport asks for at once, and the
 * participant's stream starts at that keyframe at the clock time it stands
 * for. */
GST_START_TEST (test_late_participant_starts_at_keyframe)
{
  require_element ("dispatcher");
  GstClock *clock = gst_test_clock_new_with_start_time (GST_SECOND);
  GstTestClock *test_clock = GST_TEST_CLOCK (clock);
  GstElement *hub_pipeline = make_pipeline (
      "dispatcher name=key-d source=0 ! fakesink sync=false async=false");
  gst_pipeline_use_clock (GST_PIPELINE (hub_pipeline), clock);
  GstElement *d = by_name (hub_pipeline, "key-d");
  /* The room's encoder: a pad of the test, pushing from this thread. */
  gint requests = 0;
  GstPad *encoder = gst_pad_new ("encoder", GST_PAD_SRC);
  g_object_set_data (G_OBJECT (encoder), "requests", &requests);
  gst_pad_set_event_function (encoder, count_keyframe_requests);
  gst_pad_set_active (encoder, TRUE);
  GstPad *input = gst_element_request_pad_simple (d, "sink_%u");
  fail_unless_equals_int (gst_pad_link (encoder, input), GST_PAD_LINK_OK);
  set_state_checked (hub_pipeline, GST_STATE_PLAYING);
  GstClockTime hub_base = gst_element_get_base_time (hub_pipeline);
  const GstClockTime frame = GST_SECOND / 30;
  gst_pad_push_event (encoder, gst_event_new_stream_start ("encoder"));
  GstCaps *caps =
      gst_caps_from_string ("video/x-vp8,width=160,height=120,framerate=30/1");
  gst_pad_push_event (encoder, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (encoder, gst_event_new_segment (&segment));

  /* An encoded frame of the room's running time @pts, sent at clock time
   * @sent_at. */
  auto send = [&] (GstClockTime pts, bool keyframe, GstClockTime sent_at) {
    gst_test_clock_set_time (test_clock, sent_at);
    GstBuffer *buffer = gst_buffer_new_allocate (NULL, 8, NULL);
    GST_BUFFER_PTS (buffer) = pts;
    GST_BUFFER_DURATION (buffer) = frame;
    if (!keyframe)
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    fail_unless_equals_int (gst_pad_push (encoder, buffer), GST_FLOW_OK);
  };
  guint n = 0;
  for (; n < 60; n++)
    send (n * frame, n == 0, hub_base + n * frame);

  gst_test_clock_set_time (test_clock, hub_base + n * frame);
  GstElement *participant =
      make_pipeline ("hubport name=p hub=key-d ! appsink name=out sync=false");
  gst_pipeline_use_clock (GST_PIPELINE (participant), clock);
  GstElement *p = by_name (participant, "p");
  GstElement *out = by_name (participant, "out");
  Arrivals got;
  add_arrival_probe (out, "sink", &got, true); /* appsink takes lists */
  set_state_checked (participant, GST_STATE_PLAYING);
  GstClockTime participant_base = gst_element_get_base_time (participant);

  /* A keyframe that stands for a moment before the participant joined
   * (late, it arrives now): the dispatcher starts the port's output with it,
   * the hubport drops it. */
  send (participant_base - hub_base - 10 * frame, true, hub_base + n * frame);
  gint asked = g_atomic_int_get (&requests);
  /* Delta units of now: dropped at the participant, and a keyframe asked for
   * at once. */
  for (guint i = 0; i < 5; i++, n++)
    send (n * frame, false, hub_base + n * frame);
  for (int i = 0; i < 500 && g_atomic_int_get (&requests) == asked; i++)
    g_usleep (10 * 1000);
  fail_unless (
      g_atomic_int_get (&requests) > asked, "no keyframe was asked for");
  /* The keyframe answering the request, and what follows it. */
  guint first_key = n;
  for (guint i = 0; i < 6; i++, n++)
    send (n * frame, i == 0, hub_base + n * frame);
  fail_unless (got.wait_for (6), "only %u frames reached the participant",
      (guint)got.count ());
  g_usleep (50 * 1000); /* and nothing else */

  g_mutex_lock (&got.lock);
  fail_unless_equals_int (got.running.size (), 6);
  fail_unless (got.keyframe[0], "the participant's stream starts with a delta");
  for (size_t i = 0; i < got.running.size (); i++) {
    fail_unless (i == 0 || !got.keyframe[i]);
    fail_unless_equals_uint64 (
        got.running[i] + participant_base, hub_base + (first_key + i) * frame);
  }
  g_mutex_unlock (&got.lock);

  gst_element_set_state (participant, GST_STATE_NULL);
  for (GstElement *e : {p, out, participant})
    gst_object_unref (e);
  gst_element_set_state (hub_pipeline, GST_STATE_NULL);
  gst_element_release_request_pad (d, input);
  gst_object_unref (input);
  gst_object_unref (encoder);
  gst_object_unref (d);
  gst_object_unref (hub_pipeline);
  gst_object_unref (clock);
}
GST_END_TEST;

static Suite *
hubport_suite (void)
{
  Suite *s = suite_create ("hubport");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, NULL, stop_what_a_failed_test_left);
  tcase_add_test (tc, test_missing_hub);
  tcase_add_test (tc, test_switch_loopback_retimed);
  tcase_add_test (tc, test_wait_for_hub);
  tcase_add_test (tc, test_participant_takes_hub_clock);
  tcase_add_test (tc, test_different_clocks_warn);
  tcase_add_test (tc, test_mixer_shared_output_and_departures);
  tcase_add_test (tc, test_live_no_preroll);
  tcase_add_test (tc, test_mcu_join_leave);
  tcase_add_test (tc, test_mcu_composite_to_participant);
  tcase_add_test (tc, test_mcu_wait_then_hub_disposed);
  tcase_add_test (tc, test_mcu_participant_eos);
  tcase_add_test (tc, test_dispatcher_route_to_port);
  tcase_add_test (tc, test_dispatcher_av_sync);
  tcase_add_test (tc, test_dispatcher_rtp_burst_kept);
  tcase_add_test (tc, test_loop_mcu_refused);
  tcase_add_test (tc, test_loop_dispatcher_refused);
  tcase_add_test (tc, test_loop_made_later_queries_return);
  tcase_add_test (tc, test_late_participant_encodes);
  tcase_add_test (tc, test_late_participant_starts_at_keyframe);
  return s;
}

ROOM_CHECK_MAIN (hubport);
