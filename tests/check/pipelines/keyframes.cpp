/* gst-rooms: a viewer's keyframe request (what webrtcbin sends upstream for a
 * browser's PLI) crosses its hubport and the program dispatcher and reaches the
 * room's one encoder, in another pipeline; a burst of requests from a crowd is
 * coalesced so the encoder does not turn every frame into a keyframe.
 *
 * Real time, real vp8enc: the encoder's own keyframe interval is far longer
 * than the test, so every keyframe after the first one was asked for. */
#include "roomcheck.h"

#include <gst/video/video.h>

#include <atomic>

namespace {

std::atomic<int> keyframes{0};
std::atomic<int> viewer_buffers{0};

GstPadProbeReturn
count_keyframes (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    keyframes++;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn
count_buffers (GstPad *, GstPadProbeInfo *, gpointer)
{
  viewer_buffers++;
  return GST_PAD_PROBE_OK;
}

/* Runs the default main context for @ms of wall time (the pipelines are live).
 */
void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (10000);
  }
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
  GstElement *viewer = gst_parse_launch (
      "hubport hub=program ! fakesink name=sink sync=false async=false", &err);
  fail_unless (viewer != NULL, "viewer: %s", err ? err->message : "");

  GstElement *enc = gst_bin_get_by_name (GST_BIN (room), "enc");
  GstPad *enc_src = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (
      enc_src, GST_PAD_PROBE_TYPE_BUFFER, count_keyframes, NULL, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (viewer), "sink");
  GstPad *viewer_pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (
      viewer_pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffers, NULL, NULL);

  fail_unless (gst_element_set_state (room, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  run_for (500);
  fail_unless (gst_element_set_state (viewer, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  run_for (1500);
  fail_unless (viewer_buffers > 0, "the viewer gets the encoded program");

  /* Quiet: the encoder makes no keyframe of its own. */
  int before = keyframes;
  run_for (1200);
  fail_unless_equals_int (keyframes, before);

  /* One viewer's request: a keyframe soon after. */
  request_keyframe (viewer_pad);
  run_for (700);
  int after_one = keyframes;
  fail_unless (after_one >= before + 1,
      "a viewer's request reached the encoder (%d -> %d)", before, after_one);

  /* A crowd: 100 requests within half a second give at most one more
   * keyframe (keyframe-min-interval=1000). */
  run_for (1100);
  int before_crowd = keyframes;
  for (int i = 0; i < 100; i++) {
    request_keyframe (viewer_pad);
    g_usleep (5000);
  }
  run_for (500);
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
