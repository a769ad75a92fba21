/* gst-room: a browser's webrtcbin pipeline, attached to the room through a
 * hubport. */
#include "peer.h"

#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <cstring>

#include "fanout.h"
#include "room.h"

GST_DEBUG_CATEGORY_STATIC (peer_debug);
#define GST_CAT_DEFAULT peer_debug

namespace {

/* What a peer sends the browser: encoded once per peer from what the hub
 * sends back to its port. */
const char *VIDEO_SEND_BRANCH =
    "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream"
    " ! videoconvert ! video/x-raw,format=I420"
    " ! vp8enc deadline=1 cpu-used=8 lag-in-frames=0 end-usage=cbr"
    " target-bitrate=1500000 keyframe-max-dist=90 error-resilient=default"
    " threads=2 ! rtpvp8pay pt=96 picture-id-mode=15-bit mtu=1200";
/* What a peer sends when the room encodes the video once for everybody
 * (role key video-hub): payloaded only. */
const char *VIDEO_PAY_BRANCH =
    "queue max-size-buffers=30 max-size-bytes=0 max-size-time=0"
    " ! rtpvp8pay pt=96 picture-id-mode=15-bit mtu=1200";
/* For a browser that answers with H.264 only: encoded per peer. */
const char *VIDEO_SEND_BRANCH_H264 =
    "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream"
    " ! videoconvert ! video/x-raw,format=I420"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=90"
    " bitrate=1500 threads=2 ! video/x-h264,profile=constrained-baseline"
    " ! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency"
    " mtu=1200";
/* VP8 first: the browser picks it unless it only takes H.264. */
const char *VIDEO_SEND_CAPS =
    "application/x-rtp,media=video,encoding-name=VP8,payload=96,"
    "clock-rate=90000;"
    "application/x-rtp,media=video,encoding-name=H264,payload=102,"
    "clock-rate=90000,packetization-mode=(string)1,"
    "profile-level-id=(string)42c01f,level-asymmetry-allowed=(string)1";
const char *AUDIO_SEND_BRANCH =
    "queue max-size-time=200000000 leaky=downstream ! audioconvert ! "
    "audioresample"
    " ! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 frame-size=20"
    " ! rtpopuspay pt=111 mtu=1200";
const char *AUDIO_SEND_CAPS =
    "application/"
    "x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
    "encoding-params=(string)2";

} // namespace

struct Peer::Shared {
  std::mutex lock;
  Peer *peer = nullptr; /* null once the peer is gone; guarded by lock */
  /* webrtcbin asks again as pads and caps settle; one offer per peer is
   * enough (the media never changes), and a second one racing the first
   * confuses the browser.  Guarded by lock. */
  bool offer_requested = false;
  /* The create-offer promise until it is answered (one reference more
   * than on_offer_created drops): a peer torn down before webrtcbin
   * answered frees it, or nobody would.  Guarded by lock. */
  GstPromise *pending_offer = nullptr;
};

Peer::Peer (Room &room, const RoomRoleSpec &role, guint id, std::string name,
    std::string address, SendFunc send, FailFunc fail)
    : room_ (room), role_ (role), id_ (id), name_ (std::move (name)),
      address_ (std::move (address)), send_ (std::move (send)),
      fail_ (std::move (fail)), shared_ (std::make_shared<Shared> ())
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (peer_debug, "gstroom-peer", 0, "gst-room peers");
    g_once_init_leave (&once, 1);
  }
  shared_->peer = this;
}

Peer::~Peer ()
{
  {
    std::lock_guard<std::mutex> guard (shared_->lock);
    shared_->peer = nullptr;
  }
  if (bus_watch_)
    g_source_remove (bus_watch_);
  if (join_timer_)
    g_source_remove (join_timer_);
  if (pipeline_) {
    /* NULL joins the streaming threads; the hubport releases its hub port. */
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    room_.dump_dot (pipeline_, "peer-" + std::to_string (id_) + "-closed");
    gst_object_unref (pipeline_);
  }
  /* webrtcbin is gone: an offer it never answered never will be.  Both our
   * references to its promise go (on_offer_created would have dropped
   * them). */
  GstPromise *pending = nullptr;
  {
    std::lock_guard<std::mutex> guard (shared_->lock);
    pending = shared_->pending_offer;
    shared_->pending_offer = nullptr;
  }
  if (pending) {
    gst_promise_unref (pending);
    gst_promise_unref (pending);
  }
  if (fanout_ && viewer_id_)
    fanout_->remove_viewer (viewer_id_);
  else if (fanout_ && fanout_ticket_)
    fanout_->cancel (fanout_ticket_);
  if (fanout_)
    room_.release_fanout (fanout_);
  if (!on_demand_hub_.empty ())
    room_.release_on_demand (on_demand_hub_);
}

void
Peer::end_feeds ()
{
  if (!pipeline_)
    return; /* a fan-out viewer feeds nothing */
  std::vector<GstPad *> pads;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline_));
  GValue item = G_VALUE_INIT;
  bool done = false;
  while (!done) {
    switch (gst_iterator_next (it, &item)) {
      case GST_ITERATOR_OK: {
        auto *element = GST_ELEMENT (g_value_get_object (&item));
        GstElementFactory *factory = gst_element_get_factory (element);
        if (factory && g_str_equal (GST_OBJECT_NAME (factory), "hubport")) {
          GST_OBJECT_LOCK (element);
          for (GList *l = element->sinkpads; l; l = l->next)
            pads.push_back (GST_PAD (gst_object_ref (l->data)));
          GST_OBJECT_UNLOCK (element);
        }
        g_value_reset (&item);
        break;
      }
      case GST_ITERATOR_RESYNC:
        for (GstPad *pad : pads)
          gst_object_unref (pad);
        pads.clear ();
        gst_iterator_resync (it);
        break;
      default:
        done = true;
        break;
    }
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  /* A pad that is not linked or not active refuses it, which is fine. */
  for (GstPad *pad : pads) {
    gst_pad_send_event (pad, gst_event_new_eos ());
    gst_object_unref (pad);
  }
}

GstElement *
Peer::add_hubport (const std::string &hub, const char *name)
{
  GstElement *port = gst_element_factory_make ("hubport", name);
  if (!port)
    return nullptr;
  g_object_set (port, "hub", hub.c_str (), nullptr);
  gst_bin_add (GST_BIN (pipeline_), port);
  return port;
}

void
Peer::post_to_main (std::function<void (Peer &)> fn)
{
  struct Call {
    std::shared_ptr<Shared> shared;
    std::function<void (Peer &)> fn;
  };
  auto *call = new Call{shared_, std::move (fn)};
  g_idle_add_full (
      G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        auto *c = static_cast<Call *> (data);
        Peer *peer = nullptr;
        {
          std::lock_guard<std::mutex> guard (c->shared->lock);
          peer = c->shared->peer;
        }
        /* The main thread is the only one that destroys peers, so the peer
         * stays valid for the call once seen here. */
        if (peer)
          c->fn (*peer);
        return G_SOURCE_REMOVE;
      },
      call, [] (gpointer data) { delete static_cast<Call *> (data); });
}

void
Peer::fail (const std::string &code, const std::string &why)
{
  if (failed_)
    return;
  failed_ = true;
  /* The owner frees this peer: work on a copy of the callback. */
  FailFunc owner = fail_;
  owner (code, why);
}

void
Peer::arm_join_timer (const char *step)
{
  if (join_timer_)
    g_source_remove (join_timer_);
  struct Timer {
    Peer *peer;
    std::string why;
  };
  guint seconds = room_.spec ().join_timeout;
  auto *timer = new Timer{
      this, std::string (step) + " within " + std::to_string (seconds) + " s"};
  join_timer_ = g_timeout_add_seconds_full (
      G_PRIORITY_DEFAULT, seconds,
      [] (gpointer data) -> gboolean {
        auto *t = static_cast<Timer *> (data);
        t->peer->join_timer_ = 0;
        t->peer->fail ("join-timeout", t->why);
        return G_SOURCE_REMOVE;
      },
      timer, [] (gpointer data) { delete static_cast<Timer *> (data); });
}

gint
Peer::hub_port () const
{
  gint port = -1;
  if (port_)
    g_object_get (port_, "port", &port, nullptr);
  return port;
}

gint
Peer::port_on (const std::string &hub) const
{
  if (hub == role_.hub)
    return hub_port ();
  for (size_t i = 0; i < role_.also_send_to.size () && i < copies_.size ();
       i++) {
    if (role_.also_send_to[i] == hub && copies_[i]) {
      gint port = -1;
      g_object_get (copies_[i], "port", &port, nullptr);
      return port;
    }
  }
  return -1;
}

gint
Peer::record_port () const
{
  gint port = -1;
  if (record_)
    g_object_get (record_, "port", &port, nullptr);
  return port;
}

void
peer_configure_webrtcbin (GstElement *webrtc, const RoomSpec &spec)
{
  g_object_set (
      webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, nullptr);
  if (spec.ice_transport_policy == "relay")
    g_object_set (webrtc, "ice-transport-policy",
        GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, nullptr);
  for (const std::string &uri : spec.ice_servers) {
    gboolean ok = TRUE;
    if (g_str_has_prefix (uri.c_str (), "stun:"))
      g_object_set (webrtc, "stun-server", uri.c_str (), nullptr);
    else
      g_signal_emit_by_name (webrtc, "add-turn-server", uri.c_str (), &ok);
  }
  /* On a loopback-only host libnice must be told about 127.0.0.1. */
  GstObject *ice = nullptr;
  g_object_get (webrtc, "ice-agent", &ice, nullptr);
  if (ice) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (ice, "add-local-ip-address", "127.0.0.1", &ok);
    gst_object_unref (ice);
  }
}

bool
Peer::start (std::string &error)
{
  if (role_.fanout) {
    /* The browser offers; the room's webrtcfanoutsink answers
     * (set_offer): no pipeline of our own. */
    arm_join_timer ("no offer from the browser");
    return true;
  }
  std::string name = "peer-" + std::to_string (id_);
  pipeline_ = gst_pipeline_new (name.c_str ());
  /* Every pipeline of the room runs on the same clock, so running times
   * match across the hubports. */
  gst_pipeline_use_clock (GST_PIPELINE (pipeline_), room_.clock ());

  /* main() checked the plugins (webrtc, roomhub) before the room opened. */
  webrtc_ = gst_element_factory_make ("webrtcbin", "webrtc");
  if (!webrtc_) {
    error = std::string ("no element \"webrtcbin\" (")
            + room_plugin_of ("webrtcbin") + ")";
    return false;
  }
  gst_bin_add (GST_BIN (pipeline_), webrtc_);
  /* A role that only receives payloaded RTP needs no port on a hub. */
  if (!role_.hub.empty ())
    port_ = add_hubport (role_.hub, "port");
  if (!role_.video_hub.empty () && role_.receive_video)
    view_ = add_hubport (role_.video_hub, "view");
  for (const std::string &hub : role_.also_send_to)
    copies_.push_back (add_hubport (hub, ("copy-" + hub).c_str ()));
  /* Recordings take what the browser sends as it sent it: no decoding. */
  if (room_.spec ().recording.present && (role_.send_audio || role_.send_video))
    record_ = add_hubport (RECORDING_HUB, "record");
  peer_configure_webrtcbin (webrtc_, room_.spec ());

  g_signal_connect (webrtc_, "on-negotiation-needed",
      G_CALLBACK (on_negotiation_needed), shared_.get ());
  g_signal_connect (webrtc_, "on-ice-candidate", G_CALLBACK (on_ice_candidate),
      shared_.get ());
  g_signal_connect (
      webrtc_, "pad-added", G_CALLBACK (on_pad_added), shared_.get ());
  g_signal_connect (webrtc_, "notify::connection-state",
      G_CALLBACK (on_connection_state), shared_.get ());

  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
  bus_watch_ = gst_bus_add_watch (bus, on_bus_message, this);
  gst_object_unref (bus);

  /* Request every sink pad first, go to PLAYING, then link media: other
   * orders sometimes stall webrtcbin or give an offer without media. */
  auto add_media = [&] (bool send, bool receive, const char *caps_str,
                       gboolean is_video) {
    if (!send && !receive)
      return;
    GstCaps *caps = gst_caps_from_string (caps_str);
    GstWebRTCRTPTransceiverDirection direction =
        send && receive ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
        : send          ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY
                        : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY;
    GstWebRTCRTPTransceiver *transceiver = nullptr;
    if (receive) {
      /* we send what the browser receives */
      GstPadTemplate *templ = gst_element_get_pad_template (webrtc_, "sink_%u");
      GstPad *pad = gst_element_request_pad (webrtc_, templ, nullptr, caps);
      g_object_get (pad, "transceiver", &transceiver, nullptr);
      gst_object_unref (pad);
    } else {
      g_signal_emit_by_name (
          webrtc_, "add-transceiver", direction, caps, &transceiver);
    }
    if (transceiver) {
      /* Fixed codec preferences: the offer must not depend on caps that only
       * arrive with media. */
      g_object_set (transceiver, "codec-preferences", caps, nullptr);
      /* NACK/RTX keeps video smooth under loss; Chromium takes no RTX for
       * audio and refuses an offer that has it. */
      g_object_set (
          transceiver, "direction", direction, "do-nack", is_video, nullptr);
      gst_object_unref (transceiver);
    }
    gst_caps_unref (caps);
  };
  /* role.send_* is what the browser sends; receive_* what it gets. */
  add_media (role_.send_video, role_.receive_video, VIDEO_SEND_CAPS, TRUE);
  add_media (role_.send_audio, role_.receive_audio, AUDIO_SEND_CAPS, FALSE);

  if (gst_element_set_state (pipeline_, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    error = "the peer's pipeline did not start (are the role's hubs there?)";
    return false;
  }
  /* What we send is linked once the answer says which video codec. */
  /* Offer now: webrtcbin would wait for caps on every sink pad, and a port
   * that nothing is routed to yet (a caller alone in a private call) has
   * none.  The transceivers' codec preferences are enough for the offer. */
  on_negotiation_needed (webrtc_, shared_.get ());
  arm_join_timer ("no answer to the offer");
  room_.dump_dot (pipeline_, "peer-" + std::to_string (id_) + "-started");
  return true;
}

bool
Peer::link_outgoing (const std::string &video_codec, std::string &error)
{
  bool h264 = video_codec == "H264";
  /* Payloaded RTP from the role's rtp-hub (VP8 and Opus, or its H.264 twin),
   * forwarded as it is: nothing is encoded or payloaded for this peer. */
  GstElement *rtp = nullptr, *rtp_video = nullptr;
  if (role_.rtp_audio || (role_.rtp_video && !h264))
    rtp = add_hubport (role_.rtp_hub, "rtp");
  if (role_.rtp_video && h264) {
    if (role_.h264_rtp_hub.empty ()) {
      error = "this room sends its video in VP8 only, and the browser takes "
              "no VP8";
      return false;
    }
    if (!room_.use_on_demand (role_.h264_rtp_hub, error))
      return false;
    on_demand_hub_ = role_.h264_rtp_hub;
    rtp_video = add_hubport (role_.h264_rtp_hub, "rtp-h264");
  } else if (role_.rtp_video) {
    rtp_video = rtp;
  }
  /* Otherwise H.264 is encoded per peer from the port's raw video; VP8
   * comes from the role's encoded video hub when it has one. */
  bool shared_vp8 = view_ && !h264;
  struct Branch {
    bool wanted;
    GstElement *port;
    const char *port_pad;
    const char *description; /* null: linked as it is */
  } branches[] = {
      {role_.receive_video,
          rtp_video    ? rtp_video
          : shared_vp8 ? view_
                       : port_,
          "src",
          rtp_video    ? nullptr
          : h264       ? VIDEO_SEND_BRANCH_H264
          : shared_vp8 ? VIDEO_PAY_BRANCH
                       : VIDEO_SEND_BRANCH},
      {role_.receive_audio, role_.rtp_audio ? rtp : port_, "audio_src",
          role_.rtp_audio ? nullptr : AUDIO_SEND_BRANCH},
  };
  guint sink_index = 0;
  for (const Branch &b : branches) {
    if (!b.wanted)
      continue;
    GstElement *bin = nullptr;
    if (b.description) {
      bin = room_parse_branch (b.description, error);
      if (!bin)
        return false;
      gst_bin_add (GST_BIN (pipeline_), bin);
    }
    GstPad *from =
        b.port ? gst_element_get_static_pad (b.port, b.port_pad) : nullptr;
    std::string sink_name = "sink_" + std::to_string (sink_index++);
    GstPad *to = gst_element_get_static_pad (webrtc_, sink_name.c_str ());
    bool ok = from && to;
    if (ok && bin) {
      GstPad *bin_sink = gst_element_get_static_pad (bin, "sink");
      GstPad *bin_src = gst_element_get_static_pad (bin, "src");
      ok = gst_pad_link (from, bin_sink) == GST_PAD_LINK_OK
           && gst_pad_link (bin_src, to) == GST_PAD_LINK_OK;
      gst_object_unref (bin_sink);
      gst_object_unref (bin_src);
    } else if (ok) {
      ok = gst_pad_link (from, to) == GST_PAD_LINK_OK;
    }
    if (from)
      gst_object_unref (from);
    if (to)
      gst_object_unref (to);
    if (!ok) {
      error = std::string ("cannot link the hubport's ") + b.port_pad
              + " pad to webrtcbin";
      return false;
    }
    if (bin)
      gst_element_sync_state_with_parent (bin);
  }
  /* The rtp hubports attach once playing, now that their pads are linked. */
  for (GstElement *late : {rtp, rtp_video})
    if (late)
      gst_element_sync_state_with_parent (late);
  return true;
}

void
Peer::on_negotiation_needed (GstElement *webrtc, gpointer data)
{
  auto *shared = static_cast<Shared *> (data);
  std::lock_guard<std::mutex> guard (shared->lock);
  if (!shared->peer || shared->offer_requested)
    return;
  shared->offer_requested = true;
  GstPromise *promise = gst_promise_new_with_change_func (on_offer_created,
      new std::shared_ptr<Shared> (shared->peer->shared_),
      [] (gpointer d) { delete static_cast<std::shared_ptr<Shared> *> (d); });
  shared->pending_offer = gst_promise_ref (promise);
  g_signal_emit_by_name (webrtc, "create-offer", nullptr, promise);
}

void
Peer::on_offer_created (GstPromise *promise, gpointer data)
{
  Shared *shared = static_cast<std::shared_ptr<Shared> *> (data)->get ();
  GstWebRTCSessionDescription *offer = nullptr;
  const GstStructure *reply = gst_promise_get_reply (promise);
  if (reply)
    gst_structure_get (
        reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
  gst_promise_unref (promise);
  std::lock_guard<std::mutex> guard (shared->lock);
  if (shared->pending_offer == promise) {
    shared->pending_offer = nullptr;
    gst_promise_unref (promise);
  }
  Peer *self = shared->peer;
  if (!self) {
    if (offer)
      gst_webrtc_session_description_free (offer);
    return;
  }
  if (!offer) {
    self->post_to_main (
        [] (Peer &p) { p.fail ("peer-failed", "webrtcbin made no offer"); });
    return;
  }
  g_signal_emit_by_name (
      self->webrtc_, "set-local-description", offer, nullptr);
  gchar *sdp = gst_sdp_message_as_text (offer->sdp);
  std::string text = sdp;
  g_free (sdp);
  gst_webrtc_session_description_free (offer);
  self->post_to_main ([text] (Peer &p) {
    p.send_ ({{"type", "offer"}, {"sdp", text}});
  });
}

void
Peer::on_ice_candidate (
    GstElement *, guint mline, gchar *candidate, gpointer data)
{
  auto *shared = static_cast<Shared *> (data);
  std::lock_guard<std::mutex> guard (shared->lock);
  if (!shared->peer)
    return;
  std::string text = candidate;
  shared->peer->post_to_main ([mline, text] (Peer &p) {
    p.send_ (
        {{"type", "candidate"}, {"sdpMLineIndex", mline}, {"candidate", text}});
  });
}

bool
Peer::set_answer (const std::string &sdp_text, std::string &error)
{
  if (role_.fanout) {
    error = "role '" + role_.name + "' offers: the room answers";
    return false;
  }
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new (&sdp);
  if (gst_sdp_message_parse_buffer (
          (const guint8 *)sdp_text.data (), sdp_text.size (), sdp)
          != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0) {
    gst_sdp_message_free (sdp);
    error = "the answer is not an SDP with media sections";
    return false;
  }
  GstWebRTCSessionDescription *answer =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  GstPromise *promise = gst_promise_new ();
  g_signal_emit_by_name (webrtc_, "set-remote-description", answer, promise);
  gst_promise_wait (promise);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GError *err = nullptr;
  if (reply
      && gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr)) {
    error = std::string ("the answer was refused: ") + err->message;
    g_error_free (err);
  }
  gst_promise_unref (promise);
  if (error.empty () && !outgoing_linked_) {
    outgoing_linked_ = true;
    /* One codec each way: the answer's first, which the browser sends too. */
    std::string codec = answered_video_codec (answer->sdp);
    if (role_.send_video)
      sent_video_codec_ = codec;
    if (!link_outgoing (codec, error))
      error = "cannot send to this browser: " + error;
    else
      room_.dump_dot (pipeline_, "peer-" + std::to_string (id_) + "-linked");
  }
  gst_webrtc_session_description_free (answer);
  if (error.empty () && outgoing_linked_ && !told_answered_) {
    told_answered_ = true;
    room_.peer_answered (*this);
  }
  if (error.empty () && !connected_)
    arm_join_timer ("no WebRTC connection (ICE and DTLS)");
  return error.empty ();
}

std::string
Peer::answered_video_codec (const GstSDPMessage *sdp)
{
  /* The first payload of the video section is the one the browser will
   * decode; its rtpmap names the codec. */
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
    if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0
        || gst_sdp_media_formats_len (media) == 0)
      continue;
    std::string payload = gst_sdp_media_get_format (media, 0);
    for (guint a = 0;; a++) {
      const gchar *rtpmap =
          gst_sdp_media_get_attribute_val_n (media, "rtpmap", a);
      if (!rtpmap)
        break;
      std::string map = rtpmap;
      if (map.rfind (payload + " ", 0) == 0) {
        std::string codec = map.substr (payload.size () + 1);
        return codec.substr (0, codec.find ('/'));
      }
    }
  }
  return "VP8";
}

bool
Peer::set_offer (const std::string &sdp, std::string &error)
{
  if (!role_.fanout) {
    error = "role '" + role_.name + "' answers the room's offer";
    return false;
  }
  if (fanout_) {
    error = "this peer has offered already";
    return false;
  }
  /* VP8 when the browser takes it; otherwise the room's H.264 twin of the
   * program, when it has one (started for as long as such viewers stay) */
  gchar *lower = g_ascii_strdown (sdp.c_str (), -1);
  bool vp8 = strstr (lower, " vp8/90000") != nullptr;
  g_free (lower);
  bool h264 = role_.rtp_video && !vp8 && !role_.h264_rtp_hub.empty ();
  if (h264) {
    if (!room_.use_on_demand (role_.h264_rtp_hub, error))
      return false;
    on_demand_hub_ = role_.h264_rtp_hub;
  }
  fanout_ = room_.fanout (role_, h264, error);
  if (!fanout_)
    return false;
  guint wait_ms = room_.spec ().join_timeout * 1000;
  fanout_ticket_ = fanout_->add_viewer (
      sdp, wait_ms,
      [this] (guint id, const std::string &answer, const std::string &why) {
        fanout_ticket_ = 0;
        if (!id) {
          fail ("peer-failed", "the offer was refused: " + why);
          return;
        }
        viewer_id_ = id;
        send_ ({{"type", "answer"}, {"sdp", answer}});
        for (const std::string &c : early_candidates_)
          fanout_->add_candidate (viewer_id_, c);
        early_candidates_.clear ();
        if (!early_rendition_.empty ()
            && !fanout_->set_rendition (viewer_id_, early_rendition_))
          send_ ({{"type", "error"}, {"code", "bad-request"},
              {"message", "the quality '" + early_rendition_
                              + "' asked for before the answer was refused"},
              {"request", "quality"}});
        early_rendition_.clear ();
        if (!connected_)
          arm_join_timer ("no WebRTC connection (ICE and DTLS)");
      },
      [this] (const std::string &event, const std::string &reason) {
        if (event == "connected") {
          connected_ = true;
          if (join_timer_) {
            g_source_remove (join_timer_);
            join_timer_ = 0;
          }
        } else if (event == "rendition") {
          send_ ({{"type", "rendition"}, {"rendition", reason},
              {"pinned", fanout_->pinned (viewer_id_)}});
        } else if (event == "failed" || event == "left") {
          viewer_id_ = 0;
          fail ("peer-failed", reason);
        }
      });
  return true;
}

bool
Peer::set_debug_loss (guint percent)
{
  return fanout_ && viewer_id_ && fanout_->set_loss (viewer_id_, percent);
}

bool
Peer::set_rendition (const std::string &label, std::string &error)
{
  std::vector<std::string> labels = role_.renditions ();
  if (!role_.fanout || labels.empty ()) {
    error = "role '" + role_.name + "' has one rendition (no ladder=)";
    return false;
  }
  if (label != "auto"
      && std::find (labels.begin (), labels.end (), label) == labels.end ()) {
    std::string known;
    for (const std::string &l : labels)
      known += ", " + l;
    error = "no such rendition: the choices are auto" + known;
    return false;
  }
  if (fanout_ && !fanout_->has_ladder ()) {
    error = "this viewer gets the H.264 program, which has one rendition";
    return false;
  }
  if (!viewer_id_) {
    /* offered or about to: applied with the answer */
    early_rendition_ = label;
    return true;
  }
  if (!fanout_->set_rendition (viewer_id_, label)) {
    error = "the fan-out refused the rendition '" + label + "'";
    return false;
  }
  /* A pin to the rung it has switches nothing and brings no rendition
   * event, and back to automatic may switch only later: the page learns
   * where it stands now (a switch brings its own event). */
  std::string now = fanout_->rendition (viewer_id_);
  if (!now.empty ())
    send_ ({{"type", "rendition"}, {"rendition", now},
        {"pinned", fanout_->pinned (viewer_id_)}});
  return true;
}

bool
Peer::add_remote_candidate (
    guint mline, const std::string &candidate, std::string &error)
{
  if (mline > 16) {
    error = "sdpMLineIndex out of range";
    return false;
  }
  if (role_.fanout) {
    /* one transport (BUNDLE): the m-line does not matter */
    if (viewer_id_)
      fanout_->add_candidate (viewer_id_, candidate);
    else if (early_candidates_.size () < 64)
      early_candidates_.push_back (candidate);
    return true;
  }
  if (candidate.empty ())
    return true; /* end of candidates */
  g_signal_emit_by_name (
      webrtc_, "add-ice-candidate", mline, candidate.c_str ());
  return true;
}

void
Peer::on_connection_state (GstElement *webrtc, GParamSpec *, gpointer data)
{
  GstWebRTCPeerConnectionState state;
  g_object_get (webrtc, "connection-state", &state, nullptr);
  auto *shared = static_cast<Shared *> (data);
  std::lock_guard<std::mutex> guard (shared->lock);
  if (!shared->peer)
    return;
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    /* ICE gave up (the browser vanished, or consent was lost): the slot is
     * freed rather than held for a peer that will not come back. */
    shared->peer->post_to_main ([] (Peer &p) {
      p.fail ("peer-failed", "the WebRTC connection failed");
    });
    return;
  }
  if (state != GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    return;
  /* The browser can decode from now on: ask for a keyframe at once rather
   * than wait for its first PLI (a shared stream is mid-GOP).  The room's
   * dispatcher coalesces a crowd's requests. */
  shared->peer->post_to_main ([] (Peer &p) {
    p.connected_ = true;
    if (p.join_timer_) {
      g_source_remove (p.join_timer_);
      p.join_timer_ = 0;
    }
    if (!p.role_.receive_video)
      return;
    GstPad *pad = gst_element_get_static_pad (p.webrtc_, "sink_0");
    if (!pad)
      return;
    gst_pad_push_event (pad, gst_video_event_new_upstream_force_key_unit (
                                 GST_CLOCK_TIME_NONE, TRUE, 0));
    gst_object_unref (pad);
  });
}

void
Peer::on_pad_added (GstElement *, GstPad *pad, gpointer data)
{
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  auto *shared = static_cast<Shared *> (data);
  std::lock_guard<std::mutex> guard (shared->lock);
  if (shared->peer)
    shared->peer->link_incoming (pad);
}

void
Peer::link_incoming (GstPad *pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_string (s, "media");
  const gchar *encoding = gst_structure_get_string (s, "encoding-name");
  std::string description, port_pad;
  if (g_strcmp0 (media, "video") == 0 && role_.send_video) {
    port_pad = "sink";
    if (g_strcmp0 (encoding, "H264") == 0)
      description = "rtph264depay request-keyframe=true wait-for-keyframe=true "
                    "! avdec_h264";
    else
      description =
          "rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec";
    description +=
        " ! videoconvert ! queue max-size-buffers=2 leaky=downstream";
  } else if (g_strcmp0 (media, "audio") == 0 && role_.send_audio) {
    port_pad = "audio_sink";
    description =
        "rtpopusdepay ! opusdec plc=true ! audioconvert ! audioresample"
        " ! queue max-size-time=200000000 leaky=downstream";
  }
  GST_INFO ("peer %u: incoming %s %s -> %s", id_, GST_STR_NULL (media),
      GST_STR_NULL (encoding),
      port_pad.empty () ? "dropped" : port_pad.c_str ());
  gst_caps_unref (caps);

  if (description.empty ()) {
    /* media we don't take from this role: drop it */
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    gst_bin_add (GST_BIN (pipeline_), sink);
    GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (sinkpad);
    gst_element_sync_state_with_parent (sink);
    return;
  }
  if (record_) {
    /* The packets themselves go to the recordings' hub too (a leaky queue:
     * a recording never holds the peer up). */
    GstElement *tee = gst_element_factory_make ("tee", nullptr);
    GstElement *queue = gst_element_factory_make ("queue", nullptr);
    g_object_set (queue, "max-size-buffers", 500, "max-size-bytes", 0,
        "max-size-time", (guint64)0, "leaky", 2, nullptr);
    gst_bin_add_many (GST_BIN (pipeline_), tee, queue, nullptr);
    GstPad *tee_sink = gst_element_get_static_pad (tee, "sink");
    bool linked =
        gst_pad_link (pad, tee_sink) == GST_PAD_LINK_OK
        && gst_element_link_pads (tee, nullptr, queue, "sink")
        && gst_element_link_pads (queue, "src", record_, port_pad.c_str ());
    gst_object_unref (tee_sink);
    /* Packets carry no keyframe marks the recordings' dispatcher could
     * wait for (it would wait for ever on DELTA_UNIT packets): each one
     * may start a recording, whose depayloader waits for a keyframe. */
    GstPad *queue_src = gst_element_get_static_pad (queue, "src");
    gst_pad_add_probe (
        queue_src, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *info, gpointer) {
          GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
          if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
            buf = gst_buffer_make_writable (buf);
            GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
            GST_PAD_PROBE_INFO_DATA (info) = buf;
          }
          return GST_PAD_PROBE_OK;
        },
        nullptr, nullptr);
    gst_object_unref (queue_src);
    gst_element_sync_state_with_parent (queue);
    gst_element_sync_state_with_parent (tee);
    if (!linked) {
      post_to_main ([] (Peer &p) {
        p.fail ("peer-failed", "cannot link incoming media to recordings");
      });
      return;
    }
    pad = gst_element_request_pad_simple (tee, "src_%u");
    gst_object_unref (pad); /* the tee holds it */
  }
  std::string error;
  GstElement *bin = room_parse_branch (description.c_str (), error);
  if (!bin) {
    post_to_main ([error] (Peer &p) { p.fail ("peer-failed", error); });
    return;
  }
  gst_bin_add (GST_BIN (pipeline_), bin);
  GstPad *bin_sink = gst_element_get_static_pad (bin, "sink");
  GstPad *bin_src = gst_element_get_static_pad (bin, "src");
  GstPad *to = gst_element_get_static_pad (port_, port_pad.c_str ());
  bool ok = gst_pad_link (pad, bin_sink) == GST_PAD_LINK_OK && to;
  if (ok && copies_.empty ()) {
    ok = gst_pad_link (bin_src, to) == GST_PAD_LINK_OK;
  } else if (ok) {
    /* The same media into the role's other hubs, each behind a leaky queue
     * so one slow hub never holds the others up. */
    GstElement *tee = gst_element_factory_make ("tee", nullptr);
    gst_bin_add (GST_BIN (pipeline_), tee);
    ok = gst_element_link_pads (bin, "src", tee, nullptr)
         && gst_element_link_pads (tee, nullptr, port_, port_pad.c_str ());
    for (GstElement *copy : copies_) {
      GstElement *queue = gst_element_factory_make ("queue", nullptr);
      g_object_set (queue, "max-size-buffers", 3, "max-size-bytes", 0,
          "max-size-time", (guint64)0, "leaky", 2, nullptr);
      gst_bin_add (GST_BIN (pipeline_), queue);
      ok = ok && gst_element_link_pads (tee, nullptr, queue, "sink")
           && gst_element_link_pads (queue, "src", copy, port_pad.c_str ());
      gst_element_sync_state_with_parent (queue);
    }
    gst_element_sync_state_with_parent (tee);
  }
  gst_element_sync_state_with_parent (bin);
  if (!ok)
    post_to_main (
        [] (Peer &p) { p.fail ("peer-failed", "cannot link incoming media"); });
  if (to)
    gst_object_unref (to);
  gst_object_unref (bin_sink);
  gst_object_unref (bin_src);
}

gboolean
Peer::on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto *self = static_cast<Peer *> (data);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    std::string why = room_report_error (msg);
    self->bus_watch_ = 0;
    self->post_to_main ([why] (Peer &p) { p.fail ("peer-failed", why); });
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}
