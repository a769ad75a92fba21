/* gst-rooms: tests of webrtcfanoutsink's quality ladder (fanoutladder.h):
 * the rewriting that makes several renditions one stream for a viewer, and
 * the choice of rung from its RTCP, on made-up reports and on reports
 * Chromium sent behind a 1 Mbit/s tbf link (tests/data/ladder-traces.txt). */
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "roomcheck.h"

#include "fanoutladder.h"

using namespace roomwebrtc;

namespace {

/* A VP8 RTP packet: 12-byte header, the payload descriptor with a picture
 * id of @bits bits, then @size bytes of payload. */
std::vector<uint8_t>
vp8_packet (guint32 ssrc, guint16 sequence, guint32 timestamp, gint picture_id,
    gint bits, bool start, size_t size = 100)
{
  std::vector<uint8_t> p (12);
  p[0] = 0x80;
  p[1] = 96;
  p[2] = (uint8_t)(sequence >> 8);
  p[3] = (uint8_t)sequence;
  for (int i = 0; i < 4; i++) {
    p[4 + i] = (uint8_t)(timestamp >> (24 - 8 * i));
    p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  }
  p.push_back ((uint8_t)(0x80 | (start ? 0x10 : 0))); /* X, S */
  p.push_back (0x80);                                 /* I */
  if (bits == 15) {
    p.push_back ((uint8_t)(0x80 | (picture_id >> 8)));
    p.push_back ((uint8_t)picture_id);
  } else {
    p.push_back ((uint8_t)(picture_id & 0x7f));
  }
  p.resize (p.size () + size, 0x42);
  return p;
}

/* One rendition's packetizer, with its own random-looking numbers. */
struct Source {
  guint32 ssrc;
  guint16 sequence;
  guint32 timestamp;
  gint picture_id;
  gint bits;
};

/* What a receiver checks in the stream it gets. */
struct Receiver {
  bool started = false;
  guint32 ssrc = 0;
  guint16 sequence = 0;
  guint32 timestamp = 0;
  gint picture_id = -1;
  gint bits = 15;
  guint packets = 0, frames = 0;

  void receive (const std::vector<uint8_t> &p, bool first_of_frame)
  {
    guint32 s = rtp_ssrc (p.data ());
    guint16 q = rtp_sequence (p.data ());
    guint32 t = rtp_timestamp (p.data ());
    Vp8Ids ids;
    fail_unless (vp8_read_ids (p.data (), p.size (), ids));
    if (started) {
      fail_unless_equals_int (s, ssrc);
      /* no gap, no repeat: the jitter buffer sees one stream */
      fail_unless_equals_int ((guint16)(sequence + 1), q);
      if (first_of_frame) {
        fail_unless ((gint32)(t - timestamp) > 0, "time went back: %u → %u",
            timestamp, t);
        fail_unless_equals_int (
            ((picture_id + 1) & ((1 << bits) - 1)), ids.picture_id);
      } else {
        fail_unless_equals_int (t, timestamp);
        fail_unless_equals_int (picture_id, ids.picture_id);
      }
    }
    started = true;
    ssrc = s;
    sequence = q;
    timestamp = t;
    picture_id = ids.picture_id;
    bits = ids.picture_id_bits;
    packets++;
    frames += first_of_frame;
  }
};

/* Runs @frames frames of three renditions through one viewer's rewriter,
 * switching at keyframes by @choose(frame) and checking what it sends. */
void
run_switches (gint bits, guint frames, guint16 first_sequence)
{
  std::vector<Source> sources = {
      {0x11111111, first_sequence, 4000000000u, (1 << bits) - 3, bits},
      {0x22222222, 100, 17, 5, bits},
      {0x33333333, 65000, 2147483000u, 0, bits}};
  VideoRewriter rewriter (0xabcdef01, VideoCodec::VP8);
  Receiver receiver;
  gint wanted = 0;
  gint64 now = 1000000;
  guint switches = 0;
  for (guint frame = 0; frame < frames; frame++) {
    /* every rendition makes this frame; every fifth frame is a keyframe
     * somewhere, a different rendition each time */
    if (frame % 7 == 3)
      wanted = (gint)((frame / 7) % 3);
    for (gint r = 0; r < 3; r++) {
      Source &src = sources[r];
      bool keyframe = frame % 5 == (guint)r;
      guint count = 1 + (frame + r) % 3;
      for (guint i = 0; i < count; i++) {
        std::vector<uint8_t> p = vp8_packet (src.ssrc, src.sequence++,
            src.timestamp, src.picture_id, src.bits, i == 0);
        bool first_ever = !rewriter.started ();
        if (r != rewriter.rendition ()) {
          if (r != wanted || i != 0 || !(keyframe || first_ever))
            continue;
          rewriter.switch_to (r, p.data (), p.size (), now);
          switches++;
        }
        rewriter.rewrite (p.data (), p.size (), now);
        receiver.receive (p, i == 0);
      }
      src.timestamp += 3000;
      src.picture_id = (src.picture_id + 1) & ((1 << src.bits) - 1);
    }
    now += 33333;
  }
  fail_unless (switches > frames / 10, "only %u switches", switches);
  fail_unless (receiver.frames > frames / 2);
}

} // namespace

GST_START_TEST (test_one_stream_across_switches)
{
  /* 15-bit picture ids, the first rendition's sequence about to wrap */
  run_switches (15, 600, 65500);
}
GST_END_TEST;

GST_START_TEST (test_one_stream_across_the_wrap)
{
  /* enough packets that the viewer's own numbers wrap too, and 7-bit
   * picture ids that wrap every 128 frames */
  run_switches (7, 20000, 1);
}
GST_END_TEST;

GST_START_TEST (test_first_rendition_keeps_its_numbers)
{
  VideoRewriter rewriter (0xabcdef01, VideoCodec::VP8);
  std::vector<uint8_t> p = vp8_packet (0x22222222, 777, 123456, 99, 15, true);
  rewriter.switch_to (1, p.data (), p.size (), 10);
  rewriter.rewrite (p.data (), p.size (), 10);
  fail_unless_equals_int (rtp_sequence (p.data ()), 777);
  fail_unless_equals_int (rtp_timestamp (p.data ()), 123456);
  /* but the SSRC is always the announced one */
  fail_unless_equals_int (rtp_ssrc (p.data ()), 0xabcdef01);
  Vp8Ids ids;
  fail_unless (vp8_read_ids (p.data (), p.size (), ids));
  fail_unless_equals_int (ids.picture_id, 99);
}
GST_END_TEST;

GST_START_TEST (test_nacks_map_back_to_their_rendition)
{
  VideoRewriter rewriter (0x01020304, VideoCodec::VP8);
  std::vector<std::vector<uint8_t>> sent; /* as the viewer got them */
  struct Origin {
    gint rendition;
    guint16 sequence;
  };
  std::vector<Origin> origins;
  guint16 seq[3] = {65530, 4000, 30000};
  gint64 now = 0;
  /* 10 packets of rendition 0, then 10 of 1, then 10 of 2 */
  for (gint r = 0; r < 3; r++)
    for (gint i = 0; i < 10; i++, now += 10000) {
      std::vector<uint8_t> p =
          vp8_packet (0x100 + r, seq[r], 1000 * r + i, i, 15, true);
      if (i == 0)
        rewriter.switch_to (r, p.data (), p.size (), now);
      origins.push_back ({r, seq[r]++});
      rewriter.rewrite (p.data (), p.size (), now);
      sent.push_back (p);
    }
  for (size_t k = 0; k < sent.size (); k++) {
    guint16 out = rtp_sequence (sent[k].data ());
    gint rendition = -1;
    guint16 original = 0;
    bool known = rewriter.original (out, rendition, original);
    if (k < 10) {
      /* older than the last two renditions: not answered (never with
       * another rendition's packet) */
      fail_if (known, "packet %zu mapped to rendition %d", k, rendition);
      continue;
    }
    fail_unless (known, "packet %zu (sent as %u) not mapped back", k, out);
    fail_unless_equals_int (rendition, origins[k].rendition);
    fail_unless_equals_int (original, origins[k].sequence);
    /* retransmitted, it goes out exactly as it was first sent */
    std::vector<uint8_t> again = vp8_packet (0x100 + rendition, original,
        1000 * rendition + (gint)(k % 10), (gint)(k % 10), 15, true);
    rewriter.rewrite_again (again.data (), again.size (), out);
    fail_unless (again == sent[k], "retransmission %zu differs", k);
  }
  /* a number never sent */
  gint rendition;
  guint16 original;
  guint16 next = (guint16)(rtp_sequence (sent.back ().data ()) + 5);
  fail_if (rewriter.original (next, rendition, original));
}
GST_END_TEST;

/* A viewer on one rendition for minutes: 65000, then 3000 more packets
 * since its switch, past where the 16-bit distance from the switch comes
 * round.  The recent ones still map back; one still to come does not. */
GST_START_TEST (test_nacks_map_back_after_a_long_segment)
{
  VideoRewriter rewriter (0x01020304, VideoCodec::VP8);
  std::vector<uint8_t> p = vp8_packet (0x100, 100, 0, 0, 15, true);
  rewriter.switch_to (0, p.data (), p.size (), 0);
  guint16 sequence = 100;
  for (guint i = 0; i < 65000; i++, sequence++) {
    p = vp8_packet (0x100, sequence, i * 3000, (gint)(i & 0x7fff), 15, i == 0);
    rewriter.rewrite (p.data (), p.size (), i * 33000);
  }
  guint16 last = rtp_sequence (p.data ());
  /* every packet the shared history can hold (1024) */
  for (guint back = 0; back < 1024; back++) {
    guint16 out = (guint16)(last - back);
    gint rendition = -1;
    guint16 original = 0;
    fail_unless (rewriter.original (out, rendition, original),
        "packet %u back not mapped", back);
    fail_unless (rewriter.since_switch (out));
    fail_unless_equals_int (original, out);
  }
  /* and just where the 16-bit distance from the first wraps */
  for (guint extra = 0; extra < 3000; extra++, sequence++) {
    p = vp8_packet (0x100, sequence, extra * 3000, 0, 15, false);
    rewriter.rewrite (p.data (), p.size (), 0);
    guint16 out = rtp_sequence (p.data ());
    for (guint16 back : {0, 1, 100, 1023}) {
      gint rendition;
      guint16 original;
      fail_unless (rewriter.since_switch ((guint16)(out - back)),
          "%u back at %u not since the switch", back, out);
      fail_unless (
          rewriter.original ((guint16)(out - back), rendition, original));
    }
  }
  /* a number still to come is not */
  gint rendition;
  guint16 original;
  fail_if (rewriter.original ((guint16)(sequence + 10), rendition, original));
}
GST_END_TEST;

GST_START_TEST (test_vp8_descriptor_read)
{
  std::vector<uint8_t> p = vp8_packet (1, 2, 3, 0x1234, 15, true);
  Vp8Ids ids;
  fail_unless (vp8_read_ids (p.data (), p.size (), ids));
  fail_unless_equals_int (ids.picture_id, 0x1234);
  fail_unless_equals_int (ids.picture_id_bits, 15);
  /* cut inside the descriptor: refused, never read beyond */
  fail_if (vp8_read_ids (p.data (), 14, ids));
  /* no extension: no ids */
  p[12] = 0x10;
  fail_unless (vp8_read_ids (p.data (), p.size (), ids));
  fail_unless_equals_int (ids.picture_id, -1);
}
GST_END_TEST;

namespace {

const gint64 S = G_USEC_PER_SEC;

std::vector<Rung>
ladder ()
{
  return {{"720p", 0, 2564000}, {"360p", 1, 664000}, {"audio-only", -1, 64000}};
}

/* Feeds @chooser one report per second for @seconds, from @t, calling
 * probe_budget every 33 ms as the worker does per frame; a switch lands
 * 300 ms after the target changes.  Returns the bytes of probes sent. */
size_t
run (RungChooser &chooser, gint64 &t, gint seconds, gdouble loss,
    gdouble rtt = 20, bool nack_when_probing = false)
{
  std::vector<Rung> rungs = ladder ();
  size_t probed = 0;
  gint64 pending_since = 0;
  for (gint s = 0; s < seconds; s++) {
    for (gint f = 0; f < 30; f++) {
      t += S / 30;
      size_t budget = chooser.probe_budget (rungs, t);
      probed += budget;
      if (budget && nack_when_probing)
        chooser.on_nacks (t, 3);
      if (chooser.target () != chooser.current ()) {
        if (!pending_since)
          pending_since = t;
        else if (t - pending_since >= 300000) {
          chooser.switched (chooser.target (), t);
          pending_since = 0;
        }
      }
    }
    chooser.on_report (rungs, t, loss, rtt);
  }
  return probed;
}

} // namespace

GST_START_TEST (test_chooser_down_fast)
{
  RungChooser chooser;
  gint64 t = 0;
  run (chooser, t, 5, 0.0);
  fail_unless_equals_int (chooser.current (), 0);
  /* a 1 Mbit/s link under 2.5 Mbit/s: 60 % lost; one report is enough,
   * and it goes straight to the rung the link carries */
  run (chooser, t, 1, 0.6);
  fail_unless_equals_int (chooser.target (), 1);
  run (chooser, t, 1, 0.0);
  fail_unless_equals_int (chooser.current (), 1);
  fail_unless (chooser.estimate () > 900000 && chooser.estimate () < 1100000,
      "estimate %" G_GUINT64_FORMAT, chooser.estimate ());
  /* a little loss once is noise; twice in a row is not */
  RungChooser other;
  t = 0;
  run (other, t, 3, 0.0);
  run (other, t, 1, 0.05);
  run (other, t, 1, 0.0);
  fail_unless_equals_int (other.current (), 0);
  run (other, t, 2, 0.05);
  fail_unless_equals_int (other.target (), 1);
  /* however bad, the picture goes only from the lightest video rung */
  RungChooser bad;
  t = 0;
  run (bad, t, 3, 0.0);
  run (bad, t, 1, 0.97);
  fail_unless_equals_int (bad.target (), 1);
  /* and only after three lossy reports there, once it settled */
  run (bad, t, 4, 0.9);
  fail_unless_equals_int (bad.target (), 1);
  run (bad, t, 3, 0.9);
  fail_unless_equals_int (bad.target (), 2);
  /* queueing delay alone also counts */
  RungChooser delayed;
  t = 0;
  run (delayed, t, 3, 0.0, 20);
  run (delayed, t, 3, 0.0, 400);
  fail_unless_equals_int (delayed.current (), 1);
}
GST_END_TEST;

GST_START_TEST (test_chooser_up_after_a_probe)
{
  RungChooser chooser;
  gint64 t = 0;
  run (chooser, t, 3, 0.0);
  run (chooser, t, 2, 0.6);
  fail_unless_equals_int (chooser.current (), 1);
  /* the link is still narrow: every probe is NACKed at once, and stops */
  size_t probed = run (chooser, t, 20, 0.0, 20, true);
  fail_unless_equals_int (chooser.current (), 1);
  fail_unless (probed > 0, "never probed");
  /* 2 s of a full probe is ~480 kB; stopped at the first NACK, each costs
   * one frame's worth */
  fail_unless (probed < 100000, "probes went on after NACKs: %zu", probed);
  /* the link is wide again: the next probe passes, up within 30 s */
  gint64 lifted = t;
  probed = run (chooser, t, 30, 0.0);
  fail_unless_equals_int (chooser.current (), 0);
  fail_unless (probed > 100000);
  (void)lifted;
}
GST_END_TEST;

GST_START_TEST (test_chooser_pinned)
{
  RungChooser chooser;
  gint64 t = 0;
  chooser.pin (1);
  run (chooser, t, 3, 0.0);
  fail_unless_equals_int (chooser.current (), 1);
  /* pinned: no probe, no move, whatever the reports say */
  fail_unless_equals_int (run (chooser, t, 15, 0.0), 0);
  run (chooser, t, 3, 0.7);
  fail_unless_equals_int (chooser.current (), 1);
  /* back to automatic, from where it is */
  chooser.pin (-1);
  fail_unless_equals_int (chooser.target (), 1);
  run (chooser, t, 20, 0.0);
  fail_unless_equals_int (chooser.current (), 0);
  /* a viewer on 720p pins 360p on a clean link, then goes back to
   * automatic: straight to 720p, no probe needed */
  RungChooser clean;
  t = 0;
  run (clean, t, 3, 0.0);
  clean.pin (1);
  run (clean, t, 3, 0.0);
  fail_unless_equals_int (clean.current (), 1);
  clean.pin (-1);
  fail_unless_equals_int (clean.target (), 0);
  fail_unless_equals_int (run (clean, t, 1, 0.0), 0);
  fail_unless_equals_int (clean.current (), 0);
  /* not adaptive: stays */
  RungChooser fixed;
  fixed.set_adaptive (false);
  t = 0;
  run (fixed, t, 5, 0.8);
  fail_unless_equals_int (fixed.current (), 0);
}
GST_END_TEST;

namespace {

struct Report {
  gint64 t;
  gdouble loss, nacked, rtt;
  gint chosen;
};

struct Trace {
  std::string name;
  gint64 first_keyframe;
  std::vector<Report> reports;
};

/* The traces in tests/data/ladder-traces.txt, by name. */
std::vector<Trace>
read_traces ()
{
  const gchar *root = g_getenv ("ROOMS_SOURCE_ROOT");
  fail_unless (root != nullptr, "ROOMS_SOURCE_ROOT is not set");
  std::ifstream in (std::string (root) + "/tests/data/ladder-traces.txt");
  fail_unless (in.good (), "no tests/data/ladder-traces.txt");
  std::vector<Trace> traces;
  std::string line;
  while (std::getline (in, line)) {
    if (line.empty () || line[0] == '#')
      continue;
    std::istringstream words (line);
    std::string word;
    words >> word;
    if (word == "trace") {
      Trace trace;
      words >> trace.name >> trace.first_keyframe;
      fail_unless ((bool)words, "bad line: %s", line.c_str ());
      trace.first_keyframe *= 1000;
      traces.push_back (trace);
      continue;
    }
    words.seekg (0);
    Report r;
    gint64 ms;
    words >> ms >> r.loss >> r.nacked >> r.rtt >> r.chosen;
    fail_unless (
        (bool)words && !traces.empty (), "bad line: %s", line.c_str ());
    r.t = ms * 1000;
    traces.back ().reports.push_back (r);
  }
  return traces;
}

/* The index of the first report after which the rung chosen is @rung, from
 * @from on; -1: never. */
gint
first_choice (const std::vector<gint> &chosen, gint rung, gint from = 0)
{
  for (size_t i = from; i < chosen.size (); i++)
    if (chosen[i] == rung)
      return (gint)i;
  return -1;
}

} // namespace

/* Chromium's own reports, recorded behind a real narrow link, replayed: the
 * chooser goes down at the report the element went down at when it ran
 * (one either way) and back up within two reports of it, and never drops
 * the picture.  Up is looser: the replay puts a second's NACKs half way
 * through it and knows the rungs' rates only roughly, and both move a probe
 * by a fraction of a second.  The replay is open loop (what the link did
 * after a switch does not follow from the replayed choice), so only those
 * two moments are compared. */
GST_START_TEST (test_chooser_on_recorded_reports)
{
  auto traces = read_traces ();
  fail_unless (traces.size () >= 2, "%zu traces", traces.size ());
  std::vector<Rung> rungs = ladder ();
  for (const Trace &trace : traces) {
    const std::string &name = trace.name;
    const std::vector<Report> &reports = trace.reports;
    RungChooser chooser;
    std::vector<gint> chosen, recorded;
    gint64 t = trace.first_keyframe;
    chooser.switched (0, t);
    gint64 pending_since = 0;
    for (const Report &r : reports) {
      /* the second before the report: frames every 33 ms, each may carry a
       * probe; NACKs (if the report's second had any) half way through */
      bool nacked = r.nacked > 0.01;
      for (gint64 f = t + S / 30; f < r.t; f += S / 30) {
        chooser.probe_budget (rungs, f);
        if (nacked && f >= r.t - S / 2) {
          chooser.on_nacks (f, 1);
          nacked = false;
        }
        if (chooser.target () != chooser.current ()) {
          if (!pending_since)
            pending_since = f;
          else if (f - pending_since >= 300000) {
            chooser.switched (chooser.target (), f);
            pending_since = 0;
          }
        }
      }
      t = r.t;
      chooser.on_report (rungs, t, r.loss, r.rtt);
      chosen.push_back (chooser.target ());
      recorded.push_back (r.chosen);
    }
    gint down = first_choice (chosen, 1), was_down = first_choice (recorded, 1);
    fail_unless (was_down >= 0, "%s: the trace never went down", name.c_str ());
    fail_unless (down >= 0 && ABS (down - was_down) <= 1,
        "%s: down after report %d, recorded after %d", name.c_str (), down,
        was_down);
    gint up = first_choice (chosen, 0, down + 1);
    gint was_up = first_choice (recorded, 0, was_down + 1);
    fail_unless (was_up >= 0, "%s: the trace never came back", name.c_str ());
    fail_unless (up >= 0 && ABS (up - was_up) <= 2,
        "%s: up after report %d, recorded after %d", name.c_str (), up, was_up);
    fail_unless (first_choice (chosen, 2) < 0,
        "%s: the picture was dropped at report %d", name.c_str (),
        first_choice (chosen, 2));
  }
}
GST_END_TEST;

static Suite *
fanoutladder_suite ()
{
  Suite *s = suite_create ("fanoutladder");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_one_stream_across_switches);
  tcase_add_test (tc, test_one_stream_across_the_wrap);
  tcase_add_test (tc, test_first_rendition_keeps_its_numbers);
  tcase_add_test (tc, test_nacks_map_back_to_their_rendition);
  tcase_add_test (tc, test_nacks_map_back_after_a_long_segment);
  tcase_add_test (tc, test_vp8_descriptor_read);
  tcase_add_test (tc, test_chooser_down_fast);
  tcase_add_test (tc, test_chooser_up_after_a_probe);
  tcase_add_test (tc, test_chooser_pinned);
  tcase_add_test (tc, test_chooser_on_recorded_reports);
  return s;
}

GST_CHECK_MAIN (fanoutladder);
