/* gst-rooms: shared helpers of the gst-check tests. */
#pragma once

#include <gst/check/gstcheck.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

/* ---- A time limit per test ----
 *
 * Tests run in-process (CK_FORK=no, so that gst_deinit() sees every leak), and
 * then libcheck enforces no timeout at all: a hung test was only killed by
 * meson, minutes later and without its name.  Here every GST_START_TEST arms
 * a watchdog thread with the test's own limit; when a test outlives it, the
 * watchdog names the test and aborts the process.
 *
 * The limit is libcheck's: tcase_set_timeout() of the test's TCase, else
 * CK_DEFAULT_TIMEOUT (set by meson), else 4 s, times CK_TIMEOUT_MULTIPLIER
 * (the sanitizer and valgrind setups raise it).  ROOMS_TEST_WATCHDOG=0 turns
 * the watchdog off (for a debugger). */
namespace roomcheck {

struct Watchdog {
  GMutex lock;
  GCond changed;
  GThread *thread = nullptr;
  std::string test; /* guarded by lock; empty: disarmed */
  std::string file;
  std::string failed; /* the last test that never reached its end */
  gint64 deadline = 0;
  double limit = 0;
  std::map<std::string, TCase *> tcase_of_test; /* filled before the run */
  std::map<TCase *, int> tcase_timeout;
};

inline Watchdog watchdog;

/* Where every thread of the hung test is, when gdb is installed
 * (ROOMS_TEST_WATCHDOG_GDB=0: not even then). */
inline void
dump_threads ()
{
  const char *wanted = g_getenv ("ROOMS_TEST_WATCHDOG_GDB");
  gchar *gdb = g_find_program_in_path ("gdb");
  if (!gdb || (wanted && g_str_equal (wanted, "0"))) {
    g_free (gdb);
    return;
  }
#ifdef PR_SET_PTRACER
  prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
  gchar *pid = g_strdup_printf ("%d", (int)getpid ());
  const gchar *argv[] = {gdb, "-p", pid, "-batch", "-nx", "-ex",
      "thread apply all bt 30", nullptr};
  gchar *out = nullptr;
  if (g_spawn_sync (nullptr, (gchar **)argv, nullptr,
          G_SPAWN_STDERR_TO_DEV_NULL, nullptr, nullptr, &out, nullptr, nullptr,
          nullptr))
    fprintf (stderr, "roomcheck: the threads of the hung test:\n%s\n", out);
  fflush (stderr);
  g_free (out);
  g_free (pid);
  g_free (gdb);
}

inline gpointer
watchdog_thread (gpointer)
{
  Watchdog &w = watchdog;
  g_mutex_lock (&w.lock);
  for (;;) {
    if (w.test.empty ()) {
      g_cond_wait (&w.changed, &w.lock);
    } else if (!g_cond_wait_until (&w.changed, &w.lock, w.deadline)
               && !w.test.empty () && g_get_monotonic_time () >= w.deadline) {
      fprintf (stderr,
          "\nroomcheck: TIMEOUT: test %s (%s) still running after its limit "
          "of %g s (tcase_set_timeout or CK_DEFAULT_TIMEOUT, times "
          "CK_TIMEOUT_MULTIPLIER); aborting\n",
          w.test.c_str (), w.file.c_str (), w.limit);
      if (!w.failed.empty ())
        fprintf (stderr,
            "roomcheck: %s failed earlier in this run and may have left "
            "pipelines running (a failed assertion skips the test's "
            "clean-up): look at that test first\n",
            w.failed.c_str ());
      fflush (stderr);
      dump_threads ();
      abort ();
    }
  }
  return nullptr;
}

inline double
env_number (const char *name, double fallback)
{
  const char *text = g_getenv (name);
  double value = text ? g_ascii_strtod (text, nullptr) : 0;
  return value > 0 ? value : fallback;
}

inline void
arm (const char *test, const char *file)
{
  const char *enabled = g_getenv ("ROOMS_TEST_WATCHDOG");
  if (enabled && g_str_equal (enabled, "0"))
    return;
  Watchdog &w = watchdog;
  double limit = env_number ("CK_DEFAULT_TIMEOUT", 4);
  auto tc = w.tcase_of_test.find (test);
  if (tc != w.tcase_of_test.end ()) {
    auto timeout = w.tcase_timeout.find (tc->second);
    if (timeout != w.tcase_timeout.end ())
      limit = timeout->second;
  }
  limit *= env_number ("CK_TIMEOUT_MULTIPLIER", 1);

  g_mutex_lock (&w.lock);
  if (!w.test.empty ()) {
    /* Still armed: the previous test left by a failed assertion. */
    w.failed = w.test;
    fprintf (stderr, "roomcheck: FAIL: %s (libcheck's summary has why)\n",
        w.test.c_str ());
  }
  w.test = test;
  w.file = file;
  w.limit = limit;
  w.deadline = g_get_monotonic_time () + (gint64)(limit * G_USEC_PER_SEC);
  if (!w.thread)
    w.thread = g_thread_new ("roomcheck-watchdog", watchdog_thread, nullptr);
  g_cond_signal (&w.changed);
  g_mutex_unlock (&w.lock);
}

inline void
disarm ()
{
  Watchdog &w = watchdog;
  g_mutex_lock (&w.lock);
  w.test.clear ();
  g_cond_signal (&w.changed);
  g_mutex_unlock (&w.lock);
}

inline void
add_test (TCase *tc, TFun test, const char *name)
{
  watchdog.tcase_of_test[name] = tc;
  _tcase_add_test (tc, test, name, 0, 0, 0, 1);
}

inline void
set_timeout (TCase *tc, double timeout)
{
  watchdog.tcase_timeout[tc] = (int)timeout;
  tcase_set_timeout (tc, timeout);
}

/* Every element this build made (ROOMS_ELEMENTS, from meson) must be
 * registered: a plugin that fails to load fails the test at once, by name,
 * instead of an assertion deep in GstHarness or a test that skips itself. */
inline bool
built_elements_registered ()
{
#ifdef ROOMS_ELEMENTS
  bool ok = true;
  gchar **names = g_strsplit (ROOMS_ELEMENTS, ",", -1);
  for (gchar **name = names; *name; name++) {
    if (!**name)
      continue;
    GstElementFactory *factory = gst_element_factory_find (*name);
    if (!factory) {
      fprintf (stderr,
          "roomcheck: FAIL: element %s was built but is not registered (does "
          "its plugin load? GST_PLUGIN_PATH=%s)\n",
          *name, g_getenv ("GST_PLUGIN_PATH"));
      ok = false;
    } else {
      gst_object_unref (factory);
    }
  }
  g_strfreev (names);
  return ok;
#else
  return true;
#endif
}

} // namespace roomcheck

/* The same macros as gstcheck.h's, with the watchdog armed and disarmed. */
#undef GST_START_TEST
#define GST_START_TEST(__testname)                                             \
  static void __testname (int G_GNUC_UNUSED __i__)                             \
  {                                                                            \
    GST_DEBUG ("test start");                                                  \
    GST_DO_CHECK_TEST_ENVIRONMENT;                                             \
    tcase_fn_start ("" #__testname, __FILE__, __LINE__);                       \
    roomcheck::arm (#__testname, __FILE__);

#undef GST_END_TEST
#define GST_END_TEST                                                           \
  GST_LOG ("cleaning up tasks");                                               \
  gst_task_cleanup_all ();                                                     \
  roomcheck::disarm ();                                                        \
  END_TEST

#undef tcase_add_test
#define tcase_add_test(tc, tf) roomcheck::add_test (tc, tf, "" #tf)
#define tcase_set_timeout(tc, timeout) roomcheck::set_timeout (tc, timeout)

/* Like GST_CHECK_MAIN, with a clean exit status.  gst_check_init() already
 * deinitialises GStreamer at exit, which is when the leaks tracer
 * (GST_TRACERS=leaks, set by meson) reports, and fails the test on, any object
 * still alive (tests run in-process: CK_FORK=no). */
#define ROOM_CHECK_MAIN(name)                                                  \
  int main (int argc, char **argv)                                             \
  {                                                                            \
    gst_check_init (&argc, &argv);                                             \
    if (!roomcheck::built_elements_registered ())                              \
      return 1;                                                                \
    Suite *s = name##_suite ();                                                \
    int failed = gst_check_run_suite (s, #name, __FILE__);                     \
    roomcheck::disarm ();                                                      \
    return failed == 0 ? 0 : 1;                                                \
  }
