/* gst-rooms: a viewer's keyframe request (what webrtcbin sends upstream for a
 * browser's PLI) crosses its hubport and the program dispatcher and reaches the
 * room's one encoder, in another pipeline; a burst of requests from a crowd is
 * coalesced so the encoder does not turn every frame into a keyframe.
 *
 * Real vp8enc, on a test clock: the room's live camera takes a frame only
 * when the test moves the clock on, and the dispatcher coalesces requests by
 * that clock, so what is counted does not depend on how fast the machine is.
 * The encoder's own keyframe interval is far longer than the test, so every
 * keyframe after the first one was asked for. */
#include "roomcheck.h"

#include <gst/check/gsttestclock.h>
#include <gst/video/video.h>

#include <atomic>

namespace {

/* Counted on streaming threads; the test thread asserts. */
std::atomic<int> encoded{0};
std::atomic<int> keyframes{0};
std::atomic<int> viewer_buffers{0};

GstPadProbeReturn
count_encoded (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    keyframes++;
  encoded++;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
count_buffers (GstPad *, GstPadProbeInfo *, gpointer)
{
  viewer_buffers++;
  return GST_PAD_PROBE_OK;
}

/* Lets the room's live camera take one frame: moves the clock to its clock
 * wait and releases it, until the encoder has turned out one more frame.
 * False when none came within 5 s. */
bool
next_frame (GstTestClock *clock)
{
  int before = encoded;
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (encoded == before && g_get_monotonic_time () < deadline) {
    GList *ids = NULL;
    if (!gst_test_clock_timed_wait_for_multiple_pending_ids (
            clock, 1, 100, &ids))
      continue;
    GstClockTime due = gst_clock_id_get_time ((GstClockID)ids->data);
    if (due > gst_clock_get_time (GST_CLOCK (clock)))
      gst_test_clock_set_time (clock, due);
    gst_test_clock_process_id_list (clock, ids);
    g_list_free_full (ids, (GDestroyNotify)gst_clock_id_unref);
    for (int i = 0; i < 20 && encoded == before; i++)
      g_usleep (1000);
  }
  return encoded > before;
}

/* @n frames of the room: at 30 frames/s, n / 30 s of its clock. */
void
run_frames (GstTestClock *clock, int n)
{
  for (int i = 0; i < n; i++)
    fail_unless (next_frame (clock), "the room's camera stopped");
}

void
request_keyframe (GstPad *viewer_pad)
{
  gst_pad_push_event (viewer_pad, gst_video_event_new_upstream_force_key_unit (
                                      GST_CLOCK_TIME_NONE, TRUE, 1));
}

} // namespace

GST_START_TEST (test_viewer_keyframe_request_reaches_encoder)
{
  GstClock *clock = gst_test_clock_new_with_start_time (GST_SECOND);
  GstTestClock *test_clock = GST_TEST_CLOCK (clock);
  GError *err = NULL;
  GstElement *room = gst_parse_launch (
      "videotestsrc is-live=true pattern=ball"
      " ! video/x-raw,width=160,height=120,framerate=30/1"
      " ! vp8enc name=enc deadline=1 keyframe-max-dist=100000 lag-in-frames=0"
      " ! program.sink_0"
      " dispatcher name=program source=0 keyframe-min-interval=1000"
      " program.src ! fakesink sync=false async=false",
      &err);
  fail_unless (room != NULL, "room: %s", err ? err->message : "");
  gst_pipeline_use_clock (GST_PIPELINE (room), clock);
  GstElement *viewer = gst_parse_launch (
      "hubport hub=program ! fakesink name=sink sync=false async=false", &err);
  fail_unless (viewer != NULL, "viewer: %s", err ? err->message : "");
  gst_pipeline_use_clock (GST_PIPELINE (viewer), clock);

  GstElement *enc = gst_bin_get_by_name (GST_BIN (room), "enc");
  GstPad *enc_src = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (
      enc_src, GST_PAD_PROBE_TYPE_BUFFER, count_encoded, NULL, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (viewer), "sink");
  GstPad *viewer_pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (
      viewer_pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, NULL, NULL);

  fail_unless (gst_element_set_state (room, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  run_frames (test_clock, 15);
  fail_unless (gst_element_set_state (viewer, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  run_frames (test_clock, 45);
  /* The viewer's thread takes what the dispatcher sent it. */
  for (int i = 0; i < 500 && viewer_buffers == 0; i++)
    g_usleep (10 * 1000);
  fail_unless (viewer_buffers > 0, "the viewer gets the encoded program");

  /* Quiet: the encoder makes no keyframe of its own. */
  int before = keyframes;
  run_frames (test_clock, 36);
  fail_unless_equals_int (keyframes, before);

  /* One viewer's request: a keyframe with the next frames. */
  request_keyframe (viewer_pad);
  run_frames (test_clock, 3);
  int after_one = keyframes;
  fail_unless (after_one >= before + 1,
      "a viewer's request reached the encoder (%d -> %d)", before, after_one);

  /* A crowd, 1.1 s of the clock later: 100 requests within half a second
   * give one more keyframe (keyframe-min-interval=1000), two at most. */
  run_frames (test_clock, 33);
  int before_crowd = keyframes;
  for (int i = 0; i < 100; i++) {
    request_keyframe (viewer_pad);
    if (i % 7 == 6)
      run_frames (test_clock, 1);
  }
  run_frames (test_clock, 15);
  int after_crowd = keyframes;
  fail_unless (
      after_crowd >= before_crowd + 1 && after_crowd <= before_crowd + 2,
      "100 requests gave %d keyframes", after_crowd - before_crowd);

  gst_element_set_state (viewer, GST_STATE_NULL);
  gst_element_set_state (room, GST_STATE_NULL);
  gst_object_unref (viewer_pad);
  gst_object_unref (sink);
  gst_object_unref (enc_src);
  gst_object_unref (enc);
  gst_object_unref (viewer);
  gst_object_unref (room);
  gst_object_unref (clock);
}
GST_END_TEST;

static Suite *
keyframes_suite (void)
{
  Suite *s = suite_create ("keyframes");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_viewer_keyframe_request_reaches_encoder);
  return s;
}

ROOM_CHECK_MAIN (keyframes);
