/* gst-rooms: tests of the dispatcher element. */
#include "roomcheck.h"

#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/video/video.h>

#include <glib/gstdio.h>

#include <atomic>
#include <condition_variable>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#define RAW_CAPS "video/x-raw,format=GRAY8,width=4,height=4,framerate=10/1"
#define RAW_CAPS_WIDE "video/x-raw,format=GRAY8,width=8,height=4,framerate=10/1"
#define FRAME (100 * GST_MSECOND)

/* A GRAY8 frame of @value at @pts. */
static GstBuffer *
gray_frame (guint8 value, GstClockTime pts, gsize size = 16)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_memset (buf, 0, value, size);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = FRAME;
  return buf;
}

static guint8
first_byte (GstBuffer *buf)
{
  guint8 v = 0;
  gst_buffer_extract (buf, 0, &v, 1);
  return v;
}

/* An encoded-looking buffer: a keyframe or a delta unit. */
static GstBuffer *
coded_frame (bool key, GstClockTime pts)
{
  GstBuffer *buf = gray_frame (key ? 1 : 2, pts, 4);
  if (!key)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return buf;
}

static GstBus *
attach_bus (GstElement *element)
{
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (element, bus);
  return bus;
}

/* Pops every pending dispatcher-switched message for @pad_name. */
static std::vector<GstStructure *>
switched_messages (GstBus *bus, const char *pad_name)
{
  std::vector<GstStructure *> out;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "dispatcher-switched")
        && g_str_equal (gst_structure_get_string (s, "pad"), pad_name))
      out.push_back (gst_structure_copy (s));
    gst_message_unref (msg);
  }
  return out;
}

static void
free_structures (std::vector<GstStructure *> &v)
{
  for (auto *s : v)
    gst_structure_free (s);
  v.clear ();
}

static guint
count_fku (GstHarness *h)
{
  guint n = 0;
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_upstream_event (h))) {
    if (gst_video_event_is_force_key_unit (ev))
      n++;
    gst_event_unref (ev);
  }
  return n;
}

/* Data and caps events seen on a pad, in order. */
struct Recorder {
  std::mutex lock;
  std::vector<std::string> items; /* "caps:WIDTH", "buf:VALUE", "gap" */
};

static GstPadProbeReturn
record_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Recorder *r = (Recorder *)user_data;
  std::lock_guard<std::mutex> lk (r->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    r->items.push_back (
        "buf:"
        + std::to_string (first_byte (GST_PAD_PROBE_INFO_BUFFER (info))));
  } else {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gint width = 0;
      gst_event_parse_caps (ev, &caps);
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "width", &width);
      r->items.push_back ("caps:" + std::to_string (width));
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP) {
      r->items.push_back ("gap");
    }
  }
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_raw_switch)
{
  GstHarness *h0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src");
  GstElement *d = h0->element;
  GstHarness *h1 = gst_harness_new_with_element (d, "sink_1", NULL);
  GstBus *bus = attach_bus (d);
  gst_harness_set_src_caps_str (h0, RAW_CAPS);
  gst_harness_set_src_caps_str (h1, RAW_CAPS_WIDE);

  Recorder rec;
  GstPad *src = gst_element_get_static_pad (d, "src");
  gulong probe = gst_pad_add_probe (src,
      (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                        | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      record_probe, &rec, NULL);

  g_object_set (d, "source", 0, NULL);
  GstClockTime t = 0;
  std::vector<GstClockTime> pts;
  for (int i = 0; i < 3; i++, t += FRAME) {
    gst_harness_push (h0, gray_frame (10, t));
    gst_harness_push (h1, gray_frame (200, t, 32));
    GstBuffer *out = gst_harness_pull (h0);
    fail_unless_equals_int (first_byte (out), 10);
    pts.push_back (GST_BUFFER_PTS (out));
    gst_buffer_unref (out);
  }
  std::vector<GstStructure *> msgs = switched_messages (bus, "src");
  fail_unless_equals_int (msgs.size (), 1);
  gint v;
  fail_unless (gst_structure_get_int (msgs[0], "input", &v) && v == 0);
  fail_unless (gst_structure_get_int (msgs[0], "previous", &v) && v == -1);
  fail_unless (gst_structure_get_int (msgs[0], "output", &v) && v == -1);
  free_structures (msgs);

  /* Raw video switches at the very next frame of the new input, and the
   * output's timeline simply continues. */
  g_object_set (d, "source", 1, NULL);
  gst_harness_push (h0, gray_frame (10, t));
  GstBuffer *out = gst_harness_pull (h0); /* input 0 until input 1 sends */
  fail_unless_equals_int (first_byte (out), 10);
  pts.push_back (GST_BUFFER_PTS (out));
  gst_buffer_unref (out);
  t += FRAME;
  gst_harness_push (h1, gray_frame (200, t + 5 * FRAME, 32));
  out = gst_harness_pull (h0);
  fail_unless_equals_int (first_byte (out), 200);
  fail_unless_equals_int (gst_buffer_get_size (out), 32);
  pts.push_back (GST_BUFFER_PTS (out));
  gst_buffer_unref (out);
  msgs = switched_messages (bus, "src");
  fail_unless_equals_int (msgs.size (), 1);
  fail_unless (gst_structure_get_int (msgs[0], "input", &v) && v == 1);
  fail_unless (gst_structure_get_int (msgs[0], "previous", &v) && v == 0);
  guint64 rt;
  fail_unless (gst_structure_get_uint64 (msgs[0], "running-time", &rt));
  fail_unless_equals_uint64 (rt, t + 5 * FRAME);
  fail_unless (gst_structure_has_field (msgs[0], "latency"));
  free_structures (msgs);
  for (size_t i = 1; i < pts.size (); i++)
    fail_unless_equals_uint64 (pts[i], pts[i - 1] + FRAME);

  /* New caps are announced right before the first buffer of input 1. */
  {
    std::lock_guard<std::mutex> lk (rec.lock);
    std::vector<std::string> want = {
        "caps:4", "buf:10", "buf:10", "buf:10", "buf:10", "caps:8", "buf:200"};
    fail_unless (rec.items == want);
  }

  /* No source: the output stays live with GAP events and no media. */
  g_object_set (d, "source", -1, NULL);
  for (int i = 0; i < 5; i++) {
    t += FRAME;
    gst_harness_push (h0, gray_frame (10, t));
  }
  bool gap = false;
  GstEvent *ev;
  /* The output's thread sends them a moment later: wait up to 2 s. */
  for (int tries = 0; !gap && tries < 200; tries++) {
    ev = gst_harness_try_pull_event (h0);
    if (!ev) {
      g_usleep (10 * 1000);
      continue;
    }
    if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP) {
      GstClockTime ts, dur;
      gst_event_parse_gap (ev, &ts, &dur);
      fail_unless (GST_CLOCK_TIME_IS_VALID (ts));
      fail_unless (GST_CLOCK_TIME_IS_VALID (dur) && dur > 0);
      fail_unless (ts >= pts.back () + FRAME);
      gap = true;
    }
    gst_event_unref (ev);
  }
  fail_unless (gap, "no GAP event on the unrouted output");
  fail_unless_equals_int (gst_harness_buffers_in_queue (h0), 0);

  gst_pad_remove_probe (src, probe);
  gst_object_unref (src);
  gst_element_set_bus (d, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h1);
  gst_harness_teardown (h0);
}
GST_END_TEST;

/* keep-running-time: a participant who leaves and comes back on another
 * input lands at its own running time, the absence kept as a hole; by
 * default the new input continues at the output's position. */
static std::vector<GstClockTime>
rejoin_pts (gboolean keep)
{
  GstHarness *h0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src_0");
  GstElement *d = h0->element;
  GstHarness *h1 = gst_harness_new_with_element (d, "sink_1", NULL);
  g_object_set (d, "keep-running-time", keep, "routes", "0>0", NULL);
  gst_harness_set_src_caps_str (h0, RAW_CAPS);
  gst_harness_set_src_caps_str (h1, RAW_CAPS);

  std::vector<GstClockTime> pts;
  auto pass = [&] (GstHarness *h, guint8 value, GstClockTime t) {
    gst_harness_push (h, gray_frame (value, t));
    GstBuffer *out = gst_harness_pull (h0);
    fail_unless_equals_int (first_byte (out), value);
    pts.push_back (GST_BUFFER_PTS (out));
    gst_buffer_unref (out);
  };
  for (int i = 0; i < 3; i++)
    pass (h0, 10, i * FRAME);
  /* Gone for 2 s, back on input 1 at 2.3 s of its running time. */
  g_object_set (d, "routes", "1>0", NULL);
  for (int i = 0; i < 2; i++)
    pass (h1, 20, 2300 * GST_MSECOND + i * FRAME);
  /* A switch back to an input behind the output never goes back. */
  g_object_set (d, "routes", "0>0", NULL);
  pass (h0, 30, 3 * FRAME);
  gst_harness_teardown (h1);
  gst_harness_teardown (h0);
  return pts;
}

GST_START_TEST (test_keep_running_time)
{
  std::vector<GstClockTime> kept = rejoin_pts (TRUE);
  std::vector<GstClockTime> want = {0, FRAME, 2 * FRAME, 2300 * GST_MSECOND,
      2400 * GST_MSECOND, 2400 * GST_MSECOND};
  for (size_t i = 0; i < want.size (); i++)
    fail_unless_equals_uint64 (kept[i], want[i]);

  std::vector<GstClockTime> closed = rejoin_pts (FALSE);
  want = {0, FRAME, 2 * FRAME, 3 * FRAME, 4 * FRAME, 5 * FRAME};
  for (size_t i = 0; i < want.size (); i++)
    fail_unless_equals_uint64 (closed[i], want[i]);
}
GST_END_TEST;

GST_START_TEST (test_routes)
{
  GstElement *d = gst_element_factory_make ("dispatcher", NULL);
  GstBus *bus = attach_bus (d);
  gchar *routes = NULL;

  g_object_set (d, "routes", "0>1, 0>2,3>0", NULL);
  g_object_get (d, "routes", &routes, NULL);
  fail_unless_equals_string (routes, "0>1, 0>2,3>0");
  g_free (routes);

  for (const char *bad :
      {"0>", "a>b", "0>1,,", "-1>2", "0>1,2>1", "0-1", "1>2>3", ">", ","}) {
    g_object_set (d, "routes", bad, NULL);
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "no warning for routes \"%s\"", bad);
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, bad) != NULL, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    g_object_get (d, "routes", &routes, NULL);
    fail_unless_equals_string (routes, "0>1, 0>2,3>0");
    g_free (routes);
  }
  g_object_set (d, "routes", "", NULL);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  gst_element_set_bus (d, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (d);
}
GST_END_TEST;

GST_START_TEST (test_routes_override_source)
{
  GstHarness *h0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src_0");
  GstElement *d = h0->element;
  GstHarness *h1 = gst_harness_new_with_element (d, "sink_1", "src_1");
  GstHarness *hsrc = gst_harness_new_with_element (d, NULL, "src");
  gst_harness_set_src_caps_str (h0, RAW_CAPS);
  gst_harness_set_src_caps_str (h1, RAW_CAPS);

  /* Output 0 gets input 1 by route, the others input 0 by source. */
  g_object_set (d, "source", 0, "routes", "1>0", NULL);
  gst_harness_push (h0, gray_frame (10, 0));
  gst_harness_push (h1, gray_frame (200, 0));
  GstBuffer *b = gst_harness_pull (h0); /* from src_0 */
  fail_unless_equals_int (first_byte (b), 200);
  gst_buffer_unref (b);
  b = gst_harness_pull (h1); /* from src_1 */
  fail_unless_equals_int (first_byte (b), 10);
  gst_buffer_unref (b);
  b = gst_harness_pull (hsrc);
  fail_unless_equals_int (first_byte (b), 10);
  gst_buffer_unref (b);

  /* Pad numbering: by template the lowest free port, or by name. */
  GstPad *p = gst_element_request_pad_simple (d, "sink_%u");
  fail_unless_equals_string (GST_PAD_NAME (p), "sink_2");
  gint port;
  g_object_get (p, "port", &port, NULL);
  fail_unless_equals_int (port, 2);
  GstPad *q = gst_element_request_pad_simple (d, "audio_src_7");
  fail_unless_equals_string (GST_PAD_NAME (q), "audio_src_7");
  gst_element_release_request_pad (d, p);
  gst_element_release_request_pad (d, q);
  gst_object_unref (p);
  gst_object_unref (q);

  gst_harness_teardown (hsrc);
  gst_harness_teardown (h1);
  gst_harness_teardown (h0);
}
GST_END_TEST;

/* Encoded video waits for a keyframe of the new input, asks for one at once
 * and again every keyframe-retry ms; audio follows the video switch. */
GST_START_TEST (test_keyframe_switch_and_audio)
{
  GstHarness *v0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src");
  GstElement *d = v0->element;
  GstHarness *v1 = gst_harness_new_with_element (d, "sink_1", NULL);
  GstHarness *a0 =
      gst_harness_new_with_element (d, "audio_sink_0", "audio_src");
  GstHarness *a1 = gst_harness_new_with_element (d, "audio_sink_1", NULL);
  GstBus *bus = attach_bus (d);
  const char *vcaps = "video/x-vp8,width=160,height=120,framerate=10/1";
  const char *acaps = "audio/x-raw,format=S16LE,rate=8000,channels=1,"
                      "layout=interleaved";
  gst_harness_set_src_caps_str (v0, vcaps);
  gst_harness_set_src_caps_str (v1, vcaps);
  gst_harness_set_src_caps_str (a0, acaps);
  gst_harness_set_src_caps_str (a1, acaps);
  g_object_set (d, "source", 0, "keyframe-retry", 300, NULL);

  GstClockTime t = 0;
  gst_harness_push (v0, coded_frame (true, t));
  gst_harness_push (a0, gray_frame (50, t));
  gst_buffer_unref (gst_harness_pull (v0));
  GstBuffer *ab = gst_harness_pull (a0);
  fail_unless_equals_int (first_byte (ab), 50);
  gst_buffer_unref (ab);
  gst_harness_push (v1, coded_frame (true, t));
  gst_harness_push (a1, gray_frame (60, t));
  count_fku (v1);
  std::vector<GstStructure *> msgs = switched_messages (bus, "src");
  free_structures (msgs);

  g_object_set (d, "source", 1, NULL);
  fail_unless_equals_int (count_fku (v1), 1); /* at once */
  /* Delta units of input 1: the output keeps input 0, audio too. */
  for (int i = 1; i <= 4; i++) {
    t += FRAME;
    gst_harness_push (v0, coded_frame (false, t));
    gst_harness_push (v1, coded_frame (false, t));
    gst_harness_push (a0, gray_frame (50, t));
    gst_harness_push (a1, gray_frame (60, t));
    GstBuffer *b = gst_harness_pull (v0);
    fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT));
    gst_buffer_unref (b);
    ab = gst_harness_pull (a0);
    fail_unless_equals_int (first_byte (ab), 50);
    gst_buffer_unref (ab);
  }
  /* 400 ms of delta units with keyframe-retry 300: asked once more. */
  fail_unless_equals_int (count_fku (v1), 1);
  fail_unless_equals_int (switched_messages (bus, "src").size (), 0);

  /* The keyframe of input 1 switches video; audio follows. */
  t += FRAME;
  gst_harness_push (v0, coded_frame (false, t));
  gst_buffer_unref (gst_harness_pull (v0));
  gst_harness_push (v1, coded_frame (true, t));
  GstBuffer *b = gst_harness_pull (v0);
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT));
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), t + FRAME);
  gst_buffer_unref (b);
  msgs = switched_messages (bus, "src");
  fail_unless_equals_int (msgs.size (), 1);
  guint64 rt, latency;
  gint input, previous;
  fail_unless (gst_structure_get (msgs[0], "running-time", G_TYPE_UINT64, &rt,
      "latency", G_TYPE_UINT64, &latency, "input", G_TYPE_INT, &input,
      "previous", G_TYPE_INT, &previous, NULL));
  fail_unless_equals_uint64 (rt, t);
  fail_unless_equals_uint64 (latency, 5 * FRAME);
  fail_unless_equals_int (input, 1);
  fail_unless_equals_int (previous, 0);
  free_structures (msgs);

  gst_harness_push (a0, gray_frame (50, t));
  ab = gst_harness_pull (a0); /* the next audio buffer of port 1 switches */
  fail_unless_equals_int (first_byte (ab), 50);
  gst_buffer_unref (ab);
  gst_harness_push (a1, gray_frame (60, t));
  ab = gst_harness_pull (a0);
  fail_unless_equals_int (first_byte (ab), 60);
  gst_buffer_unref (ab);
  msgs = switched_messages (bus, "audio_src");
  fail_unless_equals_int (msgs.size (), 1);
  free_structures (msgs);

  gst_element_set_bus (d, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (a1);
  gst_harness_teardown (a0);
  gst_harness_teardown (v1);
  gst_harness_teardown (v0);
}
GST_END_TEST;

/* 100 viewer keyframe requests within a second reach the input at most twice
 * with keyframe-min-interval=1000. */
GST_START_TEST (test_keyframe_request_coalescing)
{
  GstHarness *h0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src_0");
  GstElement *d = h0->element;
  GstHarness *h1 = gst_harness_new_with_element (d, NULL, "src_1");
  gst_harness_use_testclock (h0);
  GstTestClock *clock = GST_TEST_CLOCK (gst_harness_get_testclock (h0));
  gst_harness_set_src_caps_str (h0, "video/x-vp8,width=160,height=120");
  g_object_set (d, "source", 0, NULL);
  gst_harness_push (h0, coded_frame (true, 0));
  gst_buffer_unref (gst_harness_pull (h0));
  gst_buffer_unref (gst_harness_pull (h1));
  count_fku (h0);

  for (int i = 0; i < 100; i++) {
    GstHarness *viewer = (i % 2) ? h1 : h0;
    gst_harness_push_upstream_event (
        viewer, gst_video_event_new_upstream_force_key_unit (
                    GST_CLOCK_TIME_NONE, FALSE, i));
    gst_test_clock_advance_time (clock, 10 * GST_MSECOND);
  }
  guint n = count_fku (h0);
  fail_unless (n >= 1 && n <= 2, "%u keyframe requests reached the input", n);

  gst_object_unref (clock);
  gst_harness_teardown (h1);
  gst_harness_teardown (h0);
}
GST_END_TEST;

/* What reached a plain test sink pad linked to an output. */
struct SinkCount {
  std::mutex lock;
  int buffers = 0;
  int gaps = 0;

  /* Test thread: outputs push from threads of their own, so what was sent
   * arrives a moment later.  Waits up to 5 s for @buffers buffers and at
   * least @min_gaps gaps, and returns how many buffers arrived. */
  int wait_for (int want_buffers, int min_gaps = 0)
  {
    for (int i = 0; i < 500; i++) {
      {
        std::lock_guard<std::mutex> lk (lock);
        if (buffers >= want_buffers && gaps >= min_gaps)
          break;
      }
      g_usleep (10 * 1000);
    }
    std::lock_guard<std::mutex> lk (lock);
    return buffers;
  }
};

static GstFlowReturn
count_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  SinkCount *c = (SinkCount *)g_object_get_data (G_OBJECT (pad), "count");
  std::lock_guard<std::mutex> lk (c->lock);
  c->buffers++;
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

static gboolean
count_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  SinkCount *c = (SinkCount *)g_object_get_data (G_OBJECT (pad), "count");
  {
    std::lock_guard<std::mutex> lk (c->lock);
    if (GST_EVENT_TYPE (event) == GST_EVENT_GAP)
      c->gaps++;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstPad *
feed (GstElement *d, const char *name, GstPad **requested)
{
  *requested = gst_element_request_pad_simple (d, name);
  GstPad *up = gst_pad_new (NULL, GST_PAD_SRC);
  gst_pad_set_active (up, TRUE);
  fail_unless_equals_int (gst_pad_link (up, *requested), GST_PAD_LINK_OK);
  gst_pad_push_event (up, gst_event_new_stream_start ("test"));
  GstCaps *caps = gst_caps_from_string (RAW_CAPS);
  gst_pad_push_event (up, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (up, gst_event_new_segment (&seg));
  return up;
}

/* Releasing pads while media flows: the output loses its input at once and
 * stays live with gaps; nothing crashes or leaks. */
GST_START_TEST (test_release_mid_stream)
{
  GstElement *d = gst_element_factory_make ("dispatcher", NULL);
  GstBus *bus = attach_bus (d);
  fail_unless (
      gst_element_set_state (d, GST_STATE_PLAYING) == GST_STATE_CHANGE_SUCCESS);
  GstPad *sink0, *sink1;
  GstPad *up0 = feed (d, "sink_0", &sink0);
  GstPad *up1 = feed (d, "sink_1", &sink1);
  GstPad *src0 = gst_element_request_pad_simple (d, "src_0");
  SinkCount count;
  GstPad *down = gst_pad_new (NULL, GST_PAD_SINK);
  g_object_set_data (G_OBJECT (down), "count", &count);
  gst_pad_set_chain_function (down, count_chain);
  gst_pad_set_event_function (down, count_event);
  gst_pad_set_active (down, TRUE);
  fail_unless_equals_int (gst_pad_link (src0, down), GST_PAD_LINK_OK);

  g_object_set (d, "routes", "0>0", NULL);
  GstClockTime t = 0;
  for (int i = 0; i < 3; i++, t += FRAME) {
    fail_unless_equals_int (
        gst_pad_push (up0, gray_frame (10, t)), GST_FLOW_OK);
    gst_pad_push (up1, gray_frame (20, t));
  }
  fail_unless_equals_int (count.wait_for (3), 3);
  std::vector<GstStructure *> msgs = switched_messages (bus, "src_0");
  free_structures (msgs);

  gst_element_release_request_pad (d, sink0);
  msgs = switched_messages (bus, "src_0");
  fail_unless_equals_int (msgs.size (), 1);
  gint input, previous;
  fail_unless (gst_structure_get (msgs[0], "input", G_TYPE_INT, &input,
      "previous", G_TYPE_INT, &previous, NULL));
  fail_unless_equals_int (input, -1);
  fail_unless_equals_int (previous, 0);
  free_structures (msgs);
  fail_if (gst_pad_push (up0, gray_frame (10, t)) == GST_FLOW_OK);
  for (int i = 0; i < 5; i++, t += FRAME)
    gst_pad_push (up1, gray_frame (20, t));
  fail_unless_equals_int (count.wait_for (3, 1), 3);

  /* The output goes away while input 1 feeds it. */
  g_object_set (d, "routes", "1>0", NULL);
  gst_pad_push (up1, gray_frame (20, t));
  fail_unless_equals_int (count.wait_for (4), 4);
  gst_element_release_request_pad (d, src0);
  fail_unless_equals_int (
      gst_pad_push (up1, gray_frame (20, t + FRAME)), GST_FLOW_OK);

  gst_element_set_state (d, GST_STATE_NULL);
  gst_element_set_bus (d, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (sink0);
  gst_object_unref (sink1);
  gst_object_unref (src0);
  gst_object_unref (up0);
  gst_object_unref (up1);
  gst_object_unref (down);
  gst_object_unref (d);
}
GST_END_TEST;

/* ---- outputs linked straight to sinks, no queue ---- */

/* What a fakesink saw.  Its consumer stops taking data after its first
 * buffer while @block is set, until released; @delay_us slows it down. */
struct HandoffCount {
  std::atomic<int> buffers{0};
  bool block = false;
  gulong delay_us = 0;
  std::mutex lock;
  std::condition_variable cond;
  bool released = false; /* lock */

  void release ()
  {
    std::lock_guard<std::mutex> lk (lock);
    released = true;
    cond.notify_all ();
  }
};

/* Streaming threads: records only. */
static void
on_handoff (GstElement *, GstBuffer *, GstPad *, gpointer data)
{
  HandoffCount *c = static_cast<HandoffCount *> (data);
  c->buffers++;
  if (c->delay_us)
    g_usleep (c->delay_us);
  if (c->block) {
    std::unique_lock<std::mutex> lk (c->lock);
    c->cond.wait (lk, [c] { return c->released; });
  }
}

static void
count_handoffs (GstElement *pipeline, const char *name, HandoffCount &c)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  fail_unless (sink != NULL, "no element %s", name);
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  gst_object_unref (sink);
}

static GstElement *
launch (const gchar *desc)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (
      pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  return pipeline;
}

/* Test thread: waits up to @seconds until every counter in @cs has at least
 * @want buffers; returns whether they got there. */
static bool
wait_for_buffers (
    std::initializer_list<HandoffCount *> cs, int want, double seconds = 10)
{
  gint64 end = g_get_monotonic_time () + (gint64)(seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < end) {
    bool all = true;
    for (HandoffCount *c : cs)
      all &= c->buffers.load () >= want;
    if (all)
      return true;
    g_usleep (10 * 1000);
  }
  return false;
}

/* Test thread: EOS or an error within @seconds (NULL when neither). */
static GstMessage *
wait_eos_or_error (GstElement *pipeline, double seconds)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg =
      gst_bus_timed_pop_filtered (bus, (GstClockTime)(seconds * GST_SECOND),
          (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_object_unref (bus);
  return msg;
}

/* A launch line with every output straight into a sink that waits to
 * preroll, a live input, and one consumer that stops taking data after its
 * first buffer: every other output, the audio one included, keeps flowing
 * in real time. */
GST_START_TEST (test_stalled_output_stalls_nothing_else)
{
  GstElement *pipeline = launch (
      "dispatcher name=d source=0 "
      "d.src ! fakesink name=s d.src_0 ! fakesink name=s0 "
      "d.src_1 ! fakesink name=s1 d.audio_src ! fakesink name=as "
      "videotestsrc is-live=true "
      "! video/x-raw,width=64,height=48,framerate=30/1 ! d.sink_0 "
      "audiotestsrc is-live=true samplesperbuffer=1600 ! d.audio_sink_0");
  HandoffCount s, s0, s1, as;
  s0.block = true;
  count_handoffs (pipeline, "s", s);
  count_handoffs (pipeline, "s0", s0);
  count_handoffs (pipeline, "s1", s1);
  count_handoffs (pipeline, "as", as);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  /* 1 s of video and audio on each of the others (30 and 27 buffers). */
  bool flowing = wait_for_buffers ({&s, &s1, &as}, 25);
  int stalled = s0.buffers.load ();
  s0.release ();
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  fail_unless (flowing, "src %d, src_1 %d, audio_src %d buffers",
      s.buffers.load (), s1.buffers.load (), as.buffers.load ());
  fail_unless_equals_int (stalled, 1);
}
GST_END_TEST;

/* The file test input: @frames frames of raw video in Matroska (made once
 * per run; the caller frees the path). */
static gchar *
make_raw_file (int frames)
{
  gchar *dir = g_dir_make_tmp ("dispatcher-XXXXXX", NULL);
  fail_unless (dir != NULL);
  gchar *path = g_build_filename (dir, "input.mkv", NULL);
  g_free (dir);
  gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=%d "
      "! video/x-raw,format=I420,width=64,height=48,framerate=100/1 "
      "! matroskamux ! filesink location=%s",
      frames, path);
  GstElement *p = launch (desc);
  g_free (desc);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstMessage *msg = wait_eos_or_error (p, 30);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  return path;
}

static void
remove_file (gchar *path)
{
  gchar *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
  g_free (path);
}

#define FILE_FRAMES 60

/* A file (not live) into outputs that go straight to sinks, as in a launch
 * line: every sink prerolls, one consumer is slow (the output queues fill
 * and the input waits for room), one follows the clock, one takes data as
 * fast as it comes.  Every output gets every frame, then EOS. */
GST_START_TEST (test_file_input_loses_nothing)
{
  gchar *path = make_raw_file (FILE_FRAMES);
  gchar *desc =
      g_strdup_printf ("dispatcher name=d source=0 "
                       "d.src ! fakesink name=s sync=false "
                       "d.src_0 ! fakesink name=s0 sync=false "
                       "d.src_1 ! fakesink name=s1 "
                       "filesrc location=%s ! matroskademux ! d.sink_0",
          path);
  GstElement *pipeline = launch (desc);
  g_free (desc);
  HandoffCount s, s0, s1;
  s0.delay_us = 5000;
  count_handoffs (pipeline, "s", s);
  count_handoffs (pipeline, "s0", s0);
  count_handoffs (pipeline, "s1", s1);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  GstMessage *msg = wait_eos_or_error (pipeline, 20);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  remove_file (path);
  fail_unless (msg != NULL, "no EOS: src %d, src_0 %d, src_1 %d buffers",
      s.buffers.load (), s0.buffers.load (), s1.buffers.load ());
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless_equals_int (s.buffers.load (), FILE_FRAMES);
  fail_unless_equals_int (s0.buffers.load (), FILE_FRAMES);
  fail_unless_equals_int (s1.buffers.load (), FILE_FRAMES);
}
GST_END_TEST;

/* A flushing seek on the file input passes the output threads' queues: no
 * stale frame holds a sink, the outputs restart and reach EOS. */
GST_START_TEST (test_file_input_seek)
{
  gchar *path = make_raw_file (FILE_FRAMES);
  gchar *desc =
      g_strdup_printf ("dispatcher name=d source=0 "
                       "d.src_0 ! fakesink name=s0 sync=false "
                       "d.src_1 ! fakesink name=s1 "
                       "filesrc location=%s ! matroskademux ! d.sink_0",
          path);
  GstElement *pipeline = launch (desc);
  g_free (desc);
  HandoffCount s0, s1;
  s0.delay_us = 5000;
  count_handoffs (pipeline, "s0", s0);
  count_handoffs (pipeline, "s1", s1);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  bool started = wait_for_buffers ({&s0, &s1}, 10);
  gboolean seeked = gst_element_seek_simple (pipeline, GST_FORMAT_TIME,
      (GstSeekFlags)(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
  GstMessage *msg = wait_eos_or_error (pipeline, 20);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  remove_file (path);
  fail_unless (started);
  fail_unless (seeked);
  fail_unless (msg != NULL, "no EOS after the seek: src_0 %d, src_1 %d",
      s0.buffers.load (), s1.buffers.load ());
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  /* The file again from its start after the seek, on both outputs. */
  fail_unless (
      s0.buffers.load () >= FILE_FRAMES + 10, "%d", s0.buffers.load ());
  fail_unless (
      s1.buffers.load () >= FILE_FRAMES + 10, "%d", s1.buffers.load ());
}
GST_END_TEST;

/* Pulls a buffer from @h, waiting up to 2 s (the output's thread sends it
 * a moment later); NULL when none came. */
static GstBuffer *
pull_within (GstHarness *h)
{
  for (int i = 0; i < 200; i++) {
    GstBuffer *buf = gst_harness_try_pull (h);
    if (buf)
      return buf;
    g_usleep (10 * 1000);
  }
  return NULL;
}

/* Audio that arrives before its port's first video frame (all of a short
 * file's audio, say) goes out at once: with no media carried yet there is
 * no lip sync to keep across a switch. */
GST_START_TEST (test_audio_before_first_video)
{
  GstHarness *v0 =
      gst_harness_new_with_padnames ("dispatcher", "sink_0", "src");
  GstElement *d = v0->element;
  GstHarness *a0 =
      gst_harness_new_with_element (d, "audio_sink_0", "audio_src");
  gst_harness_set_src_caps_str (v0, RAW_CAPS);
  gst_harness_set_src_caps_str (
      a0, "audio/x-raw,format=S16LE,rate=8000,channels=1,layout=interleaved");
  g_object_set (d, "source", 0, NULL);

  for (int i = 0; i < 3; i++)
    gst_harness_push (a0, gray_frame (50 + i, i * FRAME));
  for (int i = 0; i < 3; i++) {
    GstBuffer *b = pull_within (a0);
    fail_unless (b != NULL, "audio buffer %d did not go out", i);
    fail_unless_equals_int (first_byte (b), 50 + i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * FRAME);
    gst_buffer_unref (b);
  }
  gst_harness_push (v0, gray_frame (10, 0));
  GstBuffer *b = pull_within (v0);
  fail_unless (b != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 0);
  gst_buffer_unref (b);

  gst_harness_teardown (a0);
  gst_harness_teardown (v0);
}
GST_END_TEST;

/* Bounded video and audio inputs into the always pads, each straight into
 * a sink (as in docs/elements/dispatcher.md): both sinks preroll and the
 * pipeline ends. */
GST_START_TEST (test_video_and_audio_outputs_end)
{
  GstElement *pipeline =
      launch ("dispatcher name=d source=0 "
              "d.src ! videoconvert ! fakesink name=vs "
              "d.audio_src ! audioconvert ! fakesink name=as "
              "videotestsrc num-buffers=30 ! d.sink_0 "
              "audiotestsrc num-buffers=30 ! d.audio_sink_0");
  HandoffCount vs, as;
  count_handoffs (pipeline, "vs", vs);
  count_handoffs (pipeline, "as", as);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *msg = wait_eos_or_error (pipeline, 20);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  fail_unless (msg != NULL, "no EOS: video %d, audio %d buffers",
      vs.buffers.load (), as.buffers.load ());
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless_equals_int (vs.buffers.load (), 30);
  fail_unless_equals_int (as.buffers.load (), 30);
}
GST_END_TEST;

/* routes=abc in a launch line is set before the element has a bus, where a
 * warning reaches nobody: the element refuses to start with an error that
 * names the value.  Set while playing, a bad value stays a warning. */
GST_START_TEST (test_invalid_routes_from_launch_line)
{
  GstElement *pipeline = launch ("dispatcher name=d routes=abc source=0 "
                                 "d.src ! fakesink "
                                 "videotestsrc num-buffers=5 ! d.sink_0");
  GstStateChangeReturn ret =
      gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *msg = wait_eos_or_error (pipeline, 5);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR,
      "no error for routes=abc");
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), "d");
  fail_unless (strstr (err->message, "\"abc\"") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);

  /* A good value set after the bad one: it starts. */
  GstElement *d = gst_bin_get_by_name (GST_BIN (pipeline), "d");
  g_object_set (d, "routes", "0>1", NULL);
  ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);
  fail_unless (ret != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, 10 * GST_SECOND)
               == GST_STATE_CHANGE_SUCCESS);
  /* While playing: a warning, the routing and the run go on.  The five
   * frames may all be through (and the EOS posted) before the warning, so
   * both are taken from the bus in whatever order they come. */
  GstBus *bus = gst_element_get_bus (pipeline);
  g_object_set (d, "routes", "abc", NULL);
  gchar *routes = NULL;
  g_object_get (d, "routes", &routes, NULL);
  bool warned = false;
  GstMessageType end = GST_MESSAGE_UNKNOWN;
  for (int i = 0; i < 2 && !(warned && end != GST_MESSAGE_UNKNOWN); i++) {
    msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
        (GstMessageType)(GST_MESSAGE_WARNING | GST_MESSAGE_EOS
                         | GST_MESSAGE_ERROR));
    if (!msg)
      break;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
      warned = true;
    else
      end = GST_MESSAGE_TYPE (msg);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (d);
  gst_object_unref (pipeline);
  fail_unless_equals_string (routes, "0>1");
  g_free (routes);
  fail_unless (warned, "no warning for routes=abc while playing");
  fail_unless (end == GST_MESSAGE_EOS, "the run did not end with EOS");
}
GST_END_TEST;

/* Releasing output pads of a running launch line: a flowing one, then one
 * whose consumer stopped taking data.  Each release returns at once (the
 * stuck push is left to end on its own) and the other output keeps
 * flowing. */
GST_START_TEST (test_release_outputs_of_running_pipeline)
{
  GstElement *pipeline =
      launch ("dispatcher name=d source=0 "
              "d.src ! fakesink name=s d.src_0 ! fakesink name=s0 "
              "d.src_1 ! fakesink name=s1 "
              "videotestsrc is-live=true "
              "! video/x-raw,width=64,height=48,framerate=30/1 ! d.sink_0");
  HandoffCount s, s0, s1;
  s0.block = true;
  count_handoffs (pipeline, "s", s);
  count_handoffs (pipeline, "s0", s0);
  count_handoffs (pipeline, "s1", s1);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstElement *d = gst_bin_get_by_name (GST_BIN (pipeline), "d");
  GstPad *src0 = gst_element_get_static_pad (d, "src_0");
  GstPad *src1 = gst_element_get_static_pad (d, "src_1");

  bool flowing = wait_for_buffers ({&s, &s1}, 5);
  gst_element_release_request_pad (d, src1);
  int at_release = s.buffers.load ();
  bool after_first = wait_for_buffers ({&s}, at_release + 5);

  gint64 start = g_get_monotonic_time ();
  gst_element_release_request_pad (d, src0);
  gint64 took_us = g_get_monotonic_time () - start;
  at_release = s.buffers.load ();
  bool after_second = wait_for_buffers ({&s}, at_release + 5);

  s0.release ();
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src0);
  gst_object_unref (src1);
  gst_object_unref (d);
  gst_object_unref (pipeline);
  fail_unless (
      flowing, "src %d, src_1 %d", s.buffers.load (), s1.buffers.load ());
  fail_unless (after_first, "src stopped after src_1 was released");
  fail_unless (took_us < G_USEC_PER_SEC,
      "releasing took %" G_GINT64_FORMAT " us", took_us);
  fail_unless (after_second, "src stopped after src_0 was released");
  fail_unless_equals_int (s0.buffers.load (), 1);
}
GST_END_TEST;

/* ---- real encoders and decoders ---- */

struct CodecRun {
  std::mutex lock;
  bool requested = false;
  int input0_frames = 0;
  int input1_frames = 0;
  int switch_at = 15;
  bool drop_fku = false;
  int fku_seen = 0; /* at input 1's encoder */
  GstClockTime first_key_after_request = GST_CLOCK_TIME_NONE; /* input 1 */
  int pushed = 0; /* on dispatcher src */
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;
  bool monotonic = true;
  GstClockTime max_step = 0; /* largest PTS step between output frames */
  int decoded = 0;
  int red = 0, blue = 0, broken = 0;
  bool blue_then_red = false;
  GstElement *dispatcher = nullptr;
};

static GstPadProbeReturn
input0_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CodecRun *run = (CodecRun *)user_data;
  bool request = false;
  {
    std::lock_guard<std::mutex> lk (run->lock);
    /* Input 1 must be running by then: an encoder's first frame is a
     * keyframe, and a switch to an input that has not started yet takes it
     * without asking for one (a slow start under the sanitizers did). */
    if (++run->input0_frames >= run->switch_at && !run->requested
        && run->input1_frames >= 5)
      request = true;
  }
  if (request) {
    /* Flag first: the keyframe answering the request may pass input 1's
     * probe before g_object_set () returns. */
    {
      std::lock_guard<std::mutex> lk (run->lock);
      run->requested = true;
    }
    g_object_set (run->dispatcher, "source", 1, NULL);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
input1_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CodecRun *run = (CodecRun *)user_data;
  std::lock_guard<std::mutex> lk (run->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    run->input1_frames++;
    if (run->requested
        && !GST_CLOCK_TIME_IS_VALID (run->first_key_after_request)
        && !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
      GstEvent *seg = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
      const GstSegment *s;
      gst_event_parse_segment (seg, &s);
      run->first_key_after_request = gst_segment_to_running_time (
          s, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
      gst_event_unref (seg);
    }
    return GST_PAD_PROBE_OK;
  }
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (gst_video_event_is_force_key_unit (ev)) {
    run->fku_seen++;
    if (run->drop_fku)
      return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
output_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CodecRun *run = (CodecRun *)user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  std::lock_guard<std::mutex> lk (run->lock);
  run->pushed++;
  if (GST_CLOCK_TIME_IS_VALID (run->last_pts)
      && GST_BUFFER_PTS (buf) <= run->last_pts)
    run->monotonic = false;
  if (GST_CLOCK_TIME_IS_VALID (run->last_pts)
      && GST_BUFFER_PTS (buf) > run->last_pts)
    run->max_step = MAX (run->max_step, GST_BUFFER_PTS (buf) - run->last_pts);
  run->last_pts = GST_BUFFER_PTS (buf);
  return GST_PAD_PROBE_OK;
}

/* Classifies each decoded I420 frame as wholly red, wholly blue or broken. */
static GstFlowReturn
decoded_sample (GstElement *sink, gpointer user_data)
{
  CodecRun *run = (CodecRun *)user_data;
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_ERROR;
  GstVideoInfo info;
  gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
  GstVideoFrame frame;
  int kind = 0; /* 1 red, 2 blue, 3 broken */
  if (gst_video_frame_map (
          &frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
    int reds = 0, blues = 0, total = 0;
    const int w = GST_VIDEO_FRAME_COMP_WIDTH (&frame, 1);
    const int h = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, 1);
    for (int y = 0; y < h; y++) {
      const guint8 *u = (const guint8 *)GST_VIDEO_FRAME_COMP_DATA (&frame, 1)
                        + y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 1);
      const guint8 *v = (const guint8 *)GST_VIDEO_FRAME_COMP_DATA (&frame, 2)
                        + y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 2);
      for (int x = 0; x < w; x++, total++) {
        /* Red: U low, V high.  Blue: U high, V low. */
        if (u[x] < 128 - 30 && v[x] > 128 + 60)
          reds++;
        else if (u[x] > 128 + 60 && v[x] < 128 - 10)
          blues++;
      }
    }
    kind = reds == total ? 1 : blues == total ? 2 : 3;
    gst_video_frame_unmap (&frame);
  } else {
    kind = 3;
  }
  gst_sample_unref (sample);

  std::lock_guard<std::mutex> lk (run->lock);
  run->decoded++;
  if (kind == 1) {
    if (run->blue)
      run->blue_then_red = true;
    run->red++;
  } else if (kind == 2) {
    run->blue++;
  } else {
    run->broken++;
  }
  return GST_FLOW_OK;
}

static void
run_codec_switch (const char *encoder, const char *decoder, bool drop_fku)
{
  gchar *desc = g_strdup_printf (
      "dispatcher name=d source=0 keyframe-retry=200 "
      "! %s ! video/x-raw,format=I420 ! appsink name=out sync=false "
      "emit-signals=true "
      "videotestsrc is-live=true pattern=solid-color foreground-color="
      "0xffff0000 num-buffers=75 ! video/x-raw,format=I420,width=160,"
      "height=120,framerate=30/1 ! %s name=enc0 ! d.sink_0 "
      "videotestsrc is-live=true pattern=solid-color foreground-color="
      "0xff0000ff num-buffers=75 ! video/x-raw,format=I420,width=160,"
      "height=120,framerate=30/1 ! %s name=enc1 ! d.sink_1",
      decoder, encoder, encoder);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);

  CodecRun run;
  run.drop_fku = drop_fku;
  run.dispatcher = gst_bin_get_by_name (GST_BIN (pipeline), "d");
  GstElement *enc0 = gst_bin_get_by_name (GST_BIN (pipeline), "enc0");
  GstElement *enc1 = gst_bin_get_by_name (GST_BIN (pipeline), "enc1");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  GstPad *p0 = gst_element_get_static_pad (enc0, "src");
  GstPad *p1 = gst_element_get_static_pad (enc1, "src");
  GstPad *psrc = gst_element_get_static_pad (run.dispatcher, "src");
  gst_pad_add_probe (p0, GST_PAD_PROBE_TYPE_BUFFER, input0_probe, &run, NULL);
  gst_pad_add_probe (p1,
      (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                        | GST_PAD_PROBE_TYPE_EVENT_UPSTREAM),
      input1_probe, &run, NULL);
  gst_pad_add_probe (psrc, GST_PAD_PROBE_TYPE_BUFFER, output_probe, &run, NULL);
  g_signal_connect (sink, "new-sample", G_CALLBACK (decoded_sample), &run);

  GstBus *bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  GstClockTime switched_rt = GST_CLOCK_TIME_NONE;
  bool eos = false;
  while (!eos) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
        (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR
                         | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT));
    fail_unless (msg != NULL, "pipeline timed out");
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        eos = true;
        break;
      case GST_MESSAGE_ERROR:
      case GST_MESSAGE_WARNING: {
        GError *e = NULL;
        gchar *dbg = NULL;
        if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
          gst_message_parse_error (msg, &e, &dbg);
        else
          gst_message_parse_warning (msg, &e, &dbg);
        fail ("%s from %s: %s (%s)", GST_MESSAGE_TYPE_NAME (msg),
            GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), e->message, dbg);
        break;
      }
      default: {
        const GstStructure *s = gst_message_get_structure (msg);
        gint input;
        if (gst_structure_has_name (s, "dispatcher-switched")
            && gst_structure_get_int (s, "input", &input) && input == 1)
          gst_structure_get_uint64 (s, "running-time", &switched_rt);
        break;
      }
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  GST_INFO ("%s: pushed %d decoded %d red %d blue %d broken %d fku %d", encoder,
      run.pushed, run.decoded, run.red, run.blue, run.broken, run.fku_seen);
  fail_unless (run.requested);
  fail_unless (run.pushed > 40, "only %d frames", run.pushed);
  fail_unless_equals_int (run.decoded, run.pushed);
  fail_unless_equals_int (run.broken, 0);
  fail_unless (run.red >= run.switch_at - 2 && run.blue > 0);
  fail_if (run.blue_then_red);
  fail_unless (run.monotonic, "output timestamps went back");
  /* Continuous: the new input starts where the old one ended (30 fps). */
  fail_unless (run.max_step <= 40 * GST_MSECOND,
      "hole of %" GST_TIME_FORMAT " in the output",
      GST_TIME_ARGS (run.max_step));
  fail_unless (GST_CLOCK_TIME_IS_VALID (switched_rt));
  fail_unless_equals_uint64 (switched_rt, run.first_key_after_request);
  if (drop_fku)
    fail_unless (
        run.fku_seen >= 2, "keyframe request not repeated (%d)", run.fku_seen);
  else
    fail_unless (run.fku_seen >= 1);

  gst_object_unref (bus);
  gst_object_unref (p0);
  gst_object_unref (p1);
  gst_object_unref (psrc);
  gst_object_unref (enc0);
  gst_object_unref (enc1);
  gst_object_unref (sink);
  gst_object_unref (run.dispatcher);
  gst_object_unref (pipeline);
}

GST_START_TEST (test_vp8_switch)
{
  run_codec_switch (
      "vp8enc deadline=1 keyframe-max-dist=30 cpu-used=8", "vp8dec", false);
}
GST_END_TEST;

GST_START_TEST (test_vp8_switch_keyframe_request_ignored)
{
  run_codec_switch (
      "vp8enc deadline=1 keyframe-max-dist=30 cpu-used=8", "vp8dec", true);
}
GST_END_TEST;

GST_START_TEST (test_h264_switch)
{
  run_codec_switch (
      "x264enc tune=zerolatency speed-preset=ultrafast "
      "key-int-max=30 ! capsfilter caps=video/x-h264,profile=baseline",
      "avdec_h264", false);
}
GST_END_TEST;

static Suite *
dispatcher_suite (void)
{
  Suite *s = suite_create ("dispatcher");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_routes);
  tcase_add_test (tc, test_keep_running_time);
  tcase_add_test (tc, test_invalid_routes_from_launch_line);
  tcase_add_test (tc, test_raw_switch);
  tcase_add_test (tc, test_routes_override_source);
  tcase_add_test (tc, test_keyframe_switch_and_audio);
  tcase_add_test (tc, test_keyframe_request_coalescing);
  tcase_add_test (tc, test_release_mid_stream);
  tcase_add_test (tc, test_stalled_output_stalls_nothing_else);
  tcase_add_test (tc, test_file_input_loses_nothing);
  tcase_add_test (tc, test_file_input_seek);
  tcase_add_test (tc, test_release_outputs_of_running_pipeline);
  tcase_add_test (tc, test_audio_before_first_video);
  tcase_add_test (tc, test_video_and_audio_outputs_end);
  tcase_add_test (tc, test_vp8_switch);
  tcase_add_test (tc, test_vp8_switch_keyframe_request_ignored);
  tcase_add_test (tc, test_h264_switch);
  return s;
}

ROOM_CHECK_MAIN (dispatcher);
