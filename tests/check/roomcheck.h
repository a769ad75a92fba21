/* gst-rooms: shared helpers of the gst-check tests. */
#pragma once

#include <gst/check/gstcheck.h>

/* Like GST_CHECK_MAIN, with a clean exit status.  gst_check_init() already
 * deinitialises GStreamer at exit, which is when the leaks tracer
 * (GST_TRACERS=leaks, set by meson) reports, and fails the test on, any object
 * still alive (tests run in-process: CK_FORK=no). */
#define ROOM_CHECK_MAIN(name)                                                  \
  int main (int argc, char **argv)                                             \
  {                                                                            \
    gst_check_init (&argc, &argv);                                             \
    Suite *s = name##_suite ();                                                \
    int failed = gst_check_run_suite (s, #name, __FILE__);                     \
    return failed == 0 ? 0 : 1;                                                \
  }
