/* gst-room: a room is the pipelines of its room file plus one pipeline per
 * connected browser. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "peer.h"
#include "roomfile.h"

/* "plugin X from Debian package Y" for an element the room tool relies on. */
std::string room_plugin_of (const char *element);

/* Prints an error message as gst-launch-1.0 does ("ERROR: from element
 * PATH: MESSAGE" and its debug info) and returns MESSAGE. */
std::string room_report_error (GstMessage *msg);

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

  const RoomSpec &spec () const { return spec_; }
  GstClock *clock () const { return clock_; }
  void dump_dot (GstElement *pipeline, const std::string &name) const;

  /* The peer, or null with @error when the role is full or it fails. */
  Peer *add_peer (const RoomRoleSpec &role, Peer::SendFunc send,
      Peer::FailFunc fail, std::string &error);
  void remove_peer (Peer *peer);
  int count_peers (const std::string &role) const;

  /* A room pipeline failed: the tool ends with this exit code. */
  std::function<void (int exit_code)> on_fatal;
  /* Every room pipeline reached EOS after send_eos(). */
  std::function<void ()> on_eos;

private:
  static gboolean on_bus_message (GstBus *bus, GstMessage *msg, gpointer data);
  GstElement *find_hub (const std::string &name) const;
  void update_cross_routes (const RoomRoleSpec &role);

  RoomSpec spec_;
  std::string dot_dir_;
  GstClock *clock_ = nullptr;
  struct RoomPipeline {
    std::string name;
    GstElement *pipeline = nullptr;
    guint bus_watch = 0;
    bool eos = false;
  };
  std::vector<RoomPipeline> pipelines_;
  std::list<std::unique_ptr<Peer>> peers_;
  guint next_peer_id_ = 1;
  bool eos_sent_ = false;
};
