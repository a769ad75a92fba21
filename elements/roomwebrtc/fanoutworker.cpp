/* roomwebrtc: a webrtcfanoutsink worker (see fanoutworker.h).
 *
 * Everything about a viewer happens on its worker's thread: libnice calls
 * back there (the agent is made with the worker's context), DTLS and SRTP
 * run there, and its packets are protected and sent there.  The streaming
 * thread only queues shared, immutable packets; the application's thread
 * only asks the worker (run_sync/run_async) to add or drop a viewer. */
#include "fanoutworker.h"

#include <nice/agent.h>

#include <array>
#include <condition_variable>
#include <cstring>

#include "srtptransform.h"

GST_DEBUG_CATEGORY_EXTERN (gst_webrtc_fanout_sink_debug);
#define GST_CAT_DEFAULT gst_webrtc_fanout_sink_debug

namespace roomwebrtc {

/* The most packets one batched send carries (a 720p keyframe at 2 Mbit/s
 * is 20–60 packets). */
constexpr size_t BATCH = 64;
constexpr size_t MAX_PACKET = 1500;

Packet::Packet (GstBuffer *b, gint s, bool k, gint r)
    : buffer (gst_buffer_ref (b)), map (), stream (s), keyframe_start (k),
      rendition (r)
{
  mapped = gst_buffer_map (buffer, &map, GST_MAP_READ);
}

Packet::~Packet ()
{
  if (mapped)
    gst_buffer_unmap (buffer, &map);
  gst_buffer_unref (buffer);
}

struct FanoutWorker::Viewer {
  guint id = 0;
  FanoutWorker *worker = nullptr;
  NiceAgent *agent = nullptr;
  guint stream_id = 0;
  std::unique_ptr<DtlsServer> dtls;
  SrtpTransform send;    /* what we send */
  SrtpTransform receive; /* the viewer's RTCP */
  bool srtp_ready = false;
  std::string profile_name;
  /* per program stream: the viewer's payload type, or -1 */
  std::vector<gint> payload_types;
  std::vector<guint32> ssrcs;
  gint video_stream = -1;
  /* the quality ladder: the rung the viewer gets (-1: none yet), the video
   * rendition that is (-1: none, waiting for a keyframe or audio only) */
  std::vector<Rung> rungs;
  RungChooser chooser;
  std::unique_ptr<VideoRewriter> rewriter;
  gint rung = -1;
  gint rendition = -1;
  gint64 last_switch_request = 0;
  gdouble retransmit_credit = 0;
  gint64 retransmit_last = 0;
  /* what the ladder's chooser reads once a second: browsers send reports
   * with every NACK, each over a few milliseconds, so the loss is taken
   * from the cumulative counts over the second, not from one report */
  struct Window {
    bool have = false, report = false;
    guint32 highest = 0, start_highest = 0;
    gint32 lost = 0, start_lost = 0;
    gdouble rtt = -1;
    guint nacks = 0;
    guint64 start_sent = 0;
  } window;
  void choose_rung (gint64 now);
  GSource *dtls_timer = nullptr;
  GSource *connect_timer = nullptr;
  /* a move down: the lighter rung's keyframe is asked for once the
   * bottleneck's queue has drained, not into it */
  GSource *switch_timer = nullptr;
  gint64 switch_not_before = 0;
  guint loss_percent = 0;
  guint32 random = 0x9e3779b9u;
  const char *ice_state = "new";
  bool ending = false;

  /* statistics */
  guint64 packets_sent = 0, bytes_sent = 0, packets_dropped = 0;
  guint64 nacks = 0, retransmitted = 0, keyframe_requests = 0;
  guint64 rtcp_errors = 0, probe_packets = 0;
  gdouble fraction_lost = 0;
  gint packets_lost = 0;
  guint jitter = 0;
  gdouble rtt_ms = -1;
  /* per program stream: what this viewer was sent, for its sender reports */
  struct StreamSent {
    guint32 packets = 0, octets = 0, last_timestamp = 0;
    gint64 last_time = 0;
    guint clock_rate = 90000;
  };
  std::vector<StreamSent> sent;

  ~Viewer ()
  {
    for (GSource **timer : {&dtls_timer, &connect_timer, &switch_timer})
      if (*timer) {
        g_source_destroy (*timer);
        g_source_unref (*timer);
        *timer = nullptr;
      }
    if (agent) {
      nice_agent_attach_recv (
          agent, stream_id, 1, worker->context_, nullptr, nullptr);
      g_signal_handlers_disconnect_by_data (agent, this);
      nice_agent_remove_stream (agent, stream_id);
      g_object_unref (agent);
    }
  }

  bool drop_by_knob ()
  {
    if (loss_percent == 0)
      return false;
    random ^= random << 13;
    random ^= random >> 17;
    random ^= random << 5;
    return random % 100 < loss_percent;
  }

  void send_datagram (const uint8_t *data, size_t length)
  {
    nice_agent_send (agent, stream_id, 1, length, (const gchar *)data);
  }

  void arm_dtls_timer ();
  void on_dtls_state (DtlsServer::State state);
  void handle_rtcp (uint8_t *data, size_t length);
  void retransmit (guint16 sequence);
  void send_reports ();
  gint target_rendition () const
  {
    gint t = chooser.target ();
    return t >= 0 && (size_t)t < rungs.size () ? rungs[t].rendition : -1;
  }
  void settle_rung (gint64 now);
  void land_switch (gint target, const Packet &keyframe, gint64 now);
};

static void destroy_timer (GSource **timer);

/* Moves the viewer towards the rung its chooser wants: at once for the
 * audio-only rung, else by asking for a keyframe of the target rendition
 * (again every second while none came); send_batch lands the switch. */
void
FanoutWorker::Viewer::settle_rung (gint64 now)
{
  gint target = chooser.target ();
  if (target < 0 || (size_t)target >= rungs.size () || ending)
    return;
  gint wanted = rungs[target].rendition;
  if (wanted < 0) {
    if (rung != target) {
      rung = target;
      rendition = -1;
      chooser.switched (target, now);
      worker->host_.viewer_event (id, "rendition", rungs[target].label);
    }
    return;
  }
  if (wanted != rendition && srtp_ready && now >= switch_not_before
      && now - last_switch_request >= G_USEC_PER_SEC) {
    last_switch_request = now;
    keyframe_requests++;
    worker->host_.request_keyframe (wanted);
  }
}

/* Once a second: the loss over the second (what never came, and what had
 * to be asked for again), to the chooser. */
void
FanoutWorker::Viewer::choose_rung (gint64 now)
{
  if (!window.report || video_stream < 0)
    return;
  window.report = false;
  guint32 expected = window.highest - window.start_highest;
  gint32 lost = window.lost - window.start_lost;
  guint64 packets = sent[video_stream].packets - window.start_sent;
  gdouble loss = expected > 0 && lost > 0 ? (gdouble)lost / expected : 0;
  /* NACKs are not loss: a browser asks for a packet again every round
   * trip until it comes; they only stop probes (on_nacks) */
  gdouble asked = packets > 0 ? (gdouble)window.nacks / packets : 0;
  loss = MIN (1.0, loss);
  window.start_highest = window.highest;
  window.start_lost = window.lost;
  window.start_sent = sent[video_stream].packets;
  window.nacks = 0;
  chooser.set_adaptive (worker->host_.adaptive ());
  gint before = chooser.target ();
  chooser.on_report (rungs, now, loss, window.rtt);
  gint target = chooser.target ();
  if (target != before && target > rung && rungs[target].rendition >= 0) {
    /* down: the heavier rung pauses (send_batch) while the queue drains */
    guint drain_ms = (guint)CLAMP (chooser.queueing_ms (), 100.0, 600.0);
    switch_not_before = now + drain_ms * 1000;
    destroy_timer (&switch_timer);
    switch_timer = g_timeout_source_new (drain_ms);
    g_source_set_callback (
        switch_timer,
        [] (gpointer data) -> gboolean {
          auto *self = static_cast<Viewer *> (data);
          g_source_unref (self->switch_timer);
          self->switch_timer = nullptr;
          self->last_switch_request = 0;
          self->settle_rung (g_get_monotonic_time ());
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach (switch_timer, worker->context_);
  }
  /* one line a second per viewer: the estimator's input and its choice */
  GST_DEBUG ("ladder-trace viewer=%u t=%" G_GINT64_FORMAT
             " loss=%.4f nacked=%.4f rtt=%.1f rung=%d target=%d "
             "estimate=%" G_GUINT64_FORMAT " probing=%d",
      id, now / 1000, loss, asked, window.rtt, rung, chooser.target (),
      chooser.estimate (), chooser.probing ());
  if (chooser.target () != before)
    GST_INFO ("viewer %u: rung %d → %d (%s: lost %.1f %%, rtt %.0f ms)", id,
        rung, chooser.target (), rungs[chooser.target ()].label.c_str (),
        loss * 100.0, window.rtt);
  settle_rung (now);
}

void
FanoutWorker::Viewer::land_switch (
    gint target, const Packet &keyframe, gint64 now)
{
  rewriter->switch_to (
      rungs[target].rendition, keyframe.map.data, keyframe.map.size, now);
  rendition = rungs[target].rendition;
  bool changed = rung != target;
  rung = target;
  last_switch_request = 0;
  chooser.switched (target, now);
  if (changed)
    worker->host_.viewer_event (id, "rendition", rungs[target].label);
}

static void
destroy_timer (GSource **timer)
{
  if (*timer) {
    g_source_destroy (*timer);
    g_source_unref (*timer);
    *timer = nullptr;
  }
}

void
FanoutWorker::Viewer::arm_dtls_timer ()
{
  destroy_timer (&dtls_timer);
  gint64 ms = dtls ? dtls->timeout_ms () : -1;
  if (ms < 0)
    return;
  dtls_timer = g_timeout_source_new ((guint)ms);
  g_source_set_callback (
      dtls_timer,
      [] (gpointer data) -> gboolean {
        auto *self = static_cast<Viewer *> (data);
        g_source_unref (self->dtls_timer);
        self->dtls_timer = nullptr;
        self->on_dtls_state (self->dtls->handle_timeout ());
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach (dtls_timer, worker->context_);
}

void
FanoutWorker::Viewer::on_dtls_state (DtlsServer::State state)
{
  if (ending)
    return;
  switch (state) {
    case DtlsServer::State::HANDSHAKING:
      arm_dtls_timer ();
      return;
    case DtlsServer::State::CONNECTED: {
      destroy_timer (&dtls_timer);
      if (srtp_ready)
        return;
      DtlsServer::SrtpKeys keys;
      if (!dtls->srtp_keys (keys)
          || !send.init (keys.profile, keys.our_key.data (),
              keys.our_key.size (), keys.our_salt.data (),
              keys.our_salt.size ())
          || !receive.init (keys.profile, keys.their_key.data (),
              keys.their_key.size (), keys.their_salt.data (),
              keys.their_salt.size ())) {
        worker->destroy_viewer (id, "failed", "no SRTP keys from DTLS");
        return;
      }
      profile_name = keys.profile == SrtpProfile::AEAD_AES_128_GCM
                         ? "AEAD_AES_128_GCM"
                         : "AES_CM_128_HMAC_SHA1_80";
      srtp_ready = true;
      destroy_timer (&connect_timer);
      rendition = -1; /* its video starts at a keyframe */
      worker->host_.viewer_event (id, "connected", profile_name);
      settle_rung (g_get_monotonic_time ());
      return;
    }
    case DtlsServer::State::FAILED:
      worker->destroy_viewer (id, "failed", "DTLS: " + dtls->error ());
      return;
    case DtlsServer::State::CLOSED:
      worker->destroy_viewer (id, "left", "the viewer closed the connection");
      return;
  }
}

void
FanoutWorker::Viewer::retransmit (guint16 sequence)
{
  if (video_stream < 0 || payload_types[video_stream] < 0)
    return;
  gint from;
  guint16 original;
  /* a packet from before the last switch is of no use: the switch landed
   * on a keyframe, and after a move down resending the heavier rung's
   * packets would fill the narrow link again */
  if (!rewriter->original (sequence, from, original)
      || from != rewriter->rendition () || !rewriter->since_switch (sequence))
    return;
  GstBuffer *packet = worker->host_.lookup_video (from, original);
  if (!packet)
    return;
  std::array<uint8_t, MAX_PACKET> scratch;
  size_t length = gst_buffer_get_size (packet);
  /* on a ladder, retransmissions get at most a quarter of the rung's rate:
   * a link that loses much cannot carry much more */
  if (rungs.size () > 1 && rung >= 0 && rungs[rung].bitrate > 1000) {
    gint64 now = g_get_monotonic_time ();
    gdouble rate = rungs[rung].bitrate / 8.0 / 4.0;
    retransmit_credit = MIN (rate,
        retransmit_credit + rate * (now - retransmit_last) / G_USEC_PER_SEC);
    retransmit_last = now;
    if (retransmit_credit < length) {
      gst_buffer_unref (packet);
      return;
    }
    retransmit_credit -= length;
  }
  if (length + 32 <= scratch.size ()) {
    gst_buffer_extract (packet, 0, scratch.data (), length);
    scratch[1] = (scratch[1] & 0x80) | (guint8)payload_types[video_stream];
    rewriter->rewrite_again (scratch.data (), length, sequence);
    if (send.protect_rtp (scratch.data (), &length, scratch.size ())) {
      send_datagram (scratch.data (), length);
      retransmitted++;
    }
  }
  gst_buffer_unref (packet);
}

void
FanoutWorker::Viewer::handle_rtcp (uint8_t *data, size_t length)
{
  RtcpFeedback feedback;
  if (!srtp_ready || !receive.unprotect_rtcp (data, &length)
      || !rtcp_read_feedback (data, length, feedback)) {
    rtcp_errors++;
    return;
  }
  gint64 now = g_get_monotonic_time ();
  guint32 video_ssrc = video_stream >= 0 ? ssrcs[video_stream] : 0;
  for (size_t i = 0; i < feedback.block_count; i++) {
    const RtcpFeedback::Block &b = feedback.blocks[i];
    if (b.ssrc != video_ssrc || rung < 0)
      continue;
    if (b.last_sr) {
      guint32 t =
          (guint32)(ntp_now () >> 16) - b.last_sr - b.delay_since_last_sr;
      if (t < 65536u * 10)
        window.rtt = t * 1000.0 / 65536.0;
    }
    if (!window.have) {
      window.have = true;
      window.start_highest = b.highest;
      window.start_lost = b.packets_lost;
      window.start_sent = sent[video_stream].packets;
    }
    window.highest = b.highest;
    window.lost = b.packets_lost;
    window.report = true;
  }
  if (feedback.have_report) {
    fraction_lost = feedback.fraction_lost / 256.0;
    packets_lost = feedback.packets_lost;
    jitter = feedback.jitter;
    if (feedback.last_sr) {
      /* RFC 3550 §6.4.1, in 1/65536 s: now - LSR - DLSR */
      guint32 now = (guint32)(ntp_now () >> 16);
      guint32 rtt = now - feedback.last_sr - feedback.delay_since_last_sr;
      if (rtt < 65536u * 10)
        rtt_ms = rtt * 1000.0 / 65536.0;
    }
  }
  nacks += feedback.nack_count;
  if (feedback.nack_count) {
    chooser.on_nacks (now, (guint)feedback.nack_count);
    window.nacks += (guint)feedback.nack_count;
  }
  for (size_t i = 0; i < feedback.nack_count; i++)
    retransmit (feedback.nacks[i]);
  if (feedback.keyframe_requests) {
    keyframe_requests += feedback.keyframe_requests;
    worker->host_.request_keyframe (rendition >= 0 ? rendition : 0);
  }
}

void
FanoutWorker::Viewer::send_reports ()
{
  /* one sender report per stream sent to this viewer: it maps RTP time to
   * the wall clock (lip sync) and lets the viewer's reports give the RTT */
  guint64 ntp = ntp_now ();
  gint64 now = g_get_monotonic_time ();
  for (size_t i = 0; i < sent.size (); i++) {
    const StreamSent &s = sent[i];
    if (!s.packets)
      continue;
    guint32 rtp = s.last_timestamp
                  + (guint32)((now - s.last_time) * (gint64)s.clock_rate
                              / G_USEC_PER_SEC);
    std::array<uint8_t, 128> report;
    size_t length = rtcp_write_sender_report (
        report.data (), ssrcs[i], ntp, rtp, s.packets, s.octets, "gst-rooms");
    if (send.protect_rtcp (report.data (), &length, report.size ()))
      send_datagram (report.data (), length);
  }
}

static void
on_receive (NiceAgent *agent, guint stream_id, guint component_id, guint len,
    gchar *buf, gpointer data)
{
  auto *viewer = static_cast<FanoutWorker::Viewer *> (data);
  if (viewer->ending || len == 0 || len > MAX_PACKET)
    return;
  auto *bytes = reinterpret_cast<uint8_t *> (buf);
  if (bytes[0] >= 20 && bytes[0] <= 63) {
    viewer->on_dtls_state (viewer->dtls->handle_datagram (bytes, len));
  } else if (bytes[0] >= 128 && bytes[0] <= 191 && len >= 8 && bytes[1] >= 192
             && bytes[1] <= 223) {
    std::array<uint8_t, MAX_PACKET> copy;
    memcpy (copy.data (), bytes, len);
    viewer->handle_rtcp (copy.data (), len);
  }
  /* anything else (RTP from a viewer that sends nothing, garbage) is
   * dropped; STUN never reaches here */
}

void
on_component_state (NiceAgent *agent, guint stream_id, guint component_id,
    guint state, gpointer data)
{
  auto *viewer = static_cast<FanoutWorker::Viewer *> (data);
  viewer->ice_state =
      nice_component_state_to_string ((NiceComponentState)state);
  if (state == NICE_COMPONENT_STATE_FAILED && !viewer->ending) {
    guint id = viewer->id;
    FanoutWorker *worker = viewer->worker;
    std::string why = viewer->srtp_ready
                          ? "ICE: the viewer stopped answering (consent lost)"
                          : "ICE: no connection to the viewer";
    /* not from inside the agent's own callback */
    worker->run_async (
        [worker, id, why] { worker->destroy_viewer (id, "failed", why); });
  }
}

FanoutWorker::FanoutWorker (FanoutHost &host, guint index, guint stats_ms)
    : host_ (host), index_ (index), stats_interval_ms_ (stats_ms)
{
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);

  static GSourceFuncs wakeup_funcs = {nullptr, nullptr,
      [] (GSource *source, GSourceFunc callback, gpointer data) -> gboolean {
        g_source_set_ready_time (source, -1);
        return callback (data);
      },
      nullptr, nullptr, nullptr};
  packets_source_ = g_source_new (&wakeup_funcs, sizeof (GSource));
  g_source_set_callback (packets_source_, on_packets, this, nullptr);
  g_source_set_priority (packets_source_, G_PRIORITY_HIGH);
  g_source_attach (packets_source_, context_);
  reports_source_ = g_timeout_source_new (1000);
  g_source_set_callback (reports_source_, on_reports, this, nullptr);
  g_source_attach (reports_source_, context_);
  if (stats_interval_ms_ > 0) {
    stats_source_ = g_timeout_source_new (stats_interval_ms_);
    g_source_set_callback (stats_source_, on_stats, this, nullptr);
    g_source_attach (stats_source_, context_);
  }
  std::string name = "fanout-" + std::to_string (index);
  thread_ = g_thread_new (name.c_str (), thread_main, this);
}

FanoutWorker::~FanoutWorker ()
{
  /* free the viewers on their own thread, then stop it */
  run_sync ([this] {
    std::vector<guint> ids;
    for (auto &entry : viewers_)
      ids.push_back (entry.first);
    for (guint id : ids)
      destroy_viewer (id, "left", "the sink stopped");
  });
  g_main_loop_quit (loop_);
  g_thread_join (thread_);
  /* the viewers freed above are deleted by idle sources: run them here */
  while (g_main_context_iteration (context_, FALSE))
    ;
  for (GSource *s : {packets_source_, stats_source_, reports_source_})
    if (s) {
      g_source_destroy (s);
      g_source_unref (s);
    }
  g_main_loop_unref (loop_);
  g_main_context_unref (context_);
}

gpointer
FanoutWorker::thread_main (gpointer data)
{
  auto *self = static_cast<FanoutWorker *> (data);
  g_main_context_push_thread_default (self->context_);
  g_main_loop_run (self->loop_);
  g_main_context_pop_thread_default (self->context_);
  return nullptr;
}

void
FanoutWorker::run_sync (std::function<void ()> fn)
{
  struct Call {
    std::function<void ()> fn;
    std::mutex lock;
    std::condition_variable done_cond;
    bool done = false;
  } call;
  call.fn = std::move (fn);
  g_main_context_invoke (
      context_,
      [] (gpointer data) -> gboolean {
        auto *c = static_cast<Call *> (data);
        c->fn ();
        std::lock_guard<std::mutex> guard (c->lock);
        c->done = true;
        c->done_cond.notify_one ();
        return G_SOURCE_REMOVE;
      },
      &call);
  std::unique_lock<std::mutex> guard (call.lock);
  call.done_cond.wait (guard, [&] { return call.done; });
}

void
FanoutWorker::run_async (std::function<void ()> fn)
{
  g_main_context_invoke_full (
      context_, G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      },
      new std::function<void ()> (std::move (fn)),
      [] (gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
}

void
FanoutWorker::push (const std::vector<PacketRef> &batch)
{
  {
    std::lock_guard<std::mutex> guard (queue_lock_);
    /* a worker that fell far behind drops the oldest: its viewers lose
     * packets (and ask again), the streaming thread never waits */
    if (queue_.size () > 256)
      queue_.pop_front ();
    queue_.push_back (batch);
  }
  g_source_set_ready_time (packets_source_, 0);
}

gboolean
FanoutWorker::on_packets (gpointer data)
{
  auto *self = static_cast<FanoutWorker *> (data);
  std::deque<std::vector<PacketRef>> batches;
  {
    std::lock_guard<std::mutex> guard (self->queue_lock_);
    batches.swap (self->queue_);
  }
  for (const auto &batch : batches)
    for (auto &entry : self->viewers_)
      if (entry.second->srtp_ready && !entry.second->ending)
        self->send_batch (*entry.second, batch);
  return G_SOURCE_CONTINUE;
}

void
FanoutWorker::send_batch (Viewer &viewer, const std::vector<PacketRef> &batch)
{
  /* one scratch area per worker thread, reused for every viewer: a packet
   * is copied once per viewer because each viewer's keys differ */
  static thread_local std::array<std::array<uint8_t, MAX_PACKET>, BATCH>
      scratch;
  /* room for as many duplicates again while the viewer's link is probed */
  static thread_local std::array<GOutputVector, 2 * BATCH> vectors;
  static thread_local std::array<NiceOutputMessage, 2 * BATCH> messages;
  size_t count = 0;
  gint64 now = g_get_monotonic_time ();
  size_t video_packets = 0; /* the first ones of the batch's last chunk */
  auto flush = [&] {
    if (count == 0)
      return;
    GError *error = nullptr;
    gint sent = nice_agent_send_messages_nonblocking (viewer.agent,
        viewer.stream_id, 1, messages.data (), count, nullptr, &error);
    if (sent < 0) {
      GST_LOG ("viewer %u: %zu packets not sent: %s", viewer.id, count,
          error ? error->message : "?");
      viewer.packets_dropped += count;
      g_clear_error (&error);
    } else {
      viewer.packets_dropped += count - (size_t)sent;
      viewer.packets_sent += (guint64)sent;
      for (gint i = 0; i < sent; i++)
        viewer.bytes_sent += vectors[i].size;
    }
    count = 0;
    video_packets = 0;
  };
  for (const PacketRef &packet : batch) {
    if (!packet->mapped || packet->stream < 0
        || (size_t)packet->stream >= viewer.payload_types.size ())
      continue;
    gint pt = viewer.payload_types[packet->stream];
    if (pt < 0)
      continue;
    bool video = packet->stream == viewer.video_stream;
    if (video && packet->rendition != viewer.rendition) {
      /* another rendition's, or the viewer waits for a keyframe: the one
       * of the rung it should get lands the switch */
      gint target = viewer.chooser.target ();
      if (!packet->keyframe_start
          || packet->rendition != viewer.target_rendition ()
          || now < viewer.switch_not_before)
        continue;
      viewer.land_switch (target, *packet, now);
    } else if (video && viewer.chooser.target () > viewer.rung) {
      /* moving down: the heavier rung's packets would only keep the
       * narrow link full; the picture waits for the lighter keyframe */
      continue;
    }
    if (viewer.drop_by_knob ()) {
      viewer.packets_dropped++;
      continue;
    }
    size_t length = packet->map.size;
    if (length + 32 > MAX_PACKET)
      continue;
    uint8_t *out = scratch[count].data ();
    memcpy (out, packet->map.data, length);
    out[1] = (out[1] & 0x80) | (guint8)pt;
    if (video)
      viewer.rewriter->rewrite (out, length, now);
    Viewer::StreamSent &sent = viewer.sent[packet->stream];
    sent.packets++;
    sent.octets += (guint32)(length - 12);
    sent.last_timestamp = rtp_timestamp (out);
    sent.last_time = now;
    if (!viewer.send.protect_rtp (out, &length, MAX_PACKET)) {
      GST_LOG ("viewer %u: could not protect a packet of %zu bytes", viewer.id,
          packet->map.size);
      continue;
    }
    vectors[count].buffer = out;
    vectors[count].size = length;
    /* what a probe may repeat: video, or the audio of a viewer on the
     * audio-only rung */
    if ((video || viewer.rendition < 0) && video_packets == count)
      video_packets++;
    messages[count].buffers = &vectors[count];
    messages[count].n_buffers = 1;
    if (++count == BATCH)
      flush ();
  }
  if (viewer.rungs.size () > 1 && video_packets > 0) {
    /* probing the link for the next rung up: the video packets just
     * protected go out again (the viewer's SRTP replay check drops them),
     * as much as the probe asks for */
    size_t budget = viewer.chooser.probe_budget (viewer.rungs, now);
    size_t sent = video_packets;
    for (size_t round = 0; budget > 0 && round < 8; round++)
      for (size_t i = 0; i < sent && budget > 0 && count < 2 * BATCH; i++) {
        vectors[count] = vectors[i];
        messages[count].buffers = &vectors[count];
        messages[count].n_buffers = 1;
        budget -= MIN (budget, vectors[count].size);
        count++;
        viewer.probe_packets++;
      }
  }
  flush ();
}

bool
FanoutWorker::add_viewer (guint id, const ViewerOffer &offer,
    const ViewerSetup &setup, std::string &answer, std::string &error)
{
  bool ok = false;
  run_sync ([&] {
    auto viewer = std::make_unique<Viewer> ();
    viewer->id = id;
    viewer->worker = this;
    for (size_t i = 0; i < setup.streams.size (); i++) {
      viewer->payload_types.push_back (-1);
      viewer->ssrcs.push_back (setup.streams[i].ssrc);
      Viewer::StreamSent sent;
      if (setup.streams[i].clock_rate)
        sent.clock_rate = setup.streams[i].clock_rate;
      viewer->sent.push_back (sent);
      if (setup.streams[i].kind == "video" && viewer->video_stream < 0)
        viewer->video_stream = (gint)i;
    }
    for (const ViewerOffer::Media &m : offer.media)
      if (m.stream >= 0 && (size_t)m.stream < setup.streams.size ())
        viewer->payload_types[m.stream] = m.payload_type;
    viewer->rungs = setup.rungs;
    if (viewer->rungs.empty ())
      viewer->rungs.push_back ({"video", 0, 1});
    viewer->chooser.set_adaptive (host_.adaptive ());
    {
      const ProgramStream *video = viewer->video_stream >= 0
                                       ? &setup.streams[viewer->video_stream]
                                       : nullptr;
      viewer->rewriter =
          std::make_unique<VideoRewriter> (video ? video->ssrc : 0,
              video && video->encoding == "VP8" ? VideoCodec::VP8
                                                : VideoCodec::H264);
    }
    viewer->random ^= id * 2654435761u;
    GST_DEBUG ("viewer %u: video pt %d (stream %d), audio pt %d", id,
        viewer->video_stream >= 0 ? viewer->payload_types[viewer->video_stream]
                                  : -1,
        viewer->video_stream,
        viewer->payload_types.size () > 1 ? viewer->payload_types[1] : -1);

    NiceAgent *agent =
        nice_agent_new_full (context_, NICE_COMPATIBILITY_RFC5245,
            (NiceAgentOption)(NICE_AGENT_OPTION_ICE_TRICKLE
                              | NICE_AGENT_OPTION_CONSENT_FRESHNESS));
    viewer->agent = agent;
    g_object_set (agent, "controlling-mode", FALSE, "upnp", FALSE, "ice-tcp",
        FALSE, nullptr);
    if (!setup.stun_server.empty ()) {
      std::string host = setup.stun_server;
      guint port = 3478;
      size_t colon = host.rfind (':');
      if (colon != std::string::npos) {
        port = (guint)g_ascii_strtoull (host.c_str () + colon + 1, nullptr, 10);
        host.resize (colon);
      }
      g_object_set (agent, "stun-server", host.c_str (), "stun-server-port",
          port, nullptr);
    }
    if (!setup.address.empty ()) {
      NiceAddress address;
      nice_address_init (&address);
      if (!nice_address_set_from_string (&address, setup.address.c_str ())) {
        error = "the address '" + setup.address + "' is not an IP address";
        return;
      }
      nice_agent_add_local_address (agent, &address);
    }
    viewer->stream_id = nice_agent_add_stream (agent, 1);
    if (setup.min_port || setup.max_port)
      nice_agent_set_port_range (
          agent, viewer->stream_id, 1, setup.min_port, setup.max_port);
    g_signal_connect (agent, "component-state-changed",
        G_CALLBACK (on_component_state), viewer.get ());
    nice_agent_attach_recv (
        agent, viewer->stream_id, 1, context_, on_receive, viewer.get ());
    if (!nice_agent_gather_candidates (agent, viewer->stream_id)) {
      error = "no local address to receive the viewer on (address, ports)";
      return;
    }
    gchar *ufrag = nullptr, *pwd = nullptr;
    nice_agent_get_local_credentials (agent, viewer->stream_id, &ufrag, &pwd);
    AnswerParams params;
    params.ice_ufrag = ufrag ? ufrag : "";
    params.ice_pwd = pwd ? pwd : "";
    g_free (ufrag);
    g_free (pwd);
    params.fingerprint = setup.certificate->fingerprint ();
    params.cname = "gst-rooms";
    params.stream_id = "program";
    GSList *locals =
        nice_agent_get_local_candidates (agent, viewer->stream_id, 1);
    for (GSList *l = locals; l; l = l->next) {
      gchar *line = nice_agent_generate_local_candidate_sdp (
          agent, static_cast<NiceCandidate *> (l->data));
      if (line)
        params.candidates.push_back (
            g_str_has_prefix (line, "a=") ? line + 2 : line);
      g_free (line);
    }
    g_slist_free_full (locals, (GDestroyNotify)nice_candidate_free);
    if (params.candidates.empty ()) {
      error = "no local ICE candidate to offer the viewer";
      return;
    }
    answer = fanout_build_answer (offer, setup.streams, params);

    nice_agent_set_remote_credentials (agent, viewer->stream_id,
        offer.ice_ufrag.c_str (), offer.ice_pwd.c_str ());
    Viewer *raw = viewer.get ();
    viewer->dtls = std::make_unique<DtlsServer> (setup.certificate,
        offer.fingerprint, [raw] (const uint8_t *data, size_t length) {
          raw->send_datagram (data, length);
        });
    viewer->connect_timer = g_timeout_source_new (setup.connect_timeout_ms);
    g_source_set_callback (
        viewer->connect_timer,
        [] (gpointer data) -> gboolean {
          auto *v = static_cast<Viewer *> (data);
          g_source_unref (v->connect_timer);
          v->connect_timer = nullptr;
          v->worker->destroy_viewer (v->id, "failed",
              std::string ("no connection within the time allowed (ICE ")
                  + v->ice_state + ")");
          return G_SOURCE_REMOVE;
        },
        raw, nullptr);
    g_source_attach (viewer->connect_timer, context_);
    viewers_[id] = std::move (viewer);
    viewer_count_.store ((guint)viewers_.size ());
    for (const ViewerOffer::Candidate &c : offer.candidates)
      add_candidate (id, c.candidate);
    ok = true;
  });
  return ok;
}

void
FanoutWorker::add_candidate (guint id, const std::string &candidate)
{
  run_async ([this, id, candidate] {
    auto it = viewers_.find (id);
    if (it == viewers_.end ())
      return;
    Viewer &viewer = *it->second;
    if (candidate.empty () || candidate == "end-of-candidates"
        || candidate == "a=end-of-candidates") {
      nice_agent_peer_candidate_gathering_done (viewer.agent, viewer.stream_id);
      return;
    }
    std::string line = g_str_has_prefix (candidate.c_str (), "a=")
                           ? candidate
                           : "a=" + candidate;
    NiceCandidate *parsed = nice_agent_parse_remote_candidate_sdp (
        viewer.agent, viewer.stream_id, line.c_str ());
    /* RTCP's own component (rtcp-mux makes it unused), mDNS names and
     * garbage are skipped */
    if (!parsed)
      return;
    if (parsed->component_id == 1) {
      GSList list = {parsed, nullptr};
      nice_agent_set_remote_candidates (
          viewer.agent, viewer.stream_id, 1, &list);
    }
    nice_candidate_free (parsed);
  });
}

void
FanoutWorker::remove_viewer (guint id, const std::string &reason)
{
  run_async ([this, id, reason] { destroy_viewer (id, "left", reason); });
}

void
FanoutWorker::set_loss (guint id, guint percent)
{
  run_async ([this, id, percent] {
    auto it = viewers_.find (id);
    if (it != viewers_.end ())
      it->second->loss_percent = MIN (percent, 100u);
  });
}

void
FanoutWorker::set_rung (guint id, const std::string &label)
{
  run_async ([this, id, label] {
    auto it = viewers_.find (id);
    if (it == viewers_.end ())
      return;
    Viewer &viewer = *it->second;
    gint rung = -1;
    for (size_t i = 0; i < viewer.rungs.size () && !label.empty (); i++)
      if (viewer.rungs[i].label == label)
        rung = (gint)i;
    if (!label.empty () && rung < 0) {
      GST_INFO ("viewer %u: its ladder has no '%s' (the rung came after it "
                "joined)",
          id, label.c_str ());
      return;
    }
    viewer.chooser.pin (rung);
    viewer.settle_rung (g_get_monotonic_time ());
  });
}

void
FanoutWorker::destroy_viewer (
    guint id, const char *event, const std::string &why)
{
  auto it = viewers_.find (id);
  if (it == viewers_.end () || it->second->ending)
    return;
  Viewer *viewer = it->second.get ();
  viewer->ending = true;
  if (viewer->dtls && viewer->srtp_ready && strcmp (event, "left") == 0)
    viewer->dtls->close ();
  /* freed from the loop, not from inside a callback of its own agent */
  std::unique_ptr<Viewer> owned = std::move (it->second);
  viewers_.erase (it);
  viewer_count_.store ((guint)viewers_.size ());
  host_.viewer_event (id, event, why);
  GSource *later = g_idle_source_new ();
  g_source_set_callback (
      later, [] (gpointer) -> gboolean { return G_SOURCE_REMOVE; },
      owned.release (),
      [] (gpointer data) { delete static_cast<Viewer *> (data); });
  g_source_attach (later, context_);
  g_source_unref (later);
}

gboolean
FanoutWorker::on_reports (gpointer data)
{
  auto *self = static_cast<FanoutWorker *> (data);
  /* what each rung costs now, asked once for all viewers */
  std::map<gint, guint64> rates;
  gint64 now = g_get_monotonic_time ();
  for (auto &entry : self->viewers_) {
    Viewer &viewer = *entry.second;
    if (!viewer.srtp_ready || viewer.ending)
      continue;
    viewer.send_reports ();
    if (viewer.rungs.size () < 2)
      continue;
    for (Rung &r : viewer.rungs) {
      auto known = rates.find (r.rendition);
      if (known == rates.end ())
        known =
            rates.emplace (r.rendition, self->host_.rung_bitrate (r.rendition))
                .first;
      r.bitrate = known->second;
    }
    viewer.choose_rung (now);
    viewer.settle_rung (now);
  }
  return G_SOURCE_CONTINUE;
}

gboolean
FanoutWorker::on_stats (gpointer data)
{
  auto *self = static_cast<FanoutWorker *> (data);
  if (self->viewers_.empty ())
    return G_SOURCE_CONTINUE;
  GValue list = G_VALUE_INIT;
  gst_value_array_init (&list, self->viewers_.size ());
  for (auto &entry : self->viewers_) {
    const Viewer &v = *entry.second;
    GstStructure *s = gst_structure_new ("viewer", "id", G_TYPE_UINT, v.id,
        "state", G_TYPE_STRING, v.srtp_ready ? "connected" : v.ice_state,
        "srtp-profile", G_TYPE_STRING, v.profile_name.c_str (), "packets-sent",
        G_TYPE_UINT64, v.packets_sent, "bytes-sent", G_TYPE_UINT64,
        v.bytes_sent, "packets-dropped", G_TYPE_UINT64, v.packets_dropped,
        "nacks-received", G_TYPE_UINT64, v.nacks, "packets-retransmitted",
        G_TYPE_UINT64, v.retransmitted, "keyframe-requests", G_TYPE_UINT64,
        v.keyframe_requests, "fraction-lost", G_TYPE_DOUBLE, v.fraction_lost,
        "packets-lost", G_TYPE_INT, v.packets_lost, "jitter", G_TYPE_UINT,
        v.jitter, "rtcp-errors", G_TYPE_UINT64, v.rtcp_errors, "rtt",
        G_TYPE_DOUBLE, v.rtt_ms, "rendition", G_TYPE_STRING,
        v.rung >= 0 ? v.rungs[v.rung].label.c_str () : "", "rendition-pinned",
        G_TYPE_BOOLEAN, v.chooser.pinned () >= 0, "estimate", G_TYPE_UINT64,
        v.chooser.estimate (), "probe-packets", G_TYPE_UINT64, v.probe_packets,
        nullptr);
    GValue value = G_VALUE_INIT;
    g_value_init (&value, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&value, s);
    gst_value_array_append_and_take_value (&list, &value);
  }
  GstStructure *stats = gst_structure_new (
      "webrtcfanoutsink-stats", "worker", G_TYPE_UINT, self->index_, nullptr);
  gst_structure_take_value (stats, "viewers", &list);
  self->host_.post_stats (stats);
  return G_SOURCE_CONTINUE;
}

} // namespace roomwebrtc
