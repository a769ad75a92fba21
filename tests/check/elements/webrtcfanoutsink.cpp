/* gst-rooms: webrtcfanoutsink against light viewers made of libnice, an
 * OpenSSL DTLS client and SRTP (tests/fanout/viewerclient.h): what a viewer
 * receives, keyframes first, NACKs from the shared history across the
 * sequence wrap, keyframe requests coalesced, viewers freed, bad input. */
#include "roomcheck.h"

#include <gio/gio.h>
#include <gst/video/video.h>

#include <dirent.h>

#include <atomic>
#include <map>
#include <tuple>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "viewerclient.h"

using viewerclient::Viewer;

/* Every webrtcfanoutsink-viewer message seen so far, by pipeline: waiting
 * for one viewer's event must not lose another's. */
static std::map<GstElement *,
    std::vector<std::tuple<guint, std::string, std::string>>>
    seen_events;

/* What a test has running, to be stopped if the test never ends.  A failed
 * assertion leaves the test by longjmp (in-process, CK_FORK=no) and no
 * destructor runs: the viewers' thread and the program's pipeline would go
 * on calling into the test's dead stack frame, and the crash would hide the
 * assertion.  The teardown stops them, newest first, and check reports the
 * failure. */
static std::vector<std::pair<const void *, std::function<void ()>>>
    left_running;

static void
forget_running (const void *owner)
{
  for (auto it = left_running.begin (); it != left_running.end (); ++it)
    if (it->first == owner) {
      left_running.erase (it);
      return;
    }
}

static void
stop_what_a_failed_test_left ()
{
  while (!left_running.empty ()) {
    auto stop = std::move (left_running.back ().second);
    left_running.pop_back ();
    stop ();
  }
}

/* The viewers' side runs on a thread of its own, as a browser would. */
struct ClientThread {
  GMainContext *context = g_main_context_new ();
  GMainLoop *loop = g_main_loop_new (context, FALSE);
  GThread *thread = nullptr;
  ClientThread ()
  {
    thread = g_thread_new (
        "viewers",
        [] (gpointer data) -> gpointer {
          /* the loop holds its context; @data may be a dead frame by the
           * time the loop ends (see left_running) */
          GMainLoop *loop = static_cast<ClientThread *> (data)->loop;
          GMainContext *context = g_main_loop_get_context (loop);
          g_main_context_push_thread_default (context);
          g_main_loop_run (loop);
          g_main_context_pop_thread_default (context);
          return nullptr;
        },
        this);
    left_running.emplace_back (this, [loop = loop, thread = thread] {
      g_main_loop_quit (loop);
      g_thread_join (thread);
    });
  }
  ~ClientThread ()
  {
    forget_running (this);
    g_main_loop_quit (loop);
    g_thread_join (thread);
    g_main_loop_unref (loop);
    g_main_context_unref (context);
  }
};

/* A program of VP8 (no keyframe of its own for 1000 frames: every one a
 * viewer sees was asked for) and Opus, with payload types that differ from
 * the viewers' (96, 111) and sequence numbers close to the 16-bit wrap. */
struct Program {
  GstElement *pipeline = nullptr;
  GstElement *sink = nullptr;
  std::atomic<int> keyframe_requests{0};
  explicit Program (const char *sink_properties = "", const char *extra = "")
  {
    std::string description =
        std::string ("videotestsrc is-live=true pattern=ball ! "
                     "video/x-raw,width=320,height=240,framerate=30/1 ! "
                     "vp8enc name=enc deadline=1 keyframe-max-dist=1000 "
                     "target-bitrate=400000 ! rtpvp8pay pt=100 "
                     "picture-id-mode=15-bit seqnum-offset=65300 mtu=1200 "
                     "! webrtcfanoutsink "
                     "name=sink workers=2 address=127.0.0.1 ")
        + sink_properties
        + " audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=120 ! "
          "sink.audio "
        + extra;
    GError *error = nullptr;
    pipeline = gst_parse_launch (description.c_str (), &error);
    fail_unless (pipeline, "%s", error ? error->message : "?");
    sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
    GstPad *pad = gst_element_get_static_pad (enc, "src");
    gst_pad_add_probe (
        pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
          if (gst_video_event_is_force_key_unit (
                  GST_PAD_PROBE_INFO_EVENT (info)))
            static_cast<Program *> (data)->keyframe_requests++;
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
    gst_object_unref (pad);
    gst_object_unref (enc);
    left_running.emplace_back (this, [pipeline = pipeline, sink = sink] {
      gst_element_set_state (pipeline, GST_STATE_NULL);
      gst_object_unref (sink);
      gst_object_unref (pipeline);
    });
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
                 != GST_STATE_CHANGE_FAILURE);
  }
  ~Program ()
  {
    forget_running (this);
    seen_events.erase (pipeline);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (sink);
    gst_object_unref (pipeline);
  }
  /* add-viewer's reply; retried while the program's first packets are on
   * their way */
  GstStructure *add (const std::string &offer)
  {
    for (int i = 0; i < 100; i++) {
      GstStructure *reply = nullptr;
      g_signal_emit_by_name (sink, "add-viewer", offer.c_str (), &reply);
      fail_unless (reply != nullptr);
      const gchar *reason = gst_structure_get_string (reply, "reason");
      if (!reason || g_strcmp0 (reason, "the program has not started yet"))
        return reply;
      gst_structure_free (reply);
      g_usleep (50000);
    }
    fail ("the program never started");
    return nullptr;
  }
  guint connect (Viewer &viewer)
  {
    GstStructure *reply = add (viewer.offer ());
    fail_unless (gst_structure_has_name (reply, "webrtcfanoutsink-answer"),
        "refused: %s", gst_structure_get_string (reply, "reason"));
    guint id = 0;
    gst_structure_get_uint (reply, "id", &id);
    fail_unless (
        viewer.set_answer (gst_structure_get_string (reply, "answer")));
    gst_structure_free (reply);
    return id;
  }
};

static bool
wait_until (std::function<bool ()> done, double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64)(seconds * G_USEC_PER_SEC);
  while (!done ()) {
    if (g_get_monotonic_time () > end)
      return false;
    g_usleep (20000);
  }
  return true;
}

/* The webrtcfanoutsink-viewer message with @event for @id, within
 * @seconds. */
static bool
wait_event (GstElement *pipeline, guint id, const char *event, double seconds,
    std::string *reason = nullptr)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 end = g_get_monotonic_time () + (gint64)(seconds * G_USEC_PER_SEC);
  auto &seen = seen_events[pipeline];
  bool found = false;
  size_t checked = 0;
  while (!found) {
    for (; checked < seen.size (); checked++)
      if (std::get<0> (seen[checked]) == id
          && std::get<1> (seen[checked]) == event) {
        found = true;
        if (reason)
          *reason = std::get<2> (seen[checked]);
        break;
      }
    if (found || g_get_monotonic_time () > end)
      break;
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, 100 * GST_MSECOND, GST_MESSAGE_ELEMENT);
    if (!msg)
      continue;
    const GstStructure *s = gst_message_get_structure (msg);
    guint got = 0;
    if (gst_structure_has_name (s, "webrtcfanoutsink-viewer")
        && gst_structure_get_uint (s, "id", &got))
      seen.emplace_back (got, gst_structure_get_string (s, "event"),
          gst_structure_get_string (s, "reason"));
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return found;
}

static guint
thread_count ()
{
  guint count = 0;
  DIR *dir = opendir ("/proc/self/task");
  while (dir && readdir (dir))
    count++;
  if (dir)
    closedir (dir);
  return count - 2; /* . and .. */
}

GST_START_TEST (test_viewers_decrypt_the_program)
{
  ClientThread client;
  Program program;
  auto certificate = viewerclient::certificate_new ();
  Viewer gcm (client.context, certificate, true),
      cm (client.context, certificate, false);
  guint gcm_id = program.connect (gcm), cm_id = program.connect (cm);
  fail_unless (wait_event (program.pipeline, gcm_id, "connected", 10));
  fail_unless (wait_event (program.pipeline, cm_id, "connected", 10));
  for (Viewer *v : {&gcm, &cm}) {
    fail_unless (wait_until (
                     [v] {
                       return v->counters ().video_packets > 60
                              && v->counters ().audio_packets > 50;
                     },
                     10),
        "video %" G_GUINT64_FORMAT ", audio %" G_GUINT64_FORMAT
        ", unprotect errors %" G_GUINT64_FORMAT,
        v->counters ().video_packets.load (),
        v->counters ().audio_packets.load (),
        v->counters ().unprotect_errors.load ());
    /* every packet authenticated and decrypted with the viewer's keys */
    fail_unless_equals_int ((int)v->counters ().unprotect_errors, 0);
    /* the viewer's payload types, not the program's */
    fail_unless_equals_int ((int)v->counters ().video_pt, 96);
    fail_unless_equals_int ((int)v->counters ().audio_pt, 111);
    /* the first video packet starts a keyframe although the encoder makes
     * none by itself: the join asked for one */
    fail_unless_equals_int (v->counters ().first_video_keyframe.load (), 1);
  }
  std::string gcm_profile = gcm.profile (), cm_profile = cm.profile ();
  fail_unless_equals_string (gcm_profile.c_str (), "AEAD_AES_128_GCM");
  fail_unless_equals_string (cm_profile.c_str (), "AES_CM_128_HMAC_SHA1_80");
  guint viewers = 0;
  g_object_get (program.sink, "viewers", &viewers, nullptr);
  fail_unless_equals_int (viewers, 2);
}
GST_END_TEST;

GST_START_TEST (test_nack_answered_across_the_wrap)
{
  ClientThread client;
  Program program;
  auto certificate = viewerclient::certificate_new ();
  Viewer viewer (client.context, certificate);
  viewer.set_auto_nack (true);
  guint id = program.connect (viewer);
  fail_unless (wait_event (program.pipeline, id, "connected", 10));
  /* one viewer loses a tenth of its packets; it asks for each gap */
  gboolean ok = FALSE;
  g_signal_emit_by_name (program.sink, "set-viewer-loss", id, 10u, &ok);
  fail_unless (ok);
  const auto &c = viewer.counters ();
  fail_unless (
      wait_until ([&] { return c.video_highest >= 0x20000 + 100; }, 30),
      "the sequence numbers did not wrap (highest %x)",
      c.video_highest.load ());
  fail_unless (c.video_gaps > 10, "only %" G_GUINT64_FORMAT " gaps",
      c.video_gaps.load ());
  /* every gap was filled by a retransmission from the shared history,
   * those after the wrap included */
  fail_unless (wait_until ([&] { return c.gaps_filled == c.video_gaps; }, 5),
      "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " gaps filled",
      c.gaps_filled.load (), c.video_gaps.load ());
  fail_unless_equals_int ((int)c.unprotect_errors, 0);
}
GST_END_TEST;

/* A lighter rendition for Program's @extra: 160x120 VP8 into video_1, with
 * @before_payloader (e.g. a valve) between its encoder and payloader. */
static std::string
small_rendition (const char *before_payloader = "")
{
  return std::string ("videotestsrc is-live=true pattern=smpte ! "
                      "video/x-raw,width=160,height=120,framerate=30/1 ! "
                      "vp8enc deadline=1 keyframe-max-dist=1000 "
                      "target-bitrate=100000 ! ")
         + before_payloader
         + "rtpvp8pay pt=100 picture-id-mode=15-bit seqnum-offset=7 "
           "mtu=1200 ! sink.video_1";
}

/* Labels video_1 "small", with the rate its encoder is told to make (a test
 * pattern costs far less). */
static void
label_small (Program &program)
{
  GstPad *small = gst_element_get_static_pad (program.sink, "video_1");
  fail_unless (small != nullptr);
  g_object_set (small, "label", "small", "bitrate", 100000, nullptr);
  gst_object_unref (small);
}

/* Connects @viewer and waits until it gets the top rung ("video"), 320
 * pixels wide; returns its id. */
static guint
join_on_top_rung (Program &program, Viewer &viewer)
{
  guint id = program.connect (viewer);
  std::string rung;
  fail_unless (wait_event (program.pipeline, id, "rendition", 10, &rung));
  fail_unless_equals_string (rung.c_str (), "video");
  const auto &c = viewer.counters ();
  fail_unless (wait_until ([&] { return c.video_width == 320; }, 5));
  return id;
}

/* The quality ladder as a viewer sees it: pinned to each rung in turn, down
 * on lossy reports, up again after a probe on clean ones, and through it all
 * one stream — one SSRC, no sequence gap, picture ids and time going on. */
GST_START_TEST (test_ladder_one_stream)
{
  ClientThread client;
  Program program ("audio-only-rung=true", small_rendition ().c_str ());
  label_small (program);
  GstPad *video = gst_element_get_static_pad (program.sink, "video");
  g_object_set (video, "bitrate", 400000, nullptr);
  gst_object_unref (video);
  auto certificate = viewerclient::certificate_new ();
  Viewer viewer (client.context, certificate);
  guint id = join_on_top_rung (program, viewer);
  std::string rung;
  const auto &c = viewer.counters ();

  auto pin = [&] (const char *label, const char *expected) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (
        program.sink, "set-viewer-rendition", id, label, &ok);
    fail_unless (ok, "%s refused", label);
    seen_events[program.pipeline].clear ();
    if (expected) {
      fail_unless (wait_event (program.pipeline, id, "rendition", 10, &rung),
          "%s", label);
      fail_unless_equals_string (rung.c_str (), expected);
    }
  };
  pin ("small", "small");
  fail_unless (wait_until ([&] { return c.video_width == 160; }, 5));
  guint64 before = c.video_packets;
  fail_unless (wait_until ([&] { return c.video_packets > before + 30; }, 5));
  /* audio only: the video stops, the audio goes on */
  pin ("audio-only", "audio-only");
  g_usleep (300000);
  before = c.video_packets;
  guint64 audio = c.audio_packets;
  g_usleep (1000000);
  fail_unless_equals_int ((int)(c.video_packets - before), 0);
  fail_unless (c.audio_packets > audio + 20);
  pin ("video", "video");
  fail_unless (wait_until ([&] { return c.video_width == 320; }, 5));
  /* an unknown rung is refused and changes nothing */
  gboolean ok = TRUE;
  g_signal_emit_by_name (program.sink, "set-viewer-rendition", id, "4k", &ok);
  fail_if (ok);

  /* automatic: lossy reports take it down, clean ones up after a probe */
  pin ("auto", nullptr);
  g_usleep (2100000); /* the reports just after a switch do not count */
  for (int i = 0; i < 10 && c.video_width != 160; i++) {
    viewer.send_receiver_report (128);
    g_usleep (500000);
  }
  fail_unless (wait_event (program.pipeline, id, "rendition", 5, &rung));
  fail_unless_equals_string (rung.c_str (), "small");
  seen_events[program.pipeline].clear ();
  bool up = false;
  for (int i = 0; i < 40 && !up; i++) {
    viewer.send_receiver_report (0);
    up = wait_event (program.pipeline, id, "rendition", 0.5, &rung);
  }
  fail_unless (up, "never back up");
  fail_unless_equals_string (rung.c_str (), "video");
  fail_unless (c.duplicates > 0, "no probe reached the viewer");
  fail_unless (wait_until ([&] { return c.video_width == 320; }, 5));

  /* through it all: one stream */
  fail_unless_equals_int ((int)c.ssrc_changes, 0);
  fail_unless_equals_int ((int)c.video_gaps, 0);
  fail_unless_equals_int ((int)c.picture_id_jumps, 0);
  fail_unless_equals_int ((int)c.timestamps_back, 0);
  fail_unless_equals_int ((int)c.unprotect_errors, 0);
  GST_INFO ("%" G_GUINT64_FORMAT " probe duplicates", c.duplicates.load ());
}
GST_END_TEST;

/* A lighter rendition that starts after a viewer joined (its encoder slower
 * to start than the program's): the viewer can still be pinned to it, and
 * gets that rung, not whichever rung has its index today. */
GST_START_TEST (test_pin_a_rung_that_came_after_joining)
{
  ClientThread client;
  Program program ("audio-only-rung=true",
      small_rendition ("valve name=gate drop=true ! ").c_str ());
  label_small (program);
  auto certificate = viewerclient::certificate_new ();
  Viewer viewer (client.context, certificate);
  guint id = join_on_top_rung (program, viewer);
  std::string rung;
  const auto &c = viewer.counters ();
  /* now the lighter rendition starts */
  GstElement *gate = gst_bin_get_by_name (GST_BIN (program.pipeline), "gate");
  g_object_set (gate, "drop", FALSE, nullptr);
  gst_object_unref (gate);
  g_usleep (500000);
  seen_events[program.pipeline].clear ();
  gboolean ok = FALSE;
  g_signal_emit_by_name (
      program.sink, "set-viewer-rendition", id, "small", &ok);
  fail_unless (ok);
  fail_unless (wait_event (program.pipeline, id, "rendition", 10, &rung));
  fail_unless_equals_string (rung.c_str (), "small");
  fail_unless (wait_until ([&] { return c.video_width == 160; }, 5));
  fail_unless_equals_int ((int)c.unprotect_errors, 0);
}
GST_END_TEST;

GST_START_TEST (test_keyframe_requests_coalesced)
{
  ClientThread client;
  Program program ("keyframe-min-interval=1000");
  auto certificate = viewerclient::certificate_new ();
  std::vector<std::unique_ptr<Viewer>> viewers;
  fail_unless (wait_until ([&] { return program.keyframe_requests == 0; }, 1));
  gint64 start = g_get_monotonic_time ();
  for (int i = 0; i < 100; i++) {
    viewers.push_back (std::make_unique<Viewer> (client.context, certificate));
    program.connect (*viewers.back ());
  }
  fail_unless (wait_until (
      [&] {
        for (auto &v : viewers)
          if (v->counters ().first_video_keyframe.load () < 0)
            return false;
        return true;
      },
      40));
  /* and all of them ask again at once */
  for (auto &v : viewers)
    v->send_pli ();
  g_usleep (1500000);
  double seconds = (g_get_monotonic_time () - start) / 1e6;
  int requests = program.keyframe_requests.load ();
  GST_INFO ("%d upstream keyframe requests in %.1f s for 100 viewers", requests,
      seconds);
  fail_unless (requests >= 1);
  fail_unless (requests <= (int)seconds + 1,
      "%d upstream requests in %.1f s with keyframe-min-interval=1000",
      requests, seconds);
  for (auto &v : viewers)
    fail_unless_equals_int (v->counters ().first_video_keyframe.load (), 1);
}
GST_END_TEST;

GST_START_TEST (test_viewers_come_and_go)
{
  ClientThread client;
  Program program;
  auto certificate = viewerclient::certificate_new ();
  {
    Viewer first (client.context, certificate);
    guint id = program.connect (first);
    fail_unless (wait_event (program.pipeline, id, "connected", 10));
    gboolean ok = FALSE;
    g_signal_emit_by_name (program.sink, "remove-viewer", id, &ok);
    fail_unless (ok);
    fail_unless (wait_event (program.pipeline, id, "left", 5));
  }
  guint threads = thread_count ();
  /* threads do not grow with viewers: 20 more come and go */
  std::vector<std::unique_ptr<Viewer>> viewers;
  std::vector<guint> ids;
  for (int i = 0; i < 20; i++) {
    viewers.push_back (std::make_unique<Viewer> (client.context, certificate));
    ids.push_back (program.connect (*viewers.back ()));
  }
  for (guint id : ids)
    fail_unless (wait_event (program.pipeline, id, "connected", 20));
  fail_unless (thread_count () <= threads + 1, "%u threads, %u before",
      thread_count (), threads);
  for (guint id : ids) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (program.sink, "remove-viewer", id, &ok);
    fail_unless (ok);
  }
  fail_unless (wait_until (
      [&] {
        guint n = 1;
        g_object_get (program.sink, "viewers", &n, nullptr);
        return n == 0;
      },
      5));
}
GST_END_TEST;

GST_START_TEST (test_vanished_viewer_dropped)
{
  ClientThread client;
  Program program;
  auto certificate = viewerclient::certificate_new ();
  Viewer viewer (client.context, certificate);
  guint id = program.connect (viewer);
  fail_unless (wait_event (program.pipeline, id, "connected", 10));
  viewer.vanish ();
  /* consent freshness: no answer to the checks for 30 s */
  std::string reason;
  fail_unless (wait_event (program.pipeline, id, "failed", 50, &reason));
  fail_unless (
      g_strrstr (reason.c_str (), "consent") != nullptr, "%s", reason.c_str ());
}
GST_END_TEST;

GST_START_TEST (test_bad_input)
{
  ClientThread client;
  Program program ("max-viewers=1");
  auto certificate = viewerclient::certificate_new ();
  struct Case {
    const char *offer, *reason_part;
  } cases[] = {
      {"", ""},
      {"this is not SDP", ""},
      {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
       "m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=mid:0\r\na=ice-ufrag:abcd\r\n"
       "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\n"
       "a=fingerprint:sha-256 "
       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"
       "77:88:99:AA:BB:CC:DD:EE:FF\r\na=rtcp-mux\r\na=rtpmap:98 VP9/90000\r\n",
          ""},
  };
  for (const Case &c : cases) {
    GstStructure *reply = program.add (c.offer);
    fail_unless (gst_structure_has_name (reply, "webrtcfanoutsink-refused"),
        "'%s' was not refused", c.offer);
    const gchar *reason = gst_structure_get_string (reply, "reason");
    fail_unless (reason && *reason);
    GST_INFO ("refused: %s", reason);
    gst_structure_free (reply);
  }
  gboolean ok = TRUE;
  g_signal_emit_by_name (program.sink, "remove-viewer", 4242u, &ok);
  fail_if (ok);
  g_signal_emit_by_name (program.sink, "add-ice-candidate", 4242u, "x", &ok);
  fail_if (ok);

  Viewer viewer (client.context, certificate);
  guint id = program.connect (viewer);
  fail_unless (wait_event (program.pipeline, id, "connected", 10));
  /* garbage candidates, and one viewer too many */
  g_signal_emit_by_name (
      program.sink, "add-ice-candidate", id, "candidate:garbage", &ok);
  Viewer second (client.context, certificate);
  GstStructure *reply = program.add (second.offer ());
  fail_unless (gst_structure_has_name (reply, "webrtcfanoutsink-refused"));
  fail_unless (g_strrstr (gst_structure_get_string (reply, "reason"), "most"));
  gst_structure_free (reply);
  /* datagrams of garbage from the viewer's own address (malformed STUN,
   * DTLS records, RTP and RTCP with bad tags) change nothing */
  viewer.send_garbage (400);
  guint64 before = viewer.counters ().video_packets;
  fail_unless (wait_until (
      [&] { return viewer.counters ().video_packets > before + 30; }, 10));
  fail_unless_equals_int ((int)viewer.counters ().unprotect_errors, 0);
  fail_if (viewer.counters ().failed.load ());
  guint viewers = 0;
  g_object_get (program.sink, "viewers", &viewers, nullptr);
  fail_unless_equals_int (viewers, 1);
  std::string reason;
  fail_if (wait_event (program.pipeline, id, "failed", 0.5, &reason), "%s",
      reason.c_str ());
}
GST_END_TEST;

static Suite *
webrtcfanoutsink_suite (void)
{
  Suite *s = suite_create ("webrtcfanoutsink");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 90);
  tcase_add_checked_fixture (tc, nullptr, stop_what_a_failed_test_left);
  tcase_add_test (tc, test_viewers_decrypt_the_program);
  tcase_add_test (tc, test_nack_answered_across_the_wrap);
  tcase_add_test (tc, test_ladder_one_stream);
  tcase_add_test (tc, test_pin_a_rung_that_came_after_joining);
  tcase_add_test (tc, test_keyframe_requests_coalesced);
  tcase_add_test (tc, test_viewers_come_and_go);
  tcase_add_test (tc, test_vanished_viewer_dropped);
  tcase_add_test (tc, test_bad_input);
  return s;
}

ROOM_CHECK_MAIN (webrtcfanoutsink);
