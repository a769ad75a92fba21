/* gst-room, Kurento control API: WebRtcEndpoint. */
#include "webrtc.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "../peer.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

namespace {

/* Encoders for what reaches the endpoint's inputs; "pay" gets the payload
 * type of the offer. */
const char *const ENCODE[N_KINDS] = {
    "queue max-size-buffers=0 max-size-bytes=0 max-size-time=200000000 "
    "leaky=downstream ! audioconvert ! audioresample ! opusenc "
    "! rtpopuspay name=pay",
    "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
    "leaky=downstream ! videoconvert ! vp8enc deadline=1 cpu-used=8 "
    "keyframe-max-dist=60 target-bitrate=600000 error-resilient=partitions "
    "! rtpvp8pay name=pay mtu=1200 picture-id-mode=15-bit",
};
const char *const ENCODING[N_KINDS] = {"OPUS", "VP8"};
const char *const CLOCK_RATE[N_KINDS] = {"48000", "90000"};

/* Candidates a client may queue before the offer. */
constexpr gsize MAX_EARLY_CANDIDATES = 64;

} // namespace

struct WebRtcEndpoint::Shared {
  std::weak_ptr<WebRtcEndpoint> self;
  GstElement *pipeline = nullptr;    /* ref */
  GstElement *outputs[N_KINDS] = {}; /* refs, may be null */
  ~Shared ()
  {
    for (GstElement *o : outputs)
      if (o)
        gst_object_unref (o);
    if (pipeline)
      gst_object_unref (pipeline);
  }
};

std::shared_ptr<MediaObject>
WebRtcEndpoint::create (Session &session,
    std::shared_ptr<MediaPipeline> pipeline, const json &ctor, Error &error)
{
  bool recvonly = ctor.value ("recvonly", json (false)) == true;
  bool sendonly = ctor.value ("sendonly", json (false)) == true;
  if (recvonly && sendonly) {
    error = {ILLEGAL_PARAM, "a WebRtcEndpoint cannot be recvonly and sendonly"};
    return nullptr;
  }
  auto ep = std::make_shared<WebRtcEndpoint> (session, std::move (pipeline));
  ep->shared_->self = ep;
  std::string why;
  if (!ep->build (!recvonly, !sendonly, why)) {
    error = {UNEXPECTED, "cannot build a WebRtcEndpoint: " + why};
    ep->release ();
    return nullptr;
  }
  return ep;
}

WebRtcEndpoint::WebRtcEndpoint (
    Session &session, std::shared_ptr<MediaPipeline> pipeline)
    : MediaElement (session, "WebRtcEndpoint", std::move (pipeline)),
      shared_ (std::make_shared<Shared> ())
{
  /* Accepted and kept: the tutorials set some of them. */
  for (const char *kbps : {"maxVideoSendBandwidth", "minVideoSendBandwidth",
           "maxVideoRecvBandwidth", "minVideoRecvBandwidth",
           "maxAudioRecvBandwidth"})
    properties_[kbps] = 0;
  properties_["maxVideoSendBandwidth"] = 500;
  properties_["minVideoSendBandwidth"] = 100;
  properties_["mtu"] = 1200;
  properties_["stunServerAddress"] = "";
  properties_["stunServerPort"] = 0;
  properties_["turnUrl"] = "";
  properties_["networkInterfaces"] = "";
  properties_["externalIPv4"] = "";
  properties_["externalIPv6"] = "";
  properties_["iceTcp"] = true;
}

WebRtcEndpoint::~WebRtcEndpoint ()
{
  if (webrtc_)
    g_signal_handlers_disconnect_matched (webrtc_, G_SIGNAL_MATCH_FUNC, 0, 0,
        nullptr, (gpointer)on_ice_candidate, nullptr);
}

bool
WebRtcEndpoint::accepts_event (const std::string &event) const
{
  static const char *const events[] = {"MediaSessionStarted",
      "MediaSessionTerminated", "ConnectionStateChanged", "MediaStateChanged",
      "DataChannelClosed", "DataChannelOpened", "DtlsConnectionStateChange",
      "IceCandidateFound", "IceComponentStateChanged", "IceGatheringDone",
      "NewCandidatePairSelected"};
  for (const char *e : events)
    if (event == e)
      return true;
  return MediaElement::accepts_event (event);
}

bool
WebRtcEndpoint::build (bool send, bool receive, std::string &error)
{
  send_ = send;
  receive_ = receive;
  webrtc_ = gst_element_factory_make ("webrtcbin", nullptr);
  if (!webrtc_) {
    error = "no element \"webrtcbin\" (gst-plugins-bad)";
    return false;
  }
  add (webrtc_);
  peer_configure_webrtcbin (webrtc_, session_.spec ());

  shared_->pipeline = GST_ELEMENT (gst_object_ref (pipeline ().pipeline ()));
  for (int k = 0; k < N_KINDS; k++) {
    if (receive) {
      make_output ((MediaKind)k);
      shared_->outputs[k] = GST_ELEMENT (gst_object_ref (outputs_[k]));
    }
    if (send) {
      make_input ((MediaKind)k);
      encoders_[k] = add_bin (ENCODE[k], error);
      if (!encoders_[k])
        return false;
      gst_element_link (inputs_[k], encoders_[k]);
    }
  }
  auto connect = [this] (const char *signal, GCallback callback) {
    g_signal_connect_data (
        webrtc_, signal, callback, new std::shared_ptr<Shared> (shared_),
        [] (gpointer data, GClosure *) {
          delete static_cast<std::shared_ptr<Shared> *> (data);
        },
        (GConnectFlags)0);
  };
  connect ("on-ice-candidate", G_CALLBACK (on_ice_candidate));
  connect ("notify::ice-gathering-state", G_CALLBACK (on_gathering_state));
  connect ("notify::connection-state", G_CALLBACK (on_connection_state));
  connect ("pad-added", G_CALLBACK (on_pad_added));
  for (GstElement *e : {outputs_[0], outputs_[1], inputs_[0], inputs_[1],
           encoders_[0], encoders_[1], webrtc_})
    if (e)
      gst_element_sync_state_with_parent (e);
  return true;
}

/* ---- signals from webrtcbin's threads -------------------------------- */

void
WebRtcEndpoint::on_ice_candidate (
    GstElement *, guint mline, gchar *candidate, gpointer data)
{
  std::weak_ptr<WebRtcEndpoint> weak =
      (*static_cast<std::shared_ptr<Shared> *> (data))->self;
  std::string c = candidate;
  run_on_main ([weak, mline, c] () {
    if (auto self = weak.lock ())
      self->local_candidate (mline, c);
  });
}

void
WebRtcEndpoint::on_gathering_state (
    GstElement *webrtc, GParamSpec *, gpointer data)
{
  GstWebRTCICEGatheringState state;
  g_object_get (webrtc, "ice-gathering-state", &state, nullptr);
  if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    return;
  std::weak_ptr<WebRtcEndpoint> weak =
      (*static_cast<std::shared_ptr<Shared> *> (data))->self;
  run_on_main ([weak] () {
    if (auto self = weak.lock ())
      self->gathering_done ();
  });
}

void
WebRtcEndpoint::on_connection_state (
    GstElement *webrtc, GParamSpec *, gpointer data)
{
  GstWebRTCPeerConnectionState state;
  g_object_get (webrtc, "connection-state", &state, nullptr);
  std::weak_ptr<WebRtcEndpoint> weak =
      (*static_cast<std::shared_ptr<Shared> *> (data))->self;
  run_on_main ([weak, state] () {
    if (auto self = weak.lock ())
      self->connection_state ((int)state);
  });
}

void
WebRtcEndpoint::on_pad_added (GstElement *, GstPad *pad, gpointer data)
{
  /* On a streaming thread: only GStreamer objects are touched here. */
  Shared &shared = **static_cast<std::shared_ptr<Shared> *> (data);
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_string (s, "media");
  const gchar *encoding = gst_structure_get_string (s, "encoding-name");
  int kind = g_strcmp0 (media, "audio") == 0   ? KIND_AUDIO
             : g_strcmp0 (media, "video") == 0 ? KIND_VIDEO
                                               : -1;
  std::string description;
  if (kind >= 0 && shared.outputs[kind]) {
    if (g_ascii_strcasecmp (GST_STR_NULL (encoding), "VP8") == 0)
      description = "rtpvp8depay ! vp8dec ! videoconvert";
    else if (g_ascii_strcasecmp (GST_STR_NULL (encoding), "OPUS") == 0)
      description = "rtpopusdepay ! opusdec ! audioconvert ! audioresample";
  }
  GST_INFO ("incoming %s %s", GST_STR_NULL (media), GST_STR_NULL (encoding));
  gst_caps_unref (caps);
  if (description.empty ())
    description = "fakesink sync=false async=false";
  GstElement *bin =
      gst_parse_bin_from_description (description.c_str (), TRUE, nullptr);
  if (!bin)
    return;
  gst_bin_add (GST_BIN (shared.pipeline), bin);
  GstPad *sink = gst_element_get_static_pad (bin, "sink");
  gst_pad_link (pad, sink);
  gst_object_unref (sink);
  GstPad *src = gst_element_get_static_pad (bin, "src");
  if (src) {
    gst_element_link (bin, shared.outputs[kind]);
    gst_object_unref (src);
  }
  gst_element_sync_state_with_parent (bin);
}

/* ---- main thread ----------------------------------------------------- */

void
WebRtcEndpoint::local_candidate (guint mline, const std::string &candidate)
{
  if (!gathering_asked_) {
    local_candidates_.emplace_back (mline, candidate);
    return;
  }
  std::string mid =
      mline < mids_.size () ? mids_[mline] : std::to_string (mline);
  emit ("IceCandidateFound",
      {{"candidate", {{"__module__", "kurento"}, {"__type__", "IceCandidate"},
                         {"candidate", candidate}, {"sdpMLineIndex", mline},
                         {"sdpMid", mid}}}});
}

void
WebRtcEndpoint::gathering_done ()
{
  gathering_done_ = true;
  if (gathering_asked_ && !done_sent_) {
    done_sent_ = true;
    emit ("IceGatheringDone", json::object ());
  }
}

void
WebRtcEndpoint::connection_state (int state)
{
  std::string now = state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED
                        ? "CONNECTED"
                        : "DISCONNECTED";
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_NEW
      || state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING
      || now == media_state_)
    return;
  std::string old = media_state_;
  media_state_ = now;
  GST_INFO ("%s: %s", id ().c_str (), now.c_str ());
  emit ("MediaStateChanged", {{"oldState", old}, {"newState", now}});
  emit ("ConnectionStateChanged", {{"oldState", old}, {"newState", now}});
}

void
WebRtcEndpoint::process_offer (const std::string &offer, Done done)
{
  if (negotiating_ || negotiated_)
    return done (
        Reply::fail (SDP_ALREADY_NEGOTIATED, "Endpoint already negotiated"));
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text (offer.c_str (), &sdp) != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0) {
    if (sdp)
      gst_sdp_message_free (sdp);
    return done (Reply::fail (
        SDP_PROCESS_OFFER, "Error processing offer: not an SDP offer"));
  }
  mids_.clear ();
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (sdp, i);
    const gchar *mid = gst_sdp_media_get_attribute_val (m, "mid");
    mids_.push_back (mid ? mid : std::to_string (i));
  }
  negotiating_ = true;
  remote_sdp_ = offer;
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  std::weak_ptr<WebRtcEndpoint> weak =
      std::static_pointer_cast<WebRtcEndpoint> (shared_from_this ());
  auto *pending = new std::pair<std::weak_ptr<WebRtcEndpoint>, Done> (
      weak, std::move (done));
  GstPromise *promise = gst_promise_new_with_change_func (
      [] (GstPromise *p, gpointer data) {
        auto *pd =
            static_cast<std::pair<std::weak_ptr<WebRtcEndpoint>, Done> *> (
                data);
        const GstStructure *reply = gst_promise_get_reply (p);
        std::string why;
        if (reply && gst_structure_has_field (reply, "error")) {
          GError *err = nullptr;
          gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
          why = err ? err->message : "webrtcbin refused it";
          g_clear_error (&err);
        }
        gst_promise_unref (p);
        run_on_main ([pd, why] () {
          std::unique_ptr<std::pair<std::weak_ptr<WebRtcEndpoint>, Done>>
              owned (pd);
          auto self = owned->first.lock ();
          if (!self)
            return owned->second (Reply::fail (OBJECT_NOT_FOUND, "released"));
          if (!why.empty ()) {
            self->negotiating_ = false;
            return owned->second (Reply::fail (
                SDP_PROCESS_OFFER, "Error processing offer: " + why));
          }
          self->answer_offer (std::move (owned->second));
        });
      },
      pending, nullptr);
  g_signal_emit_by_name (webrtc_, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
}

void
WebRtcEndpoint::answer_offer (Done done)
{
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text (remote_sdp_.c_str (), &sdp);
  for (guint i = 0; sdp && i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (sdp, i);
    const gchar *media = gst_sdp_media_get_media (m);
    int kind = g_strcmp0 (media, "audio") == 0   ? KIND_AUDIO
               : g_strcmp0 (media, "video") == 0 ? KIND_VIDEO
                                                 : -1;
    if (kind < 0)
      continue;
    /* The payload type the browser gave our codec. */
    int pt = -1;
    for (guint a = 0; a < gst_sdp_media_attributes_len (m) && pt < 0; a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (m, a);
      if (g_strcmp0 (attr->key, "rtpmap") != 0 || !attr->value)
        continue;
      int number = -1;
      char name[32] = "";
      if (sscanf (attr->value, "%d %31[^/]", &number, name) == 2
          && g_ascii_strcasecmp (name, ENCODING[kind]) == 0)
        pt = number;
    }
    if (pt < 0) {
      GST_INFO ("m-line %u (%s): no %s offered", i, media, ENCODING[kind]);
      continue;
    }
    gchar *caps_text = g_strdup_printf (
        "application/x-rtp,media=%s,encoding-name=%s,clock-rate=%s,payload=%d",
        media, ENCODING[kind], CLOCK_RATE[kind], pt);
    GstCaps *caps = gst_caps_from_string (caps_text);
    g_free (caps_text);
    bool will_send = send_ && encoders_[kind];
    GstWebRTCRTPTransceiverDirection direction =
        will_send && receive_ ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
        : will_send           ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY
                              : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY;
    /* webrtcbin makes no transceiver for a remote offer's m-lines until
     * the answer is set: ours, one per m-line in order, with the offer's
     * payload type as codec preference, are what create-answer matches. */
    GstWebRTCRTPTransceiver *trans = nullptr;
    GstPad *sink = nullptr;
    if (will_send) {
      sink = gst_element_request_pad_simple (webrtc_, "sink_%u");
      if (sink)
        g_object_get (sink, "transceiver", &trans, nullptr);
    } else {
      g_signal_emit_by_name (
          webrtc_, "add-transceiver", direction, caps, &trans);
    }
    if (trans) {
      g_object_set (
          trans, "codec-preferences", caps, "direction", direction, nullptr);
      gst_object_unref (trans);
    }
    gst_caps_unref (caps);
    if (!sink)
      continue;
    GstElement *pay = gst_bin_get_by_name (GST_BIN (encoders_[kind]), "pay");
    g_object_set (pay, "pt", (guint)pt, nullptr);
    gst_object_unref (pay);
    GstPad *src = gst_element_get_static_pad (encoders_[kind], "src");
    if (gst_pad_link (src, sink) == GST_PAD_LINK_OK)
      open_input ((MediaKind)kind);
    else
      GST_WARNING ("m-line %u: cannot link the %s encoder", i, media);
    gst_object_unref (src);
    gst_object_unref (sink);
  }
  if (sdp)
    gst_sdp_message_free (sdp);

  std::weak_ptr<WebRtcEndpoint> weak =
      std::static_pointer_cast<WebRtcEndpoint> (shared_from_this ());
  auto *pending = new std::pair<std::weak_ptr<WebRtcEndpoint>, Done> (
      weak, std::move (done));
  GstPromise *promise = gst_promise_new_with_change_func (
      [] (GstPromise *p, gpointer data) {
        auto *pd =
            static_cast<std::pair<std::weak_ptr<WebRtcEndpoint>, Done> *> (
                data);
        const GstStructure *reply = gst_promise_get_reply (p);
        GstWebRTCSessionDescription *answer = nullptr;
        if (reply)
          gst_structure_get (reply, "answer",
              GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
        gst_promise_unref (p);
        run_on_main ([pd, answer] () {
          std::unique_ptr<std::pair<std::weak_ptr<WebRtcEndpoint>, Done>>
              owned (pd);
          auto self = owned->first.lock ();
          if (!self || !answer) {
            if (answer)
              gst_webrtc_session_description_free (answer);
            if (self)
              self->negotiating_ = false;
            return owned->second (Reply::fail (
                SDP_PROCESS_OFFER, "Error processing offer: no answer"));
          }
          g_signal_emit_by_name (
              self->webrtc_, "set-local-description", answer, nullptr);
          gchar *text = gst_sdp_message_as_text (answer->sdp);
          self->local_sdp_ = text;
          g_free (text);
          gst_webrtc_session_description_free (answer);
          self->negotiating_ = false;
          self->negotiated_ = true;
          self->apply_remote_candidates ();
          GST_INFO ("%s: answered", self->id ().c_str ());
          owned->second (Reply::with (self->local_sdp_));
        });
      },
      pending, nullptr);
  g_signal_emit_by_name (webrtc_, "create-answer", nullptr, promise);
}

Reply
WebRtcEndpoint::add_ice_candidate (const json &params)
{
  json c = params.is_object () ? params.value ("candidate", json ()) : json ();
  if (!c.is_object () || !c.contains ("candidate")
      || !c["candidate"].is_string ())
    return Reply::fail (ILLEGAL_PARAM, "'candidate' must be an IceCandidate "
                                       "{candidate, sdpMid, sdpMLineIndex}");
  std::string text = c["candidate"].get<std::string> ();
  json index = c.value ("sdpMLineIndex", json ());
  guint mline = 0;
  if (index.is_number_unsigned () && index.get<guint64> () < 64)
    mline = index.get<guint> ();
  else if (!index.is_null ())
    return Reply::fail (ILLEGAL_PARAM, "'sdpMLineIndex' must be from 0 to 63");
  if (text.empty ())
    return Reply::ok (); /* end of candidates */
  if (text.size () > 1024 || text.find_first_of ("\r\n") != std::string::npos)
    return Reply::fail (ICE_ADD_CANDIDATE, "Error adding candidate: malformed");
  if (!negotiated_) {
    if (remote_candidates_.size () >= MAX_EARLY_CANDIDATES)
      return Reply::fail (ICE_ADD_CANDIDATE,
          "Error adding candidate: too many before the offer");
    remote_candidates_.emplace_back (mline, text);
    return Reply::ok ();
  }
  g_signal_emit_by_name (webrtc_, "add-ice-candidate", mline, text.c_str ());
  return Reply::ok ();
}

void
WebRtcEndpoint::apply_remote_candidates ()
{
  for (const auto &[mline, text] : remote_candidates_)
    g_signal_emit_by_name (webrtc_, "add-ice-candidate", mline, text.c_str ());
  remote_candidates_.clear ();
}

void
WebRtcEndpoint::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "processOffer") {
    json offer =
        params.is_object () ? params.value ("offer", json ()) : json ();
    if (!offer.is_string ())
      return done (
          Reply::fail (ILLEGAL_PARAM, "'offer' must be an SDP string"));
    return process_offer (offer.get<std::string> (), std::move (done));
  }
  if (op == "gatherCandidates") {
    gathering_asked_ = true;
    auto found = std::move (local_candidates_);
    local_candidates_.clear ();
    for (const auto &[mline, text] : found)
      local_candidate (mline, text);
    if (gathering_done_)
      gathering_done ();
    return done (Reply::ok ());
  }
  if (op == "addIceCandidate")
    return done (add_ice_candidate (params));
  if (op == "getMediaState" || op == "getConnectionState")
    return done (Reply::with (media_state_));
  if (op == "getLocalSessionDescriptor")
    return done (Reply::with (local_sdp_));
  if (op == "getRemoteSessionDescriptor")
    return done (Reply::with (remote_sdp_));
  if (op == "generateOffer" || op == "processAnswer" || op == "requestKeyframe"
      || op == "createDataChannel" || op == "closeDataChannel")
    return done (Reply::fail (NOT_IMPLEMENTED,
        "gst-room does not implement " + op + " yet (see docs/kurento.md)"));
  MediaElement::invoke (op, params, std::move (done));
}

void
WebRtcEndpoint::release ()
{
  if (webrtc_)
    g_signal_handlers_disconnect_matched (webrtc_, G_SIGNAL_MATCH_FUNC, 0, 0,
        nullptr, (gpointer)on_pad_added, nullptr);
  MediaElement::release ();
}

} // namespace kurento
