/* gst-rooms benchmark: the live show's fan-out (webrtcfanoutsink, through
 * gst-room's WHEP) under N viewers, on one machine.
 *
 * One process, a few threads: it encodes a program once (VP8 at ~2 Mbit/s
 * and Opus, 10 s), then replays its RTP packets in a loop in real time into
 * a gst-room whose viewer role is served by webrtcfanoutsink, and holds N
 * light viewers (tests/fanout/viewerclient: libnice, controlling, full ICE;
 * an OpenSSL DTLS handshake each; SRTP) that join over WHEP, then only count
 * packets and sequence gaps, decrypting one packet in --decrypt-every to
 * check them.  For each N it reports, from /proc of the gst-room process:
 * CPU (cores, and per delivered packet), viewers per core, threads, RSS per
 * viewer, the share of packets delivered, and the time from WHEP POST to the
 * first packet; and the floor, measured in this process in the same run:
 * SRTP protect (OpenSSL, AES-GCM) and one sendto per 1200-byte packet.
 *
 *   build/tests/check/fanout-load [--viewers 100,250,500,1000] [--window 10]
 *       [--size 1280x720] [--min-delivered 0.995] [--ladder]
 *
 * With --ladder each count runs twice in the same run: the program as one
 * rendition, then with a quality ladder (a second, half-size VP8 rendition
 * on `video_1` of the sink, `ladder=` in the room file), and the table gets
 * the ratio of the CPU per delivered packet: what choosing a rung per viewer
 * costs.  The viewers stay on the top rung (nothing is lost on loopback).
 *
 * Exit status 0 when every viewer connected and, with --min-delivered, each
 * run delivered at least that share of the packets.  Every wait is bounded. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <libsoup/soup.h>

#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <csignal>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "srtptransform.h"
#include "viewerclient.h"

namespace {

struct RtpPacket {
  std::vector<uint8_t> bytes;
  GstClockTime pts;
  bool video;
  bool small = false; /* video of the ladder's second rendition */
};

struct Program {
  std::vector<RtpPacket> packets; /* in time order */
  GstClockTime duration = 0;
};

std::vector<RtpPacket>
pull (GstElement *pipeline, const char *name, bool video)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  std::vector<RtpPacket> out;
  while (GstSample *sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    gst_buffer_map (buffer, &map, GST_MAP_READ);
    out.push_back ({std::vector<uint8_t> (map.data, map.data + map.size),
        GST_BUFFER_PTS (buffer), video});
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
  gst_object_unref (sink);
  return out;
}

/* 10 s of moving bars and a tone, encoded once as a live encoder would. */
Program
encode_program (const std::string &size, bool ladder)
{
  std::string width = size.substr (0, size.find ('x'));
  std::string height = size.substr (size.find ('x') + 1);
  std::string description =
      "videotestsrc pattern=smpte horizontal-speed=6 num-buffers=300 "
      "! video/x-raw,width="
      + width + ",height=" + height
      + ",framerate=30/1 "
        "! tee name=t t. ! queue "
        "! vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=2000000 "
        "keyframe-max-dist=60 lag-in-frames=0 error-resilient=default "
        "threads=2 "
        "! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit "
        "! appsink name=video sync=false max-buffers=0 "
      + std::string (
          ladder ? "t. ! queue ! videoscale ! video/x-raw,width="
                       + std::to_string (std::stoi (width) / 2)
                       + ",height=" + std::to_string (std::stoi (height) / 2)
                       + " ! vp8enc deadline=1 cpu-used=8 "
                         "end-usage=cbr target-bitrate=600000 "
                         "keyframe-max-dist=60 lag-in-frames=0 "
                         "error-resilient=default threads=1 "
                         "! rtpvp8pay pt=96 mtu=1200 "
                         "picture-id-mode=15-bit ! appsink "
                         "name=small sync=false max-buffers=0 "
                 : std::string ())
      + "audiotestsrc num-buffers=500 samplesperbuffer=960 "
        "! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 "
        "frame-size=20 ! rtpopuspay pt=111 ! appsink name=audio sync=false";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch (description.c_str (), &error);
  if (!pipeline) {
    g_printerr ("fanout-load: %s\n", error->message);
    exit (2);
  }
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  Program program;
  std::vector<RtpPacket> video, audio, small;
  std::thread audio_thread ([&] { audio = pull (pipeline, "audio", false); });
  std::thread small_thread ([&] {
    if (ladder)
      small = pull (pipeline, "small", true);
    for (RtpPacket &p : small)
      p.small = true;
  });
  video = pull (pipeline, "video", true);
  audio_thread.join ();
  small_thread.join ();
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  program.packets = std::move (video);
  program.packets.insert (program.packets.end (), audio.begin (), audio.end ());
  program.packets.insert (program.packets.end (), small.begin (), small.end ());
  std::stable_sort (program.packets.begin (), program.packets.end (),
      [] (const RtpPacket &a, const RtpPacket &b) { return a.pts < b.pts; });
  program.duration = 10 * GST_SECOND;
  return program;
}

/* Replays the program in a loop in real time, sequence numbers and
 * timestamps running on, to two UDP ports. */
class Sender {
public:
  Sender (const Program &program, guint16 video_port, guint16 audio_port,
      guint16 small_port)
      : program_ (program)
  {
    socket_ = ::socket (AF_INET, SOCK_DGRAM, 0);
    for (auto [port, addr] :
        {std::pair (video_port, &video_), std::pair (audio_port, &audio_),
            std::pair (small_port, &small_)}) {
      addr->sin_family = AF_INET;
      addr->sin_port = htons (port);
      addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    }
    thread_ = std::thread ([this] { run (); });
  }
  ~Sender ()
  {
    stop_ = true;
    thread_.join ();
    ::close (socket_);
  }
  /* what a viewer on the top rung gets: video_sent + audio_sent */
  std::atomic<guint64> video_sent{0}, audio_sent{0}, small_sent{0};

private:
  void run ()
  {
    gint64 start = g_get_monotonic_time ();
    guint16 sequence[3] = {1000, 2000, 3000};
    for (guint loop = 0; !stop_; loop++) {
      for (const RtpPacket &p : program_.packets) {
        gint64 due =
            start + (gint64)((loop * program_.duration + p.pts) / 1000);
        gint64 now = g_get_monotonic_time ();
        if (due > now)
          g_usleep (due - now);
        if (stop_)
          return;
        std::vector<uint8_t> bytes = p.bytes;
        guint16 &seq = sequence[p.small ? 2 : p.video ? 0 : 1];
        bytes[2] = (uint8_t)(seq >> 8);
        bytes[3] = (uint8_t)seq;
        seq++;
        guint32 ts = ((guint32)bytes[4] << 24) | ((guint32)bytes[5] << 16)
                     | ((guint32)bytes[6] << 8) | bytes[7];
        ts += loop
              * (guint32)(program_.duration * (p.video ? 90000 : 48000)
                          / GST_SECOND);
        for (int i = 0; i < 4; i++)
          bytes[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        const sockaddr_in *to = p.small ? &small_ : p.video ? &video_ : &audio_;
        ::sendto (socket_, bytes.data (), bytes.size (), 0,
            (const sockaddr *)to, sizeof *to);
        (p.small ? small_sent : p.video ? video_sent : audio_sent)++;
      }
    }
  }

  const Program &program_;
  int socket_ = -1;
  sockaddr_in video_{}, audio_{}, small_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/* A socket of @type bound to a free port of 127.0.0.1, and that address. */
int
bind_loopback (int type, sockaddr_in &addr)
{
  int s = ::socket (AF_INET, type, 0);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ::bind (s, (sockaddr *)&addr, sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname (s, (sockaddr *)&addr, &len);
  return s;
}

guint16
free_port (int type)
{
  sockaddr_in addr;
  ::close (bind_loopback (type, addr));
  return ntohs (addr.sin_port);
}

struct ProcSample {
  double cpu_seconds = 0;
  long threads = 0, rss_kb = 0;
};

ProcSample
sample_process (GPid pid)
{
  ProcSample s;
  std::ifstream stat ("/proc/" + std::to_string (pid) + "/stat");
  std::string text ((std::istreambuf_iterator<char> (stat)), {});
  size_t close = text.rfind (')');
  if (close != std::string::npos) {
    std::istringstream fields (text.substr (close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; fields >> field; i++) {
      if (i == 14)
        utime = std::stod (field);
      if (i == 15) {
        stime = std::stod (field);
        break;
      }
    }
    s.cpu_seconds = (utime + stime) / sysconf (_SC_CLK_TCK);
  }
  std::ifstream status ("/proc/" + std::to_string (pid) + "/status");
  std::string line;
  while (std::getline (status, line)) {
    if (line.rfind ("Threads:", 0) == 0)
      s.threads = std::stol (line.substr (8));
    if (line.rfind ("VmRSS:", 0) == 0)
      s.rss_kb = std::stol (line.substr (6));
  }
  return s;
}

/* The floor of a fan-out: SRTP protect with OpenSSL (AES-GCM) and one
 * sendto per 1200-byte packet, in µs of CPU per packet. */
double
measure_floor (guint count)
{
  roomwebrtc::SrtpTransform srtp;
  uint8_t key[16] = {1}, salt[12] = {2};
  srtp.init (roomwebrtc::SrtpProfile::AEAD_AES_128_GCM, key, 16, salt, 12);
  sockaddr_in addr;
  int sink = bind_loopback (SOCK_DGRAM, addr);
  int out = ::socket (AF_INET, SOCK_DGRAM, 0);
  std::vector<uint8_t> packet (1200 + 64, 0x55);
  packet[0] = 0x80;
  packet[1] = 96;
  timespec t0, t1;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t0);
  for (guint i = 0; i < count; i++) {
    packet[2] = (uint8_t)(i >> 8);
    packet[3] = (uint8_t)i;
    size_t length = 1200;
    srtp.protect_rtp (packet.data (), &length, packet.size ());
    ::sendto (out, packet.data (), length, MSG_DONTWAIT, (sockaddr *)&addr,
        sizeof addr);
  }
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t1);
  ::close (sink);
  ::close (out);
  return ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3)
         / count;
}

struct ClientThreads {
  std::vector<GMainContext *> contexts;
  std::vector<GMainLoop *> loops;
  std::vector<std::thread> threads;
  explicit ClientThreads (guint n)
  {
    for (guint i = 0; i < n; i++) {
      GMainContext *c = g_main_context_new ();
      GMainLoop *l = g_main_loop_new (c, FALSE);
      contexts.push_back (c);
      loops.push_back (l);
      threads.emplace_back ([c, l] {
        g_main_context_push_thread_default (c);
        g_main_loop_run (l);
        g_main_context_pop_thread_default (c);
      });
    }
  }
  ~ClientThreads ()
  {
    for (GMainLoop *l : loops)
      g_main_loop_quit (l);
    for (auto &t : threads)
      t.join ();
    for (GMainLoop *l : loops)
      g_main_loop_unref (l);
    for (GMainContext *c : contexts)
      g_main_context_unref (c);
  }
};

struct Result {
  guint viewers = 0, connected = 0;
  bool ladder = false;
  double idle_cores = 0, cores = 0, us_per_packet = 0, delivered = 0;
  long threads_idle = 0, threads = 0;
  double rss_per_viewer_kb = 0;
  double join_median_ms = 0, join_p95_ms = 0;
  guint64 packets = 0;
};

Result
run_one (const Program &program, const std::string &gst_room, guint viewers,
    double window, guint decrypt_every, bool ladder)
{
  Result r;
  r.viewers = viewers;
  r.ladder = ladder;
  guint16 http = free_port (SOCK_STREAM), vport = free_port (SOCK_DGRAM),
          aport = free_port (SOCK_DGRAM), sport = free_port (SOCK_DGRAM);
  gchar *dir = g_dir_make_tmp ("fanout-load-XXXXXX", nullptr);
  std::string room_file = std::string (dir) + "/room.ini";
  std::ostringstream room;
  room << "[room]\ntitle=fanout load\nlisten=127.0.0.1:" << http
       << "\nmax-pending-joins=100000\nmax-pending-joins-per-address=100000\n"
          "join-timeout=60\nmax-connections=100000\n\n[pipeline program]\n"
          "launch=udpsrc address=127.0.0.1 port="
       << vport
       << " buffer-size=8388608 caps=\"application/x-rtp,media=video,"
          "encoding-name=VP8,clock-rate=90000,payload=96\" ! "
          "program_rtp.sink_0\n"
          "  udpsrc address=127.0.0.1 port="
       << aport
       << " caps=\"application/x-rtp,media=audio,encoding-name=OPUS,"
          "clock-rate=48000,payload=111,encoding-params=(string)2\" "
          "! program_rtp.audio_sink_0\n"
          "  dispatcher name=program_rtp source=0 ! fakesink sync=false "
          "async=false\n";
  if (ladder)
    room << "  udpsrc address=127.0.0.1 port=" << sport
         << " buffer-size=8388608 caps=\"application/x-rtp,media=video,"
            "encoding-name=VP8,clock-rate=90000,payload=96\" ! "
            "program_360.sink_0\n"
            "  dispatcher name=program_360 source=0 ! fakesink sync=false "
            "async=false\n";
  room << "\n[role viewer]\nrtp-hub=program_rtp\nsend=none\n"
          "receive=audio,video\nmax-peers=100000\n";
  if (ladder)
    room << "ladder=720p:program_rtp;360p:program_360\n";
  g_file_set_contents (room_file.c_str (), room.str ().c_str (), -1, nullptr);

  gchar *argv[] = {
      (gchar *)gst_room.c_str (), (gchar *)room_file.c_str (), nullptr};
  GPid pid = 0;
  gint out_fd = -1;
  GError *error = nullptr;
  if (!g_spawn_async_with_pipes (nullptr, argv, nullptr,
          G_SPAWN_DO_NOT_REAP_CHILD, nullptr, nullptr, &pid, nullptr, &out_fd,
          nullptr, &error)) {
    g_printerr ("fanout-load: cannot start %s: %s\n", gst_room.c_str (),
        error->message);
    exit (2);
  }
  /* wait for "is open at" */
  std::string output;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  char buf[512];
  while (output.find ("is open at") == std::string::npos
         && g_get_monotonic_time () < deadline) {
    ssize_t n = ::read (out_fd, buf, sizeof buf);
    if (n <= 0)
      break;
    output.append (buf, n);
  }
  if (output.find ("is open at") == std::string::npos) {
    g_printerr ("fanout-load: gst-room did not open:\n%s\n", output.c_str ());
    exit (2);
  }
  /* keep draining its output so it never blocks on a full pipe */
  std::thread drain ([out_fd] {
    char b[4096];
    while (::read (out_fd, b, sizeof b) > 0)
      ;
  });

  Sender sender (program, vport, aport, sport);
  g_usleep (2 * G_USEC_PER_SEC);
  ProcSample idle0 = sample_process (pid);
  g_usleep (3 * G_USEC_PER_SEC);
  ProcSample idle1 = sample_process (pid);
  r.idle_cores = (idle1.cpu_seconds - idle0.cpu_seconds) / 3.0;
  r.threads_idle = idle1.threads;

  ClientThreads clients (2);
  auto certificate = viewerclient::certificate_new ();
  std::vector<std::unique_ptr<viewerclient::Viewer>> list;
  std::vector<gint64> posted;
  SoupSession *session = soup_session_new ();
  std::string url =
      "http://127.0.0.1:" + std::to_string (http) + "/whep/viewer";
  for (guint i = 0; i < viewers; i++) {
    auto viewer = std::make_unique<viewerclient::Viewer> (
        clients.contexts[i % clients.contexts.size ()], certificate);
    viewer->set_decrypt_every (decrypt_every);
    std::string offer = viewer->offer ();
    SoupMessage *msg = soup_message_new ("POST", url.c_str ());
    GBytes *body = g_bytes_new (offer.data (), offer.size ());
    soup_message_set_request_body_from_bytes (msg, "application/sdp", body);
    g_bytes_unref (body);
    gint64 t = g_get_monotonic_time ();
    GBytes *answer = soup_session_send_and_read (session, msg, nullptr, &error);
    guint status = soup_message_get_status (msg);
    if (answer && status == 201) {
      gsize n = 0;
      const char *text = (const char *)g_bytes_get_data (answer, &n);
      if (viewer->set_answer (std::string (text, n))) {
        list.push_back (std::move (viewer));
        posted.push_back (t);
      }
    } else {
      g_printerr ("fanout-load: viewer %u refused (%u)\n", i, status);
    }
    g_clear_error (&error);
    if (answer)
      g_bytes_unref (answer);
    g_object_unref (msg);
  }
  /* every viewer's first packet, then a moment to settle */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    guint got = 0;
    for (auto &v : list)
      got += v->counters ().first_packet_us.load () != 0;
    if (got == list.size ())
      break;
    g_usleep (100000);
  }
  std::vector<double> joins;
  for (size_t i = 0; i < list.size (); i++) {
    gint64 first = list[i]->counters ().first_packet_us.load ();
    if (first) {
      r.connected++;
      joins.push_back ((first - posted[i]) / 1000.0);
    }
  }
  std::sort (joins.begin (), joins.end ());
  if (!joins.empty ()) {
    r.join_median_ms = joins[joins.size () / 2];
    r.join_p95_ms =
        joins[std::min (joins.size () - 1, joins.size () * 95 / 100)];
  }
  g_usleep (2 * G_USEC_PER_SEC);

  auto received = [&] {
    guint64 sum = 0;
    for (auto &v : list)
      sum += v->counters ().video_packets + v->counters ().audio_packets;
    return sum;
  };
  guint64 sent0 = sender.video_sent + sender.audio_sent, got0 = received ();
  ProcSample w0 = sample_process (pid);
  g_usleep ((gulong)(window * G_USEC_PER_SEC));
  ProcSample w1 = sample_process (pid);
  guint64 sent1 = sender.video_sent + sender.audio_sent, got1 = received ();
  r.cores = (w1.cpu_seconds - w0.cpu_seconds) / window;
  r.threads = w1.threads;
  r.rss_per_viewer_kb =
      list.empty () ? 0 : (double)(w1.rss_kb - idle1.rss_kb) / list.size ();
  r.packets = got1 - got0;
  double expected = (double)(sent1 - sent0) * r.connected;
  r.delivered = expected > 0 ? r.packets / expected : 0;
  r.us_per_packet =
      r.packets ? (r.cores - r.idle_cores) * window * 1e6 / r.packets : 0;

  soup_session_abort (session);
  g_object_unref (session);
  list.clear ();
  kill (pid, SIGINT);
  int status = 0;
  for (int i = 0; i < 100 && waitpid (pid, &status, WNOHANG) == 0; i++)
    g_usleep (100000);
  if (waitpid (pid, &status, WNOHANG) == 0) {
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
  }
  drain.join ();
  ::close (out_fd);
  g_spawn_close_pid (pid);
  g_unlink (room_file.c_str ());
  g_rmdir (dir);
  g_free (dir);
  return r;
}

} // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  gchar *counts = nullptr, *size = nullptr, *gst_room = nullptr;
  gdouble window = 10, min_delivered = 0;
  gint decrypt_every = 64;
  gboolean ladder = FALSE;
  GOptionEntry entries[] = {
      {"viewers", 0, 0, G_OPTION_ARG_STRING, &counts,
          "viewer counts, comma separated (100,250,500,1000)", "N,N"},
      {"window", 0, 0, G_OPTION_ARG_DOUBLE, &window, "measured seconds (10)",
          "S"},
      {"size", 0, 0, G_OPTION_ARG_STRING, &size, "program size (1280x720)",
          "WxH"},
      {"gst-room", 0, 0, G_OPTION_ARG_FILENAME, &gst_room,
          "the gst-room to measure", "PATH"},
      {"decrypt-every", 0, 0, G_OPTION_ARG_INT, &decrypt_every,
          "viewers decrypt one packet in this many (64)", "N"},
      {"min-delivered", 0, 0, G_OPTION_ARG_DOUBLE, &min_delivered,
          "fail below this share of packets delivered (0: report only)", "F"},
      {"ladder", 0, 0, G_OPTION_ARG_NONE, &ladder,
          "each count also with a two-rendition quality ladder", nullptr},
      {nullptr}};
  GOptionContext *options = g_option_context_new ("- fan-out load");
  g_option_context_add_main_entries (options, entries, nullptr);
  GError *error = nullptr;
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    g_printerr ("fanout-load: %s\n", error->message);
    return 2;
  }
  g_option_context_free (options);
  std::string room_tool = gst_room ? gst_room : "";
  if (room_tool.empty ()) {
    const char *build = g_getenv ("ROOMS_BUILD_ROOT");
    room_tool =
        std::string (build ? build : "build") + "/tools/gst-room/gst-room";
  }
  std::vector<guint> viewer_counts;
  gchar **parts = g_strsplit (counts ? counts : "100,250,500,1000", ",", -1);
  for (gchar **p = parts; *p; p++)
    viewer_counts.push_back ((guint)g_ascii_strtoull (*p, nullptr, 10));
  g_strfreev (parts);

  g_print (
      "fanout-load: encoding the program (%s)...\n", size ? size : "1280x720");
  Program program = encode_program (size ? size : "1280x720", ladder);
  guint64 bytes = 0;
  guint video = 0;
  for (const RtpPacket &p : program.packets) {
    if (p.small)
      continue;
    bytes += p.bytes.size ();
    video += p.video;
  }
  g_print ("fanout-load: %zu packets (%u video), %.2f Mbit/s\n",
      program.packets.size (), video, bytes * 8 / 10.0 / 1e6);

  bool ok = true;
  std::vector<Result> results;
  for (guint n : viewer_counts)
    for (bool with_ladder : {false, true}) {
      if (with_ladder && !ladder)
        continue;
      Result r = run_one (
          program, room_tool, n, window, (guint)decrypt_every, with_ladder);
      results.push_back (r);
      g_print ("fanout-load: %u viewers%s: %u connected, %.3f cores (idle "
               "%.3f), %.2f%% delivered\n",
          n, with_ladder ? " (ladder)" : "", r.connected, r.cores, r.idle_cores,
          r.delivered * 100);
      if (r.connected < n || (min_delivered > 0 && r.delivered < min_delivered))
        ok = false;
    }
  double floor_us = measure_floor (200000);

  g_print ("\n| viewers | ladder | connected | server cores (idle) | viewers "
           "per core | "
           "us per packet | x floor | threads (idle) | RSS per viewer | "
           "delivered | POST to first packet, median / p95 |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Result &r : results)
    g_print ("| %u | %s | %u | %.3f (%.3f) | %.0f | %.2f | %.1f | %ld (%ld) | "
             "%.0f KB | "
             "%.2f %% | %.0f / %.0f ms |\n",
        r.viewers, r.ladder ? "yes" : "no", r.connected, r.cores, r.idle_cores,
        r.cores - r.idle_cores > 0 ? r.connected / (r.cores - r.idle_cores) : 0,
        r.us_per_packet, floor_us > 0 ? r.us_per_packet / floor_us : 0,
        r.threads, r.threads_idle, r.rss_per_viewer_kb, r.delivered * 100,
        r.join_median_ms, r.join_p95_ms);
  for (size_t i = 1; i < results.size (); i++)
    if (results[i].ladder && !results[i - 1].ladder
        && results[i - 1].us_per_packet > 0)
      g_print ("\n%u viewers: with a ladder %.2f us per packet against %.2f: "
               "x %.3f\n",
          results[i].viewers, results[i].us_per_packet,
          results[i - 1].us_per_packet,
          results[i].us_per_packet / results[i - 1].us_per_packet);
  g_print ("\nfloor (OpenSSL AES-GCM protect + one sendto, 1200 bytes, this "
           "process): %.2f us per packet\n",
      floor_us);
  return ok ? 0 : 1;
}
