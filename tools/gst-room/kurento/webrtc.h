/* gst-room, Kurento control API: WebRtcEndpoint, a webrtcbin in the
 * MediaPipeline.
 *
 * What the browser sends is depayloaded and decoded into the element's
 * outputs (raw audio and video); what reaches its inputs is encoded (VP8,
 * Opus) and payloaded with the payload types of the browser's offer.  Local
 * ICE candidates wait for gatherCandidates(), remote ones for the offer, as
 * Kurento's do. */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"

namespace kurento {

class WebRtcEndpoint : public MediaElement {
public:
  static std::shared_ptr<MediaObject> create (Session &session,
      std::shared_ptr<MediaPipeline> pipeline,
      const nlohmann::json &constructor, Error &error);
  WebRtcEndpoint (Session &session, std::shared_ptr<MediaPipeline> pipeline);
  ~WebRtcEndpoint () override;

  std::vector<std::string> hierarchy () const override
  {
    return {"kurento.BaseRtpEndpoint", "kurento.SdpEndpoint",
        "kurento.SessionEndpoint", "kurento.Endpoint", "kurento.MediaElement",
        "kurento.MediaObject"};
  }
  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;
  void release () override;

private:
  struct Shared; /* what streaming threads reach */

  bool build (bool send, bool receive, std::string &error);
  void process_offer (const std::string &offer, Done done);
  void answer_offer (Done done);
  Reply add_ice_candidate (const nlohmann::json &params);
  void apply_remote_candidates ();
  void local_candidate (guint mline, const std::string &candidate);
  void gathering_done ();
  void connection_state (int state);
  void incoming (GstPad *pad);

  static void on_ice_candidate (
      GstElement *webrtc, guint mline, gchar *candidate, gpointer data);
  static void on_gathering_state (
      GstElement *webrtc, GParamSpec *pspec, gpointer data);
  static void on_connection_state (
      GstElement *webrtc, GParamSpec *pspec, gpointer data);
  static void on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data);

  GstElement *webrtc_ = nullptr;
  GstElement *encoders_[N_KINDS] = {}; /* valve → encoder bin → webrtcbin */
  bool send_ = true, receive_ = true;
  /* Negotiation, main thread. */
  bool negotiating_ = false, negotiated_ = false;
  std::string remote_sdp_, local_sdp_;
  std::vector<std::string> mids_; /* a=mid of each m-line of the offer */
  /* Remote candidates that came before the offer: (m-line, candidate). */
  std::vector<std::pair<guint, std::string>> remote_candidates_;
  /* Local candidates found before gatherCandidates(). */
  std::vector<std::pair<guint, std::string>> local_candidates_;
  bool gathering_asked_ = false, gathering_done_ = false;
  bool done_sent_ = false;
  std::string media_state_ = "DISCONNECTED";
  std::shared_ptr<Shared> shared_;
};

} // namespace kurento
