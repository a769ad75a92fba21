/* gst-rooms: AnalysisWorker, the frame hand-off of qrdetect and
 * faceoverlayfilter: the newest frame wins, EOS waits for the job in flight,
 * a flush drops the frame waiting, stop joins the thread, and every frame
 * handed over is freed (each job holds a GstBuffer, so the leaks tracer
 * sees one that is not). */
#include "analysisworker.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <dirent.h>

#include "roomcheck.h"

/* A job as the elements make them: a frame (a buffer here) and a flag that
 * must survive being replaced. */
struct Frame {
  int number = 0;
  bool due = false;
  std::unique_ptr<GstBuffer, void (*) (GstBuffer *)> buffer{
      nullptr, [] (GstBuffer *b) { gst_buffer_unref (b); }};
};

static Frame
frame (int number, GstBuffer *buffer, bool due = false)
{
  Frame f;
  f.number = number;
  f.due = due;
  f.buffer.reset (gst_buffer_ref (buffer));
  return f;
}

/* The analysis: records what it saw, and blocks on the frames listed in
 * `gated` until the test opens the gate. */
struct Analysis {
  std::mutex lock;
  std::condition_variable changed;
  std::vector<int> seen;      /* frame numbers, in order */
  std::vector<bool> seen_due; /* their `due` flags */
  int in_flight = -1;         /* the frame being analysed */
  bool gate_open = true;
  std::vector<int> gated;

  void run (Frame &f)
  {
    std::unique_lock<std::mutex> lk (lock);
    in_flight = f.number;
    changed.notify_all ();
    bool wait = false;
    for (int g : gated)
      wait |= g == f.number;
    if (wait)
      changed.wait (lk, [this] { return gate_open; });
    seen.push_back (f.number);
    seen_due.push_back (f.due);
    in_flight = -1;
    changed.notify_all ();
  }

  /* Waits (up to 10 s) until frame @number is being analysed. */
  bool wait_in_flight (int number)
  {
    std::unique_lock<std::mutex> lk (lock);
    return changed.wait_for (lk, std::chrono::seconds (10),
        [this, number] { return in_flight == number; });
  }

  void open_gate ()
  {
    std::lock_guard<std::mutex> lk (lock);
    gate_open = true;
    changed.notify_all ();
  }

  std::vector<int> numbers ()
  {
    std::lock_guard<std::mutex> lk (lock);
    return seen;
  }
};

static void
start (AnalysisWorker<Frame> &worker, Analysis &analysis)
{
  worker.start ([&analysis] (Frame &f) { analysis.run (f); });
}

/* Opens the gate after @ms milliseconds, from another thread. */
static std::thread
open_gate_later (Analysis &analysis, int ms)
{
  return std::thread ([&analysis, ms] {
    std::this_thread::sleep_for (std::chrono::milliseconds (ms));
    analysis.open_gate ();
  });
}

static int
thread_count ()
{
  int n = 0;
  DIR *dir = opendir ("/proc/self/task");
  fail_unless (dir != NULL);
  while (struct dirent *entry = readdir (dir))
    n += entry->d_name[0] != '.';
  closedir (dir);
  return n;
}

/* While the worker is busy, frames submitted replace each other: the worker
 * then takes the newest one, and the replaced ones are freed at once. */
GST_START_TEST (test_newest_frame_wins)
{
  GstBuffer *buffers[4];
  for (GstBuffer *&b : buffers)
    b = gst_buffer_new ();
  Analysis analysis;
  analysis.gate_open = false;
  analysis.gated = {0};
  AnalysisWorker<Frame> worker;
  start (worker, analysis);

  fail_unless (worker.idle ());
  fail_unless (worker.submit (frame (0, buffers[0])));
  fail_unless (analysis.wait_in_flight (0));
  fail_if (worker.idle ());
  for (int i = 1; i < 4; i++)
    fail_unless (worker.submit (frame (i, buffers[i])));
  /* Frames 1 and 2 were replaced: only the test holds them now. */
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buffers[1]), 1);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buffers[2]), 1);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buffers[3]), 2);

  analysis.open_gate ();
  worker.drain ();
  fail_unless (worker.idle ());
  std::vector<int> seen = analysis.numbers ();
  fail_unless_equals_int ((int)seen.size (), 2);
  fail_unless_equals_int (seen[0], 0);
  fail_unless_equals_int (seen[1], 3);
  for (GstBuffer *b : buffers)
    fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (b), 1);

  worker.stop ();
  for (GstBuffer *b : buffers)
    gst_buffer_unref (b);
}
GST_END_TEST;

/* What a replaced job must keep is carried over to the newer one
 * (faceoverlayfilter: a detection due stays due). */
GST_START_TEST (test_merge_keeps_state_of_replaced)
{
  GstBuffer *buffer = gst_buffer_new ();
  Analysis analysis;
  analysis.gate_open = false;
  analysis.gated = {0};
  AnalysisWorker<Frame> worker;
  start (worker, analysis);
  auto keep_due = [] (Frame &newest, Frame &replaced) {
    newest.due = newest.due || replaced.due;
  };

  fail_unless (worker.submit (frame (0, buffer), keep_due));
  fail_unless (analysis.wait_in_flight (0));
  fail_unless (worker.submit (frame (1, buffer, true), keep_due));
  fail_unless (worker.submit (frame (2, buffer, false), keep_due));
  analysis.open_gate ();
  worker.drain ();

  worker.stop ();
  std::lock_guard<std::mutex> lk (analysis.lock);
  fail_unless_equals_int ((int)analysis.seen.size (), 2);
  fail_unless_equals_int (analysis.seen[1], 2);
  fail_unless (analysis.seen_due[1], "the due flag of frame 1 was lost");
  gst_buffer_unref (buffer);
}
GST_END_TEST;

/* drain() (EOS) returns only once the job in flight and the job waiting
 * have been analysed, so their messages come before EOS. */
GST_START_TEST (test_drain_waits_for_job_in_flight)
{
  GstBuffer *buffer = gst_buffer_new ();
  Analysis analysis;
  analysis.gate_open = false;
  analysis.gated = {0, 1};
  AnalysisWorker<Frame> worker;
  start (worker, analysis);

  /* Only a job in flight: drain waits for it. */
  fail_unless (worker.submit (frame (0, buffer)));
  fail_unless (analysis.wait_in_flight (0));
  std::atomic<bool> drained{false};
  std::thread eos ([&worker, &drained] {
    worker.drain ();
    drained = true;
  });
  std::this_thread::sleep_for (std::chrono::milliseconds (200));
  fail_if (drained, "drain returned while a job was in flight");
  analysis.open_gate ();
  eos.join ();
  fail_unless_equals_int ((int)analysis.numbers ().size (), 1);

  /* A job in flight and one waiting: drain waits for both. */
  {
    std::lock_guard<std::mutex> lk (analysis.lock);
    analysis.gate_open = false;
  }
  fail_unless (worker.submit (frame (1, buffer)));
  fail_unless (analysis.wait_in_flight (1));
  fail_unless (worker.submit (frame (2, buffer)));
  std::thread opener = open_gate_later (analysis, 200);
  worker.drain ();
  std::vector<int> seen = analysis.numbers ();
  fail_unless ((int)seen.size () == 3, "drain returned early");
  fail_unless_equals_int (seen[1], 1);
  fail_unless_equals_int (seen[2], 2);
  opener.join ();

  /* Idle, or never started: drain returns at once. */
  worker.drain ();
  worker.stop ();
  worker.drain ();
  AnalysisWorker<Frame> never_started;
  never_started.drain ();
  gst_buffer_unref (buffer);
}
GST_END_TEST;

/* flush() drops the frame waiting, without waiting for the job in flight,
 * which still completes. */
GST_START_TEST (test_flush_discards_waiting_frame)
{
  GstBuffer *old_frame = gst_buffer_new (), *waiting = gst_buffer_new ();
  Analysis analysis;
  analysis.gate_open = false;
  analysis.gated = {0};
  AnalysisWorker<Frame> worker;
  start (worker, analysis);

  fail_unless (worker.submit (frame (0, old_frame)));
  fail_unless (analysis.wait_in_flight (0));
  fail_unless (worker.submit (frame (1, waiting)));
  worker.flush (); /* returns although frame 0 is still being analysed */
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (waiting), 1);
  fail_if (worker.idle ());

  analysis.open_gate ();
  worker.drain ();
  std::vector<int> seen = analysis.numbers ();
  fail_unless_equals_int ((int)seen.size (), 1);
  fail_unless_equals_int (seen[0], 0);

  /* After the flush the worker takes frames again. */
  fail_unless (worker.submit (frame (2, waiting)));
  worker.drain ();
  fail_unless_equals_int (analysis.numbers ().back (), 2);
  worker.stop ();
  gst_buffer_unref (old_frame);
  gst_buffer_unref (waiting);
}
GST_END_TEST;

/* stop() (READY or NULL) drops the frame waiting, lets the job in flight
 * finish, joins the thread and wakes a drain; a stopped worker takes no
 * frames and can be started again. */
GST_START_TEST (test_stop_joins_thread)
{
  GstBuffer *in_flight = gst_buffer_new (), *waiting = gst_buffer_new ();
  Analysis analysis;
  analysis.gate_open = false;
  analysis.gated = {0};
  AnalysisWorker<Frame> worker;
  int threads_before = thread_count ();
  start (worker, analysis);
  fail_unless_equals_int (thread_count (), threads_before + 1);

  fail_unless (worker.submit (frame (0, in_flight)));
  fail_unless (analysis.wait_in_flight (0));
  fail_unless (worker.submit (frame (1, waiting)));
  std::atomic<bool> drained{false};
  std::thread eos ([&worker, &drained] {
    worker.drain ();
    drained = true;
  });
  std::thread opener = open_gate_later (analysis, 200);
  worker.stop ();
  /* The job in flight was finished, the waiting one dropped. */
  std::vector<int> seen = analysis.numbers ();
  fail_unless_equals_int ((int)seen.size (), 1);
  fail_unless_equals_int (seen[0], 0);
  eos.join ();
  opener.join ();
  fail_unless (drained);
  fail_unless_equals_int (thread_count (), threads_before);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (in_flight), 1);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (waiting), 1);

  /* Stopped: frames are refused (and freed), stop again is harmless. */
  fail_if (worker.submit (frame (2, waiting)));
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (waiting), 1);
  worker.stop ();

  /* Started again (READY -> PAUSED after a stop): works as new. */
  analysis.gated.clear ();
  start (worker, analysis);
  fail_unless (worker.submit (frame (3, waiting)));
  worker.drain ();
  fail_unless_equals_int (analysis.numbers ().back (), 3);
  gst_buffer_unref (in_flight);
  gst_buffer_unref (waiting);
  /* The destructor stops a worker still running (an element finalized
   * without a state change). */
}
GST_END_TEST;

/* A job that is slow to free (a big frame): it counts as finished only once
 * the worker is idle again, so an element that saw a scan finish may hand
 * over the next frame at once (qrdetect's "scans" under ASan). */
struct SlowToFree {
  std::unique_ptr<int, void (*) (int *)> token{
      nullptr, [] (int *t) {
        std::this_thread::sleep_for (std::chrono::milliseconds (50));
        delete t;
      }};
};

GST_START_TEST (test_finished_means_idle)
{
  AnalysisWorker<SlowToFree> worker;
  worker.start ([] (SlowToFree &) {});
  fail_unless_equals_int ((int)worker.finished (), 0);
  for (int i = 1; i <= 3; i++) {
    SlowToFree job;
    job.token.reset (new int (i));
    fail_unless (worker.submit (std::move (job)));
    for (int wait = 0; wait < 10000 && worker.finished () < (guint64)i; wait++)
      std::this_thread::sleep_for (std::chrono::milliseconds (1));
    fail_unless_equals_int ((int)worker.finished (), i);
    fail_unless (worker.idle ());
  }
  /* A new start counts afresh. */
  worker.stop ();
  fail_unless_equals_int ((int)worker.finished (), 3);
  worker.start ([] (SlowToFree &) {});
  fail_unless_equals_int ((int)worker.finished (), 0);
  worker.stop ();
}
GST_END_TEST;

static Suite *
analysisworker_suite (void)
{
  Suite *s = suite_create ("analysisworker");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 30);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_newest_frame_wins);
  tcase_add_test (tc, test_merge_keeps_state_of_replaced);
  tcase_add_test (tc, test_drain_waits_for_job_in_flight);
  tcase_add_test (tc, test_flush_discards_waiting_frame);
  tcase_add_test (tc, test_stop_joins_thread);
  tcase_add_test (tc, test_finished_means_idle);
  return s;
}

ROOM_CHECK_MAIN (analysisworker);
