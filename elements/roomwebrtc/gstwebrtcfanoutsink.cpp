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
 * ## The quality ladder
 *
 * Lighter renditions of the same video come on request pads `video_1`,
 * `video_2`, … (same codec as `video`, from the heaviest to the lightest);
 * with `audio-only-rung` the last rung sends audio only.  Each viewer gets
 * one rung, chosen from its RTCP: down at once on loss or queueing delay,
 * up after a probe (duplicates of packets it has, which its SRTP replay
 * check drops) showed the next rung fits.  A switch waits for a keyframe of
 * the target rendition (asked for, coalesced per rendition), and the packets
 * are rewritten per viewer — SSRC, sequence numbers, timestamps, VP8 picture
 * ids — so the browser sees one stream.  Each video pad has `label` and
 * `bitrate` (0: measured) properties; `set-viewer-rendition` pins a viewer
 * to a rung by its label ("auto" or NULL: automatic again).
 *
 * ## Messages
 *
 * `webrtcfanoutsink-viewer`: `id` (guint), `event` (string: joined,
 * connected, rendition, failed, left) and `reason` (string; for connected,
 * the SRTP profile; for rendition, the label of the rung the viewer now
 * gets).  After failed and left the viewer is gone.
 *
 * `webrtcfanoutsink-stats`, every `stats-interval` ms per worker with
 * viewers: `worker` (guint) and `viewers`, an array of `viewer` structures
 * with `id`, `state`, `srtp-profile`, `packets-sent`, `bytes-sent`,
 * `packets-dropped`, `nacks-received`, `packets-retransmitted`,
 * `keyframe-requests`, `fraction-lost`, `packets-lost`, `jitter`,
 * `rtcp-errors`, `rtt` (ms, from the viewer's reports on our sender
 * reports; -1 until known), `rendition` (its rung's label),
 * `rendition-pinned`, `estimate` (bits/s its link is thought to carry; 0
 * unknown) and `probe-packets` (duplicates sent to probe its link).
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

#include <array>
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
#define DEFAULT_AUDIO_ONLY_RUNG FALSE
#define DEFAULT_ADAPTIVE TRUE

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
  PROP_AUDIO_ONLY_RUNG,
  PROP_ADAPTIVE,
};

enum {
  SIGNAL_ADD_VIEWER,
  SIGNAL_ADD_ICE_CANDIDATE,
  SIGNAL_REMOVE_VIEWER,
  SIGNAL_SET_VIEWER_LOSS,
  SIGNAL_SET_VIEWER_RENDITION,
  LAST_SIGNAL
};
static guint signals[LAST_SIGNAL];

static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE ("video", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("application/x-rtp, media=(string)video, "
                         "encoding-name=(string){ VP8, H264 }, "
                         "clock-rate=(int)90000"));
static GstStaticPadTemplate rendition_template =
    GST_STATIC_PAD_TEMPLATE ("video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
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
/* `video` and `video_1` … `video_7`: the renditions of the ladder */
constexpr gint MAX_RENDITIONS = 8;

/* ---- GstWebrtcFanoutSinkPad: a video pad, one rendition ---- */

struct _GstWebrtcFanoutSinkPad {
  GstPad parent;
  gint rendition; /* 0 for `video`, N for `video_N` */
  gchar *label;   /* object lock; NULL: the pad's name */
  guint bitrate;  /* object lock; 0: measured */
};

G_DEFINE_TYPE (
    GstWebrtcFanoutSinkPad, gst_webrtc_fanout_sink_pad, GST_TYPE_PAD);

enum { PAD_PROP_0, PAD_PROP_LABEL, PAD_PROP_BITRATE };

static void
pad_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  auto *pad = GST_WEBRTC_FANOUT_SINK_PAD (object);
  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PAD_PROP_LABEL:
      g_free (pad->label);
      pad->label = g_value_dup_string (value);
      break;
    case PAD_PROP_BITRATE:
      pad->bitrate = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (pad);
}

static void
pad_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto *pad = GST_WEBRTC_FANOUT_SINK_PAD (object);
  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PAD_PROP_LABEL:
      g_value_set_string (
          value, pad->label ? pad->label : GST_OBJECT_NAME (pad));
      break;
    case PAD_PROP_BITRATE:
      g_value_set_uint (value, pad->bitrate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (pad);
}

static void
pad_finalize (GObject *object)
{
  g_free (GST_WEBRTC_FANOUT_SINK_PAD (object)->label);
  G_OBJECT_CLASS (gst_webrtc_fanout_sink_pad_parent_class)->finalize (object);
}

static void
gst_webrtc_fanout_sink_pad_class_init (GstWebrtcFanoutSinkPadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = pad_set_property;
  gobject_class->get_property = pad_get_property;
  gobject_class->finalize = pad_finalize;
  const GParamFlags rw =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                    | GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property (gobject_class, PAD_PROP_LABEL,
      g_param_spec_string ("label", "Label",
          "The rendition's name in statistics and events (NULL: the pad's "
          "name)",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PAD_PROP_BITRATE,
      g_param_spec_uint ("bitrate", "Bitrate",
          "What the rendition costs, bits/s (0: measured from its packets)", 0,
          G_MAXUINT, 0, rw));
}

static void
gst_webrtc_fanout_sink_pad_init (GstWebrtcFanoutSinkPad *pad)
{}

static std::string
pad_label (GstWebrtcFanoutSinkPad *pad)
{
  GST_OBJECT_LOCK (pad);
  std::string label = pad->label ? pad->label : GST_OBJECT_NAME (pad);
  GST_OBJECT_UNLOCK (pad);
  return label;
}

static guint
pad_bitrate (GstWebrtcFanoutSinkPad *pad)
{
  GST_OBJECT_LOCK (pad);
  guint bitrate = pad->bitrate;
  GST_OBJECT_UNLOCK (pad);
  return bitrate;
}

namespace {

/* What a stream's packets cost, measured on its streaming thread over two
 * second windows and read by the workers. */
struct RateMeter {
  std::atomic<guint64> rate{0}; /* bits/s */
  std::atomic<gint64> last_packet{0};
  guint64 bytes = 0;
  gint64 window_start = 0;

  void add (size_t size, gint64 now)
  {
    last_packet.store (now);
    if (!window_start)
      window_start = now;
    bytes += size;
    gint64 elapsed = now - window_start;
    if (elapsed >= 2 * G_USEC_PER_SEC) {
      guint64 measured = bytes * 8 * G_USEC_PER_SEC / (guint64)elapsed;
      guint64 old = rate.load ();
      rate.store (old ? (old + measured) / 2 : measured);
      bytes = 0;
      window_start = now;
    }
  }
  /* 0 when nothing came for two seconds */
  guint64 now_rate () const
  {
    return g_get_monotonic_time () - last_packet.load () > 2 * G_USEC_PER_SEC
               ? 0
               : rate.load ();
  }
  void reset ()
  {
    rate.store (0);
    last_packet.store (0);
    bytes = 0;
    window_start = 0;
  }
};

/* One rendition of the video: its pad, its history for NACKs, its frame
 * being gathered and its keyframe requests.  Made once per index and kept
 * until the element goes, so the workers never see one freed. */
struct Rendition {
  GstWebrtcFanoutSinkPad *pad = nullptr; /* Private::lock; null: released */
  ProgramStream stream;                  /* Private::lock */
  PacketHistory history;
  RateMeter meter;
  /* its streaming thread only */
  std::vector<PacketRef> frame;
  gint64 last_keyframe_request = 0;
  std::atomic<bool> keyframe_wanted{false};
};

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

  /* the ladder: renditions[0] is `video` */
  std::array<std::unique_ptr<Rendition>, MAX_RENDITIONS> renditions;
  RateMeter audio_meter; /* audio streaming thread */
  std::atomic<bool> audio_only_rung{DEFAULT_AUDIO_ONLY_RUNG};
  std::atomic<bool> adaptive_choice{DEFAULT_ADAPTIVE};
  /* EOS on each linked pad: lock */
  bool eos[2] = {false, false};

  GstPad *pads[2] = {nullptr, nullptr};

  void request_keyframe (gint rendition) override
  {
    if (rendition >= 0 && rendition < MAX_RENDITIONS)
      renditions[rendition]->keyframe_wanted.store (true);
  }
  GstBuffer *lookup_video (gint rendition, guint16 sequence) override
  {
    if (rendition < 0 || rendition >= MAX_RENDITIONS)
      return nullptr;
    return renditions[rendition]->history.lookup (sequence);
  }
  guint64 rung_bitrate (gint rendition) override
  {
    guint64 audio = audio_meter.now_rate ();
    if (rendition < 0)
      return audio ? audio : 1; /* audio only: always possible */
    if (rendition >= MAX_RENDITIONS)
      return 0;
    Rendition &r = *renditions[rendition];
    guint64 video = r.meter.now_rate ();
    if (!video)
      return 0;
    guint nominal = 0;
    {
      std::lock_guard<std::mutex> guard (lock);
      /* never chosen: a codec other than the program's (see ladder_locked) */
      if (rendition > 0 && r.stream.encoding != streams[VIDEO].encoding)
        return 0;
      if (r.pad)
        nominal = pad_bitrate (r.pad);
    }
    return (nominal ? nominal : video) + audio;
  }
  bool adaptive () override { return adaptive_choice.load (); }
  /* The ladder a viewer joining now gets, heaviest first; lock held. */
  std::vector<Rung> ladder_locked ()
  {
    std::vector<Rung> rungs;
    const ProgramStream &top = streams[VIDEO];
    for (gint i = 0; i < MAX_RENDITIONS; i++) {
      Rendition &r = *renditions[i];
      if (!r.pad || !gst_pad_is_linked (GST_PAD (r.pad)))
        continue;
      /* one codec for all: the viewer's payload type is the same.  A
       * rendition whose caps have not come yet is in (it is not chosen
       * before it flows, rung_bitrate), or a viewer joining in the program's
       * first moments would never have it. */
      if (i > 0 && !r.stream.encoding.empty ()
          && r.stream.encoding != top.encoding)
        continue;
      rungs.push_back ({pad_label (r.pad), i, 0});
    }
    if (audio_only_rung.load () && !rungs.empty ()
        && gst_pad_is_linked (pads[AUDIO]))
      rungs.push_back ({"audio-only", -1, 0});
    return rungs;
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

/* The rendition a video pad carries; -1 for the audio pad. */
static gint
rendition_of (Private *priv, GstPad *pad)
{
  return pad == priv->pads[AUDIO] ? -1
                                  : GST_WEBRTC_FANOUT_SINK_PAD (pad)->rendition;
}

static void
read_caps (Private *priv, gint rendition, GstCaps *caps)
{
  gint index = rendition < 0 ? AUDIO : VIDEO;
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
  if (rendition > 0) {
    /* a lighter rendition: only its codec matters (it must be the top's) */
    priv->renditions[rendition]->stream = stream;
    if (!priv->streams[VIDEO].encoding.empty ()
        && stream.encoding != priv->streams[VIDEO].encoding)
      GST_ELEMENT_WARNING (priv->self, STREAM, FORMAT,
          ("Rendition %d is %s, the program's video is %s: it is left out of "
           "the ladder",
              rendition, stream.encoding.c_str (),
              priv->streams[VIDEO].encoding.c_str ()),
          (nullptr));
    return;
  }
  if (index == VIDEO) {
    priv->codec = stream.encoding == "H264"  ? VideoCodec::H264
                  : stream.encoding == "VP8" ? VideoCodec::VP8
                                             : VideoCodec::NONE;
    priv->renditions[0]->stream = stream;
  }
  if (!stream.ssrc)
    stream.ssrc = priv->streams[index].ssrc;
  priv->streams[index] = stream;
}

static GstFlowReturn
chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  auto *self = GST_WEBRTC_FANOUT_SINK (parent);
  Private *priv = self->priv;
  gint rendition = rendition_of (priv, pad);
  gint index = rendition < 0 ? AUDIO : VIDEO;

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
  size_t size = map.size;
  gst_buffer_unmap (buffer, &map);
  if (keyframe)
    GST_LOG_OBJECT (pad, "a keyframe starts at packet %u", sequence);
  if (!offset) {
    GST_WARNING_OBJECT (self, "dropping a buffer that is not RTP");
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  gint64 now = g_get_monotonic_time ();
  if (rendition <= 0) {
    /* the SSRC is in the answer: learn it from the packets when the caps
     * do not say it, and follow a change (lighter renditions go out with
     * the top one's SSRC) */
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->streams[index].ssrc != ssrc)
      priv->streams[index].ssrc = ssrc;
  }

  auto packet = std::make_shared<const Packet> (
      buffer, index, keyframe, MAX (rendition, 0));
  if (index == VIDEO) {
    Rendition &r = *priv->renditions[rendition];
    r.meter.add (size, now);
    r.history.add (buffer, sequence);
    r.frame.push_back (packet);
    /* a frame's packets go out together: one batched send per viewer */
    if (marker || r.frame.size () >= 64) {
      priv->dispatch (r.frame);
      r.frame.clear ();
    }
    guint interval;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      interval = priv->keyframe_min_interval;
    }
    if (r.keyframe_wanted.load ()
        && now - r.last_keyframe_request >= (gint64)interval * 1000) {
      r.keyframe_wanted.store (false);
      r.last_keyframe_request = now;
      GST_DEBUG_OBJECT (pad, "asking upstream for a keyframe");
      gst_pad_push_event (pad, gst_video_event_new_upstream_force_key_unit (
                                   GST_CLOCK_TIME_NONE, TRUE, 0));
    }
  } else {
    priv->audio_meter.add (size, now);
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
  gint rendition = rendition_of (priv, pad);
  gint index = rendition < 0 ? AUDIO : VIDEO;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      read_caps (priv, rendition, caps);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      if (index == VIDEO)
        priv->renditions[rendition]->frame.clear ();
      break;
    case GST_EVENT_EOS: {
      if (index == VIDEO) {
        Rendition &r = *priv->renditions[rendition];
        if (!r.frame.empty ()) {
          priv->dispatch (r.frame);
          r.frame.clear ();
        }
        /* the program ends with `video` and `audio`, not with a rung */
        if (rendition > 0)
          break;
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
    setup.rungs = priv->ladder_locked ();
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
  for (Rung &rung : setup.rungs)
    rung.bitrate = priv->rung_bitrate (rung.rendition);
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

static gboolean
set_viewer_rendition (GstWebrtcFanoutSink *self, guint id, const gchar *label)
{
  Private *priv = self->priv;
  std::string rung;
  if (label && !g_str_equal (label, "auto")) {
    std::lock_guard<std::mutex> guard (priv->lock);
    std::vector<Rung> rungs = priv->ladder_locked ();
    for (const Rung &r : rungs)
      if (r.label == label)
        rung = label;
    if (rung.empty ()) {
      GST_INFO_OBJECT (self, "viewer %u: no rendition '%s'", id, label);
      return FALSE;
    }
  }
  FanoutWorker *worker = worker_of (self, id);
  if (!worker)
    return FALSE;
  /* by label: the viewer's ladder is the one it joined, and its indices
   * need not be today's */
  worker->set_rung (id, rung);
  return TRUE;
}

static GstPad *
request_new_pad (GstElement *element, GstPadTemplate *templ, const gchar *name,
    const GstCaps *caps)
{
  auto *self = GST_WEBRTC_FANOUT_SINK (element);
  Private *priv = self->priv;
  gint index = 0;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (name) {
      guint64 n = 0;
      if (!g_str_has_prefix (name, "video_")
          || !g_ascii_string_to_unsigned (
              name + 6, 10, 1, MAX_RENDITIONS - 1, &n, nullptr)) {
        GST_WARNING_OBJECT (
            self, "no pad '%s': video_1 … video_%d", name, MAX_RENDITIONS - 1);
        return nullptr;
      }
      index = (gint)n;
      if (priv->renditions[index]->pad) {
        GST_WARNING_OBJECT (self, "the pad %s exists already", name);
        return nullptr;
      }
    } else {
      for (gint i = 1; i < MAX_RENDITIONS && !index; i++)
        if (!priv->renditions[i]->pad)
          index = i;
      if (!index) {
        GST_WARNING_OBJECT (self, "no more than %d renditions", MAX_RENDITIONS);
        return nullptr;
      }
    }
  }
  std::string pad_name = "video_" + std::to_string (index);
  auto *pad = GST_WEBRTC_FANOUT_SINK_PAD (
      g_object_new (GST_TYPE_WEBRTC_FANOUT_SINK_PAD, "name", pad_name.c_str (),
          "direction", GST_PAD_SINK, "template", templ, nullptr));
  pad->rendition = index;
  gst_pad_set_chain_function (GST_PAD (pad), GST_DEBUG_FUNCPTR (chain));
  gst_pad_set_event_function (GST_PAD (pad), GST_DEBUG_FUNCPTR (sink_event));
  GST_PAD_SET_PROXY_CAPS (GST_PAD (pad));
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->renditions[index]->pad = pad;
  }
  if (GST_STATE (element) > GST_STATE_READY)
    gst_pad_set_active (GST_PAD (pad), TRUE);
  gst_element_add_pad (element, GST_PAD (pad));
  return GST_PAD (pad);
}

static void
release_pad (GstElement *element, GstPad *pad)
{
  Private *priv = GST_WEBRTC_FANOUT_SINK (element)->priv;
  gint index = GST_WEBRTC_FANOUT_SINK_PAD (pad)->rendition;
  /* waits for its streaming thread to leave chain() */
  gst_pad_set_active (pad, FALSE);
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    Rendition &r = *priv->renditions[index];
    r.pad = nullptr;
    r.stream = ProgramStream ();
    r.history.clear ();
    r.frame.clear ();
    r.meter.reset ();
  }
  gst_element_remove_pad (element, pad);
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
    for (auto &r : priv->renditions) {
      r->history.clear ();
      r->frame.clear ();
      r->meter.reset ();
      r->stream = ProgramStream ();
    }
    priv->audio_meter.reset ();
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
    case PROP_AUDIO_ONLY_RUNG:
      priv->audio_only_rung.store (g_value_get_boolean (value));
      break;
    case PROP_ADAPTIVE:
      priv->adaptive_choice.store (g_value_get_boolean (value));
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
    case PROP_AUDIO_ONLY_RUNG:
      g_value_set_boolean (value, priv->audio_only_rung.load ());
      break;
    case PROP_ADAPTIVE:
      g_value_set_boolean (value, priv->adaptive_choice.load ());
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
  element_class->request_new_pad = GST_DEBUG_FUNCPTR (request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (release_pad);

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
  g_object_class_install_property (gobject_class, PROP_AUDIO_ONLY_RUNG,
      g_param_spec_boolean ("audio-only-rung", "Audio-only rung",
          "The quality ladder ends with a rung that sends audio only",
          DEFAULT_AUDIO_ONLY_RUNG, rw_playing));
  g_object_class_install_property (gobject_class, PROP_ADAPTIVE,
      g_param_spec_boolean ("adaptive", "Adaptive",
          "Choose each viewer's rendition from its RTCP (else it keeps the "
          "one it has unless pinned)",
          DEFAULT_ADAPTIVE, rw_playing));

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
  signals[SIGNAL_SET_VIEWER_RENDITION] = g_signal_new_class_handler (
      "set-viewer-rendition", G_TYPE_FROM_CLASS (klass),
      (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (set_viewer_rendition), nullptr, nullptr, nullptr,
      G_TYPE_BOOLEAN, 2, G_TYPE_UINT, G_TYPE_STRING);

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &video_template, GST_TYPE_WEBRTC_FANOUT_SINK_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &rendition_template, GST_TYPE_WEBRTC_FANOUT_SINK_PAD);
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
  for (auto &r : self->priv->renditions)
    r = std::make_unique<Rendition> ();
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  for (gint i : {VIDEO, AUDIO}) {
    const char *name = i == VIDEO ? "video" : "audio";
    GstPadTemplate *templ = gst_element_class_get_pad_template (klass, name);
    GstPad *pad;
    if (i == VIDEO) {
      pad = GST_PAD (g_object_new (GST_TYPE_WEBRTC_FANOUT_SINK_PAD, "name",
          name, "direction", GST_PAD_SINK, "template", templ, nullptr));
      self->priv->renditions[0]->pad = GST_WEBRTC_FANOUT_SINK_PAD (pad);
    } else {
      pad = gst_pad_new_from_template (templ, name);
    }
    gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (chain));
    gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (sink_event));
    GST_PAD_SET_PROXY_CAPS (pad);
    gst_element_add_pad (GST_ELEMENT (self), pad);
    self->priv->pads[i] = pad;
  }
}
