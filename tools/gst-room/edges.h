/* gst-room: edges — push targets for the program ([edge NAME] in the room
 * file): rtmp:// (FLV, H.264 + AAC) to nginx-rtmp or any RTMP ingest, and
 * srt:// (MPEG-TS, caller).  The H.264 is the room's own H.264 program (the
 * one encoder of H.264 viewers and MP4 recordings); only the audio is
 * re-encoded (Opus to AAC).  Each edge is a ManagedPipeline started with the
 * room and restarted on error with back-off (1 s doubling to 30 s), so an
 * edge that is down, or goes down, disturbs nothing else and comes back by
 * itself.  See docs/scale-out.md. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "managedpipeline.h"
#include "room.h"
#include "roomfile.h"

class Edges : public RoomListener {
public:
  explicit Edges (Room &room);
  ~Edges ();
  Edges (const Edges &) = delete;
  Edges &operator= (const Edges &) = delete;

  /* Parses every edge's pipeline and checks the program's hubs. */
  bool build (std::string &error);

  void room_started () override;
  void peer_joined (Peer &) override {}
  void peer_left (guint) override {}

  /* Every pipeline to NULL (at exit). */
  void stop_pipelines ();

  /* Every edge's state, as the console shows it: {"type": "edges",
   * "edges": [{name, url, state (connecting | live | retrying | stopped),
   * retryIn (s), error, bytes, restarts}]}. */
  nlohmann::json list () const;

  /* For the console (control roles): the list every second and on every
   * change. */
  std::function<void (const nlohmann::json &)> to_control;

private:
  struct Edge;

  std::string describe_pipeline (const RoomEdgeSpec &spec) const;
  static gboolean on_tick (gpointer data);
  void notify ();

  Room &room_;
  std::vector<std::unique_ptr<Edge>> edges_;
  guint tick_ = 0;
};
