/* gst-room: a room is the pipelines of its room file plus one pipeline per
 * connected browser. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fanout.h"
#include "managedpipeline.h"
#include "peer.h"
#include "roomfile.h"

/* "plugin X from Debian package Y" for an element the room tool relies on. */
std::string room_plugin_of (const char *element);

/* Reports each element the tool needs and cannot find, one a line, as
 * webrtc-sendrecv does; false when one is missing. */
bool room_check_elements ();

/* A bin with ghost pads from a gst-launch-1.0 fragment, or null with @error
 * naming a missing element and its plugin. */
GstElement *room_parse_branch (const char *description, std::string &error);

/* Prints an error message as gst-launch-1.0 does ("ERROR: from element
 * PATH: MESSAGE" and its debug info) and returns MESSAGE. */
std::string room_report_error (GstMessage *msg);

/* Whoever follows the room's peers (the live show).  The room calls back
 * only through this: after its pipelines started, after a peer joined, and
 * after one left (out of the peer list, its pipeline still being torn
 * down). */
class RoomListener {
public:
  virtual void room_started () {}
  virtual void peer_joined (Peer &peer) = 0;
  /* The peer's browser answered: what it sends is known. */
  virtual void peer_answered (Peer &) {}
  virtual void peer_left (guint id) = 0;

protected:
  ~RoomListener () = default;
};

class Room {
public:
  Room (const RoomSpec &spec, std::string dot_dir);
  ~Room ();

  /* Parses every pipeline and checks every role's hub; nothing runs yet. */
  bool build (std::string &error);
  bool start (std::string &error);
  /* Ctrl-C: EOS into every room pipeline so recordings finish. */
  void send_eos ();
  bool eos_done () const;
  void stop ();
  /* Every room pipeline to NULL, peers left alone: a peer's streaming
   * thread blocked pushing into a hub that stopped after EOS (the stage's
   * aggregator) is released, so the peers can then be torn down. */
  void stop_pipelines ();

  const RoomSpec &spec () const { return spec_; }
  GstClock *clock () const { return clock_; }
  void dump_dot (GstElement *pipeline, const std::string &name) const;

  /* The peer, or null with @error when the role is full, too many joins
   * are pending (in all or from @address), the process is out of file
   * descriptors, or it fails to start.  The room owns the peer. */
  Peer *add_peer (const RoomRoleSpec &role, const std::string &name,
      const std::string &address, Peer::SendFunc send, Peer::FailFunc fail,
      std::string &error);
  Peer *find_peer (guint id) const;
  /* Called by the peer once its browser has answered: tells listeners. */
  void peer_answered (Peer &peer);
  /* Takes the peer out of the room, tells listeners once, frees it. */
  void remove_peer (guint id);
  int count_peers (const std::string &role) const;
  /* The process's file limit (raised at start) and how many peers it
   * holds. */
  void set_file_limit (guint64 limit) { file_limit_ = limit; }
  guint64 peer_capacity () const;
  const std::list<std::unique_ptr<Peer>> &peers () const { return peers_; }
  /* A listener is told until it is removed (before it is destroyed). */
  void add_listener (RoomListener *listener);
  void remove_listener (RoomListener *listener);

  /* The element named @name in any room pipeline (a new reference), or
   * null. */
  GstElement *find_element (const std::string &name) const;

  /* An on-demand pipeline runs while at least one peer uses a hub of it. */
  bool use_on_demand (const std::string &hub, std::string &error);
  void release_on_demand (const std::string &hub);
  /* The webrtcfanoutsink serving @role's viewers (its rtp-hub and the
   * other rungs of its ladder, or in H.264 its h264-rtp-hub alone), started
   * on first use; null with @error. */
  Fanout *fanout (const RoomRoleSpec &role, bool h264, std::string &error);
  /* A peer stopped using @fanout: one on an on-demand program (H.264) goes
   * with its last user, as that program stops. */
  void release_fanout (Fanout *fanout);
  /* Viewers per rung of every role's quality ladder, heaviest first: each
   * rung of each ladder (0 when nobody is on it), counted over the fan-outs
   * that serve a ladder. */
  std::vector<std::pair<std::string, guint>> rendition_counts () const;
  /* The room-file pipeline named @name, or null (manual ones are started
   * and stopped through it). */
  ManagedPipeline *find_pipeline (const std::string &name) const;
  const std::vector<std::unique_ptr<ManagedPipeline>> &pipelines () const
  {
    return pipelines_;
  }

  /* A room pipeline failed: the tool ends with this exit code. */
  std::function<void (int exit_code)> on_fatal;
  /* A room pipeline's element message (e.g. mcucompositor-layout). */
  std::function<void (GstMessage *msg)> on_element_message;
  /* Every room pipeline reached EOS after send_eos(). */
  std::function<void ()> on_eos;
  /* Called by send_eos() first: whoever owns more pipelines (recordings)
   * finishes them and calls @done once they are. */
  std::function<void (std::function<void ()> done)> on_finish;

private:
  void pipeline_failed (ManagedPipeline &pipeline);
  void check_eos_done ();
  bool check_unique_hubs (std::string &error);
  bool check_hub (const RoomRoleSpec &role, const char *key,
      const std::string &name, bool dispatcher_only, std::string &error);
  void update_cross_routes (const RoomRoleSpec &role);

  RoomSpec spec_;
  std::string dot_dir_;
  GstClock *clock_ = nullptr;
  ManagedPipeline *pipeline_of (const std::string &element);
  std::vector<std::unique_ptr<ManagedPipeline>> pipelines_;
  bool others_finished_ = true; /* on_finish's pipelines */
  std::list<std::unique_ptr<Peer>> peers_;
  /* by "video-hub/audio-hub" (and "/ladder" for a ladder's); destroyed
   * after the peers that use them */
  std::map<std::string, std::unique_ptr<Fanout>> fanouts_;
  guint next_fanout_ = 1;
  guint fanout_sweep_ = 0; /* idle source: drop unused on-demand fan-outs */
  std::vector<RoomListener *> listeners_;
  guint next_peer_id_ = 1;
  guint64 file_limit_ = 1024;
  bool eos_sent_ = false;
  bool eos_starting_ = false; /* inside send_eos () */
};
