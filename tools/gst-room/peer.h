/* gst-room: one browser = one webrtcbin in its own pipeline, attached to a hub
 * of the room through a hubport, so a peer failing never stops another. */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "roomfile.h"

class Fanout;
class Room;

/* What every webrtcbin of the tool shares: max-bundle, the room's ICE
 * servers and transport policy, and 127.0.0.1 for loopback-only hosts
 * (used by peers and by the Kurento API's WebRtcEndpoint). */
void peer_configure_webrtcbin (GstElement *webrtc, const RoomSpec &spec);

class Peer {
public:
  /* Messages for the browser; called on the main thread. */
  using SendFunc = std::function<void (const nlohmann::json &)>;
  /* The peer's pipeline failed, its connection went away or a step of its
   * join timed out: @code for the page (peer-failed, join-timeout), @why for
   * people; main thread.  The owner then removes the peer. */
  using FailFunc =
      std::function<void (const std::string &code, const std::string &why)>;

  Peer (Room &room, const RoomRoleSpec &role, guint id, std::string name,
      std::string address, SendFunc send, FailFunc fail);
  ~Peer ();
  /* Ends what the peer feeds into the room's hubs with EOS (at Ctrl-C):
   * a hub ends only once all its inputs have, and a peer's own live
   * sources never end. */
  void end_feeds ();
  Peer (const Peer &) = delete;
  Peer &operator= (const Peer &) = delete;

  /* Builds the pipeline, attaches it to the hub and starts negotiation (the
   * server makes the offer). */
  bool start (std::string &error);

  bool set_answer (const std::string &sdp, std::string &error);
  /* A fan-out role's browser offers (role ().fanout): the answer is sent
   * to the page once the room's webrtcfanoutsink has one. */
  bool set_offer (const std::string &sdp, std::string &error);
  /* A debug knob for tests: a fan-out viewer loses @percent of what it is
   * sent (its browser then asks again by NACK).  False when the peer is
   * not a connected fan-out viewer. */
  bool set_debug_loss (guint percent);
  /* A fan-out viewer of a role with a quality ladder asks for the rung
   * labelled @label, or "auto".  Before its viewer exists (the answer is on
   * its way) the choice is kept and applied then.  False with @error (no
   * ladder, an unknown label, the H.264 program): nothing changes. */
  bool set_rendition (const std::string &label, std::string &error);
  bool add_remote_candidate (
      guint mline, const std::string &candidate, std::string &error);

  guint id () const { return id_; }
  const RoomRoleSpec &role () const { return role_; }
  /* The hub port the peer got, -1 before it attached. */
  gint hub_port () const;
  /* Its port on @hub (the role's hub or an also-send-to hub), or -1. */
  gint port_on (const std::string &hub) const;
  /* Its port on the recordings' hub (RECORDING_HUB: the RTP packets it
   * sends, undecoded), or -1 when the room records nothing. */
  gint record_port () const;
  /* The video codec its browser sends ("VP8", "H264"), known once it has
   * answered; empty before, and for roles that send no video. */
  const std::string &sent_video_codec () const { return sent_video_codec_; }
  /* It has answered: what it sends is known. */
  bool answered () const { return told_answered_; }
  /* The name the browser gave when joining (may be empty), cleaned. */
  const std::string &name () const { return name_; }
  /* The address it joined from. */
  const std::string &address () const { return address_; }
  /* ICE and DTLS are up: the join is complete. */
  bool connected () const { return connected_; }
  GstElement *pipeline () const { return pipeline_; }

private:
  struct Shared; /* state reachable from streaming threads */

  static void on_negotiation_needed (GstElement *webrtc, gpointer data);
  static void on_offer_created (GstPromise *promise, gpointer data);
  static void on_ice_candidate (
      GstElement *webrtc, guint mline, gchar *candidate, gpointer data);
  static void on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data);
  static void on_connection_state (
      GstElement *webrtc, GParamSpec *pspec, gpointer data);
  static gboolean on_bus_message (GstBus *bus, GstMessage *msg, gpointer data);
  static void on_keyframe_request (
      GstElement *rtpbin, guint session, guint ssrc, gpointer data);

  /* Runs @fn on the main thread if the peer still exists then. */
  void post_to_main (std::function<void (Peer &)> fn);
  /* Fails the peer with @code/@why unless the join reached the next step
   * within the room's join-timeout. */
  void arm_join_timer (const char *step);
  void fail (const std::string &code, const std::string &why);
  void link_incoming (GstPad *pad);
  bool link_outgoing (const std::string &video_codec, std::string &error);
  GstElement *add_hubport (const std::string &hub, const char *name);
  static std::string answered_video_codec (const GstSDPMessage *sdp);

  Room &room_;
  const RoomRoleSpec &role_;
  guint id_;
  std::string name_;
  std::string address_;
  SendFunc send_;
  FailFunc fail_;
  GstElement *pipeline_ = nullptr;
  GstElement *webrtc_ = nullptr;
  GstElement *port_ = nullptr; /* the hubport */
  GstElement *view_ = nullptr; /* hubport on the role's video-hub, if any */
  /* hubports on the role's also-send-to hubs: they get what the peer sends */
  std::vector<GstElement *> copies_;
  /* hubport on the recordings' hub: a copy of the RTP packets it sends */
  GstElement *record_ = nullptr;
  /* an on-demand pipeline this peer keeps running (an H.264 rtp-hub) */
  std::string on_demand_hub_;
  /* a fan-out viewer: the room's Fanout, our id there (0 before the
   * answer), the ticket of an offer waiting for the program, candidates
   * that came before the answer */
  Fanout *fanout_ = nullptr;
  guint viewer_id_ = 0;
  guint fanout_ticket_ = 0;
  /* a quality asked for before the viewer existed ("" : none) */
  std::string early_rendition_;
  std::vector<std::string> early_candidates_;
  bool outgoing_linked_ = false; /* main thread */
  std::string sent_video_codec_; /* main thread, set with the answer */
  bool told_answered_ = false;   /* main thread */
  bool connected_ = false;       /* main thread */
  bool failed_ = false;          /* main thread: told the owner once */
  guint join_timer_ = 0;         /* main thread */
  guint bus_watch_ = 0;
  std::shared_ptr<Shared> shared_;
};
