/* gst-rooms
 * webrtcfanoutsink: one payloaded RTP program to many WebRTC viewers. */

/**
 * SECTION:element-webrtcfanoutsink
 * @title: webrtcfanoutsink
 *
 * Sends one already-payloaded RTP program — video (VP8 or H.264) on the
 * `video` pad, Opus on the `audio` pad, either may be absent — to many
 * WebRTC viewers, each with its own ICE (libnice), DTLS-SRTP keys and RTCP,
 * without an element, a queue or a thread per viewer.  A fixed set of
 * `workers` threads owns the viewers; each packet is mapped once, kept once
 * for retransmissions, and protected and sent to each viewer by its worker
 * in one batched send per frame.
 *
 * Viewers are added with the `add-viewer` action signal, which takes the
 * viewer's SDP offer and returns a #GstStructure: `webrtcfanoutsink-answer`
 * with `id` (guint) and `answer` (the SDP answer, with our candidates), or
 * `webrtcfanoutsink-refused` with `reason`.  `add-ice-candidate` gives a
 * viewer's trickled candidates (an empty string ends them), `remove-viewer`
 * lets it go.  These signals wait briefly for a worker: do not emit them
 * from a streaming thread or a sync bus handler.
 *
 * We answer as the DTLS server (`a=setup:passive`) with SRTP
 * AEAD_AES_128_GCM first, then AES_CM_128_HMAC_SHA1_80; the viewer's payload
 * types replace ours per viewer; a new viewer's video starts at a keyframe;
 * NACKs are answered from one shared history; PLI and FIR from every viewer,
 * and every join, become at most one upstream force-key-unit event per
 * `keyframe-min-interval`.  A viewer whose browser vanished is dropped when
 * ICE consent expires (about 30 s).
 *
 * ## Messages
 *
 * `webrtcfanoutsink-viewer`: `id` (guint), `event` (string: joined,
 * connected, failed, left) and `reason` (string; for connected, the SRTP
 * profile).  After failed and left the viewer is gone.
 *
 * `webrtcfanoutsink-stats`, every `stats-interval` ms per worker with
 * viewers: `worker` (guint) and `viewers`, an array of `viewer` structures
 * with `id`, `state`, `srtp-profile`, `packets-sent`, `bytes-sent`,
 * `packets-dropped`, `nacks-received`, `packets-retransmitted`,
 * `keyframe-requests`, `fraction-lost`, `packets-lost`, `jitter`,
 * `rtcp-errors` and `rtt` (ms, from the viewer's reports on our sender
 * reports; -1 until known).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! vp8enc deadline=1 ! rtpvp8pay pt=96 \
 *     ! webrtcfanoutsink name=fanout address=127.0.0.1 \
 *   audiotestsrc is-live=true ! opusenc ! rtpopuspay pt=111 ! fanout.audio
 * ]|
 * (viewers are then added by an application, e.g. gst-room's WHEP URL.)
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstwebrtcfanoutsink.h"

#include <gst/video/video.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dtlstransport.h"
#include "fanoutrtp.h"
#include "fanoutsdp.h"
#include "fanoutworker.h"

GST_DEBUG_CATEGORY (gst_webrtc_fanout_sink_debug);
#define GST_CAT_DEFAULT gst_webrtc_fanout_sink_debug

using namespace roomwebrtc;

#define DEFAULT_WORKERS 0
#define DEFAULT_MAX_VIEWERS 1000
#define DEFAULT_KEYFRAME_MIN_INTERVAL 500
#define DEFAULT_STATS_INTERVAL 1000
#define DEFAULT_CONNECT_TIMEOUT 30

enum {
  PROP_0,
  PROP_WORKERS,
  PROP_MAX_VIEWERS,
  PROP_VIEWERS,
  PROP_ADDRESS,
  PROP_MIN_PORT,
  PROP_MAX_PORT,
  PROP_STUN_SERVER,
  PROP_KEYFRAME_MIN_INTERVAL,
  PROP_STATS_INTERVAL,
  PROP_CONNECT_TIMEOUT,
  PROP_CERTIFICATE_PEM,
};

enum {
  SIGNAL_ADD_VIEWER,
  SIGNAL_ADD_ICE_CANDIDATE,
  SIGNAL_REMOVE_VIEWER,
  SIGNAL_SET_VIEWER_LOSS,
  LAST_SIGNAL
};
static guint signals[LAST_SIGNAL];

static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE ("video", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("application/x-rtp, media=(string)video, "
                         "encoding-name=(string){ VP8, H264 }, "
                         "clock-rate=(int)90000"));
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE ("audio", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("application/x-rtp, media=(string)audio, "
                         "encoding-name=(string){ OPUS }, "
                         "clock-rate=(int)48000"));

/* Indices of the program's streams, the same in every viewer. */
constexpr gint VIDEO = 0;
constexpr gint AUDIO = 1;

namespace {

/* Lock order: Private::lock, then nothing (workers take their own queue
 * lock only inside push(), never while calling back into us). */
struct Private : FanoutHost {
  GstWebrtcFanoutSink *self = nullptr;

  std::mutex lock;
  /* settings: lock */
  guint workers_setting = DEFAULT_WORKERS;
  guint max_viewers = DEFAULT_MAX_VIEWERS;
  std::string address, stun_server, certificate_pem;
  guint min_port = 0, max_port = 0;
  guint keyframe_min_interval = DEFAULT_KEYFRAME_MIN_INTERVAL;
  guint stats_interval = DEFAULT_STATS_INTERVAL;
  guint connect_timeout = DEFAULT_CONNECT_TIMEOUT;
  /* the program as its caps and packets say: lock */
  ProgramStream streams[2];
  VideoCodec codec = VideoCodec::NONE; /* also read unlocked by video chain */
  /* viewer id → its worker: lock */
  std::map<guint, FanoutWorker *> viewers;
  guint next_id = 1;
  std::shared_ptr<DtlsCertificate> certificate; /* lock */

  /* created in NULL→READY and freed in READY→NULL, when no streaming
   * thread runs: read unlocked by the chain functions */
  std::vector<std::unique_ptr<FanoutWorker>> workers;

  PacketHistory history;
  /* video streaming thread only */
  std::vector<PacketRef> frame;
  gint64 last_keyframe_request = 0;
  std::atomic<bool> keyframe_wanted{false};
  /* EOS on each linked pad: lock */
  bool eos[2] = {false, false};

  GstPad *pads[2] = {nullptr, nullptr};

  void request_keyframe () override { keyframe_wanted.store (true); }
  GstBuffer *lookup_video (guint16 sequence) override
  {
    return history.lookup (sequence);
  }
  void viewer_event (
      guint id, const char *event, const std::string &reason) override;
  void post_stats (GstStructure *stats) override
  {
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), stats));
  }
  void dispatch (const std::vector<PacketRef> &batch)
  {
    for (auto &worker : workers)
      worker->push (batch);
  }
};

} // namespace

struct _GstWebrtcFanoutSink {
  GstElement parent;
  Private *priv;
};

#define gst_webrtc_fanout_sink_parent_class parent_class
G_DEFINE_TYPE (GstWebrtcFanoutSink, gst_webrtc_fanout_sink, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (webrtcfanoutsink, "webrtcfanoutsink",
    GST_RANK_NONE, GST_TYPE_WEBRTC_FANOUT_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_webrtc_fanout_sink_debug, "webrtcfanoutsink",
        0, "one RTP program to many WebRTC viewers"));

void
Private::viewer_event (guint id, const char *event, const std::string &reason)
{
  if (g_str_equal (event, "failed") || g_str_equal (event, "left")) {
    std::lock_guard<std::mutex> guard (lock);
    viewers.erase (id);
  }
  GST_INFO_OBJECT (self, "viewer %u %s: %s", id, event, reason.c_str ());
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("webrtcfanoutsink-viewer", "id", G_TYPE_UINT, id,
              "event", G_TYPE_STRING, event, "reason", G_TYPE_STRING,
              reason.c_str (), nullptr)));
}

/* One certificate per process, made on first use (ECDSA keys are cheap to
 * make, but every viewer's fingerprint check is against the same one). */
static std::shared_ptr<DtlsCertificate>
process_certificate (std::string &error)
{
  static std::mutex lock;
  static std::shared_ptr<DtlsCertificate> certificate;
  std::lock_guard<std::mutex> guard (lock);
  if (!certificate)
    certificate = DtlsCertificate::generate (error);
  return certificate;
}

static void
read_caps (Private *priv, gint index, GstCaps *caps)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  ProgramStream stream;
  stream.kind = index == VIDEO ? "video" : "audio";
  const gchar *encoding = gst_structure_get_string (s, "encoding-name");
  stream.encoding = encoding ? encoding : "";
  for (char &c : stream.encoding)
    c = g_ascii_toupper (c);
  gint rate = 0;
  gst_structure_get_int (s, "clock-rate", &rate);
  stream.clock_rate = (guint)rate;
  stream.channels = index == AUDIO ? 2 : 0;
  guint ssrc = 0;
  if (gst_structure_get_uint (s, "ssrc", &ssrc))
    stream.ssrc = ssrc;
  const gchar *profile = gst_structure_get_string (s, "profile-level-id");
  if (profile)
    stream.profile_level_id = profile;
  std::lock_guard<std::mutex> guard (priv->lock);
  if (index == VIDEO)
    priv->codec = stream.encoding == "H264"  ? VideoCodec::H264
                  : stream.encoding == "VP8" ? VideoCodec::VP8
                                             : VideoCodec::NONE;
  if (!stream.ssrc)
    stream.ssrc = priv->streams[index].ssrc;
  priv->streams[index] = stream;
}

static GstFlowReturn
chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  auto *self = GST_WEBRTC_FANOUT_SINK (parent);
  Private *priv = self->priv;
  gint index = pad == priv->pads[VIDEO] ? VIDEO : AUDIO;

  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  size_t offset = rtp_payload_offset (map.data, map.size);
  guint32 ssrc = offset ? rtp_ssrc (map.data) : 0;
  guint16 sequence = offset ? rtp_sequence (map.data) : 0;
  bool marker = offset && (map.data[1] & 0x80);
  VideoCodec codec = priv->codec;
  bool keyframe = index == VIDEO && offset
                  && rtp_starts_keyframe (codec, map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  if (keyframe)
    GST_LOG_OBJECT (self, "a keyframe starts at packet %u", sequence);
  if (!offset) {
    GST_WARNING_OBJECT (self, "dropping a buffer that is not RTP");
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  {
    /* the SSRC is in the answer: learn it from the packets when the caps
     * do not say it, and follow a change */
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->streams[index].ssrc != ssrc)
      priv->streams[index].ssrc = ssrc;
  }

  auto packet = std::make_shared<const Packet> (buffer, index, keyframe);
  if (index == VIDEO) {
    priv->history.add (buffer, sequence);
    priv->frame.push_back (packet);
    /* a frame's packets go out together: one batched send per viewer */
    if (marker || priv->frame.size () >= 64) {
      priv->dispatch (priv->frame);
      priv->frame.clear ();
    }
    gint64 now = g_get_monotonic_time ();
    guint interval;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      interval = priv->keyframe_min_interval;
    }
    if (priv->keyframe_wanted.load ()
        && now - priv->last_keyframe_request >= (gint64)interval * 1000) {
      priv->keyframe_wanted.store (false);
      priv->last_keyframe_request = now;
      GST_DEBUG_OBJECT (self, "asking upstream for a keyframe");
      gst_pad_push_event (pad, gst_video_event_new_upstream_force_key_unit (
                                   GST_CLOCK_TIME_NONE, TRUE, 0));
    }
  } else {
    priv->dispatch ({packet});
  }
  gst_buffer_unref (buffer);
  return GST_FLOW_OK;
}

static gboolean
sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  auto *self = GST_WEBRTC_FANOUT_SINK (parent);
  Private *priv = self->priv;
  gint index = pad == priv->pads[VIDEO] ? VIDEO : AUDIO;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      read_caps (priv, index, caps);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      if (index == VIDEO)
        priv->frame.clear ();
      break;
    case GST_EVENT_EOS: {
      if (index == VIDEO && !priv->frame.empty ()) {
        priv->dispatch (priv->frame);
        priv->frame.clear ();
      }
      bool all = true;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        priv->eos[index] = true;
        for (gint i : {VIDEO, AUDIO})
          if (gst_pad_is_linked (priv->pads[i]) && !priv->eos[i])
            all = false;
      }
      if (all)
        gst_element_post_message (
            GST_ELEMENT (self), gst_message_new_eos (GST_OBJECT (self)));
      break;
    }
    default:
      break;
  }
  gst_event_unref (event);
  return TRUE;
}

static GstStructure *
refused (const std::string &reason)
{
  return gst_structure_new ("webrtcfanoutsink-refused", "reason", G_TYPE_STRING,
      reason.c_str (), nullptr);
}

static GstStructure *
add_viewer (GstWebrtcFanoutSink *self, const gchar *offer_text)
{
  Private *priv = self->priv;
  ViewerSetup setup;
  FanoutWorker *worker = nullptr;
  guint id;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->workers.empty ())
      return refused ("the sink is not started");
    if (priv->viewers.size () >= priv->max_viewers)
      return refused ("this program has its most viewers ("
                      + std::to_string (priv->max_viewers) + ")");
    bool waiting = false;
    for (gint i : {VIDEO, AUDIO}) {
      bool known = !priv->streams[i].kind.empty () && priv->streams[i].ssrc;
      /* a linked pad whose first packet has not come: the viewer would
       * get an answer without that stream */
      if (!known && gst_pad_is_linked (priv->pads[i]))
        waiting = true;
      setup.streams.push_back (known ? priv->streams[i] : ProgramStream ());
    }
    if (waiting) {
      return refused ("the program has not started yet");
    }
    setup.certificate = priv->certificate;
    setup.address = priv->address;
    setup.min_port = priv->min_port;
    setup.max_port = priv->max_port;
    setup.stun_server = priv->stun_server;
    setup.connect_timeout_ms = priv->connect_timeout * 1000;
    for (auto &w : priv->workers)
      if (!worker || w->viewer_count () < worker->viewer_count ())
        worker = w.get ();
    id = priv->next_id++;
    priv->viewers[id] = worker;
  }
  auto forget = [&] {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->viewers.erase (id);
  };
  if (setup.streams[VIDEO].kind.empty ()
      && setup.streams[AUDIO].kind.empty ()) {
    forget ();
    return refused ("the program has not started yet");
  }
  ViewerOffer offer;
  std::string error, answer;
  if (!offer_text
      || !fanout_parse_offer (offer_text, setup.streams, offer, error)
      || !worker->add_viewer (id, offer, setup, answer, error)) {
    forget ();
    if (!offer_text)
      error = "no offer";
    GST_INFO_OBJECT (self, "refused a viewer: %s", error.c_str ());
    return refused (error);
  }
  priv->viewer_event (id, "joined", "");
  return gst_structure_new ("webrtcfanoutsink-answer", "id", G_TYPE_UINT, id,
      "answer", G_TYPE_STRING, answer.c_str (), nullptr);
}

static FanoutWorker *
worker_of (GstWebrtcFanoutSink *self, guint id)
{
  std::lock_guard<std::mutex> guard (self->priv->lock);
  auto it = self->priv->viewers.find (id);
  return it == self->priv->viewers.end () ? nullptr : it->second;
}

static gboolean
add_ice_candidate (GstWebrtcFanoutSink *self, guint id, const gchar *candidate)
{
  FanoutWorker *worker = worker_of (self, id);
  if (!worker)
    return FALSE;
  worker->add_candidate (id, candidate ? candidate : "");
  return TRUE;
}

static gboolean
remove_viewer (GstWebrtcFanoutSink *self, guint id)
{
  FanoutWorker *worker = worker_of (self, id);
  if (!worker)
    return FALSE;
  worker->remove_viewer (id, "removed by the application");
  return TRUE;
}

static gboolean
set_viewer_loss (GstWebrtcFanoutSink *self, guint id, guint percent)
{
  FanoutWorker *worker = worker_of (self, id);
  if (!worker)
    return FALSE;
  worker->set_loss (id, percent);
  return TRUE;
}

static GstStateChangeReturn
change_state (GstElement *element, GstStateChange transition)
{
  auto *self = GST_WEBRTC_FANOUT_SINK (element);
  Private *priv = self->priv;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    std::string error;
    std::shared_ptr<DtlsCertificate> certificate;
    std::string pem;
    guint count, stats;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      pem = priv->certificate_pem;
      count = priv->workers_setting;
      stats = priv->stats_interval;
    }
    certificate = pem.empty () ? process_certificate (error)
                               : DtlsCertificate::from_pem (pem, error);
    if (!certificate) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("No DTLS certificate: %s", error.c_str ()), (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
    if (count == 0)
      count = MAX (1u, std::thread::hardware_concurrency ());
    std::vector<std::unique_ptr<FanoutWorker>> workers;
    for (guint i = 0; i < count; i++)
      workers.push_back (std::make_unique<FanoutWorker> (*priv, i, stats));
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->certificate = certificate;
    priv->workers = std::move (workers);
    priv->eos[VIDEO] = priv->eos[AUDIO] = false;
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->eos[VIDEO] = priv->eos[AUDIO] = false;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    std::vector<std::unique_ptr<FanoutWorker>> workers;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      workers.swap (priv->workers);
    }
    workers.clear (); /* frees every viewer; their events reach the bus */
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->viewers.clear ();
    priv->history.clear ();
    priv->frame.clear ();
    priv->streams[VIDEO] = priv->streams[AUDIO] = ProgramStream ();
  }
  return ret;
}

static void
set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  Private *priv = GST_WEBRTC_FANOUT_SINK (object)->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_WORKERS:
      priv->workers_setting = g_value_get_uint (value);
      break;
    case PROP_MAX_VIEWERS:
      priv->max_viewers = g_value_get_uint (value);
      break;
    case PROP_ADDRESS:
      priv->address =
          g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_MIN_PORT:
      priv->min_port = g_value_get_uint (value);
      break;
    case PROP_MAX_PORT:
      priv->max_port = g_value_get_uint (value);
      break;
    case PROP_STUN_SERVER:
      priv->stun_server =
          g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_KEYFRAME_MIN_INTERVAL:
      priv->keyframe_min_interval = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      priv->stats_interval = g_value_get_uint (value);
      break;
    case PROP_CONNECT_TIMEOUT:
      priv->connect_timeout = g_value_get_uint (value);
      break;
    case PROP_CERTIFICATE_PEM:
      priv->certificate_pem =
          g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  Private *priv = GST_WEBRTC_FANOUT_SINK (object)->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_WORKERS:
      g_value_set_uint (value, priv->workers_setting);
      break;
    case PROP_MAX_VIEWERS:
      g_value_set_uint (value, priv->max_viewers);
      break;
    case PROP_VIEWERS:
      g_value_set_uint (value, (guint)priv->viewers.size ());
      break;
    case PROP_ADDRESS:
      g_value_set_string (
          value, priv->address.empty () ? nullptr : priv->address.c_str ());
      break;
    case PROP_MIN_PORT:
      g_value_set_uint (value, priv->min_port);
      break;
    case PROP_MAX_PORT:
      g_value_set_uint (value, priv->max_port);
      break;
    case PROP_STUN_SERVER:
      g_value_set_string (value,
          priv->stun_server.empty () ? nullptr : priv->stun_server.c_str ());
      break;
    case PROP_KEYFRAME_MIN_INTERVAL:
      g_value_set_uint (value, priv->keyframe_min_interval);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, priv->stats_interval);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, priv->connect_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
finalize (GObject *object)
{
  delete GST_WEBRTC_FANOUT_SINK (object)->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_webrtc_fanout_sink_class_init (GstWebrtcFanoutSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = set_property;
  gobject_class->get_property = get_property;
  gobject_class->finalize = finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (change_state);

  const GParamFlags rw =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags rw_ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags rw_playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property (gobject_class, PROP_WORKERS,
      g_param_spec_uint ("workers", "Workers",
          "Threads that own the viewers (0: one per core)", 0, 64,
          DEFAULT_WORKERS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MAX_VIEWERS,
      g_param_spec_uint ("max-viewers", "Max viewers",
          "Viewers beyond this are refused with a reason", 0, G_MAXUINT,
          DEFAULT_MAX_VIEWERS, rw_playing));
  g_object_class_install_property (gobject_class, PROP_VIEWERS,
      g_param_spec_uint ("viewers", "Viewers", "Viewers now", 0, G_MAXUINT, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "Local IP address for the viewers' ICE (NULL: every interface)",
          nullptr, rw_playing));
  g_object_class_install_property (gobject_class, PROP_MIN_PORT,
      g_param_spec_uint ("min-port", "Min port",
          "Lowest UDP port for viewers (0: any)", 0, 65535, 0, rw_playing));
  g_object_class_install_property (gobject_class, PROP_MAX_PORT,
      g_param_spec_uint ("max-port", "Max port",
          "Highest UDP port for viewers (0: any)", 0, 65535, 0, rw_playing));
  g_object_class_install_property (gobject_class, PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "HOST:PORT of a STUN server for reflexive candidates", nullptr,
          rw_playing));
  g_object_class_install_property (gobject_class, PROP_KEYFRAME_MIN_INTERVAL,
      g_param_spec_uint ("keyframe-min-interval", "Keyframe min interval",
          "Least time between two keyframe requests upstream (ms)", 0, 60000,
          DEFAULT_KEYFRAME_MIN_INTERVAL, rw_playing));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Period of the webrtcfanoutsink-stats messages (ms, 0: none)", 0,
          600000, DEFAULT_STATS_INTERVAL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CONNECT_TIMEOUT,
      g_param_spec_uint ("connect-timeout", "Connect timeout",
          "Seconds a viewer has to connect (ICE and DTLS) after joining", 1,
          3600, DEFAULT_CONNECT_TIMEOUT, rw_playing));
  g_object_class_install_property (gobject_class, PROP_CERTIFICATE_PEM,
      g_param_spec_string ("certificate-pem", "Certificate PEM",
          "The DTLS key and certificate as PEM (NULL: one made per process)",
          nullptr,
          (GParamFlags)(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  signals[SIGNAL_ADD_VIEWER] =
      g_signal_new_class_handler ("add-viewer", G_TYPE_FROM_CLASS (klass),
          (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
          G_CALLBACK (add_viewer), nullptr, nullptr, nullptr,
          GST_TYPE_STRUCTURE, 1, G_TYPE_STRING);
  signals[SIGNAL_ADD_ICE_CANDIDATE] = g_signal_new_class_handler (
      "add-ice-candidate", G_TYPE_FROM_CLASS (klass),
      (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (add_ice_candidate), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN,
      2, G_TYPE_UINT, G_TYPE_STRING);
  signals[SIGNAL_REMOVE_VIEWER] =
      g_signal_new_class_handler ("remove-viewer", G_TYPE_FROM_CLASS (klass),
          (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
          G_CALLBACK (remove_viewer), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN,
          1, G_TYPE_UINT);
  signals[SIGNAL_SET_VIEWER_LOSS] =
      g_signal_new_class_handler ("set-viewer-loss", G_TYPE_FROM_CLASS (klass),
          (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
          G_CALLBACK (set_viewer_loss), nullptr, nullptr, nullptr,
          G_TYPE_BOOLEAN, 2, G_TYPE_UINT, G_TYPE_UINT);

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class, "WebRTC fan-out sink",
      "Sink/Network/WebRTC",
      "Sends one RTP program to many WebRTC viewers, each with its own ICE, "
      "DTLS-SRTP and RTCP, on a fixed set of threads",
      "gst-rooms");
}

static void
gst_webrtc_fanout_sink_init (GstWebrtcFanoutSink *self)
{
  self->priv = new Private ();
  self->priv->self = self;
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
  GstStaticPadTemplate *templates[2] = {&video_template, &audio_template};
  for (gint i : {VIDEO, AUDIO}) {
    GstPad *pad = gst_pad_new_from_static_template (
        templates[i], templates[i]->name_template);
    gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (chain));
    gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (sink_event));
    GST_PAD_SET_PROXY_CAPS (pad);
    gst_element_add_pad (GST_ELEMENT (self), pad);
    self->priv->pads[i] = pad;
  }
}
