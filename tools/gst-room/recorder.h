/* gst-room: recordings — the program (the encoded program the viewers get,
 * depayloaded and muxed: no encoder) and each participant (the RTP packets
 * its browser sends, through the recordings' hub, depayloaded: never
 * decoded).  Each recording is a ManagedPipeline: started by the room
 * file's [recording] record= rule, by the console or the API; finished with
 * EOS on stop and Ctrl-C; an error (full disk) stops that recording alone.
 * See docs/recording.md. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <list>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "managedpipeline.h"
#include "room.h"
#include "roomfile.h"

/* How every recording ends, the room's and the Kurento API's: a crash-safe
 * muxer for @format ("webm" or "mp4"), named "mux", and a file sink named
 * "file" after it (its location to be set). */
std::string recording_tail (const std::string &format);
/* For the muxer named "mux" in @bin (built from recording_tail): WebM
 * video goes in without buffer durations.  Frames from RTP or a live
 * camera have durations but no frame rate in their caps, and Matroska then
 * writes each one as a BlockGroup with its duration, which carries no
 * keyframe mark: players take every frame for a keyframe, and a seek lands
 * between keyframes.  Without a duration each frame is a SimpleBlock,
 * marked. */
void recording_mark_keyframes (GstElement *bin);

class Recorder : public RoomListener {
public:
  explicit Recorder (Room &room);
  ~Recorder ();
  Recorder (const Recorder &) = delete;
  Recorder &operator= (const Recorder &) = delete;

  /* Builds the recordings' hub; checks the program's dispatcher. */
  bool build (std::string &error);

  void room_started () override;
  void peer_joined (Peer &peer) override;
  void peer_answered (Peer &peer) override;
  void peer_left (guint id) override;

  /* Starts recording @source ("program", or "peer" with @peer's id) into
   * @folder (empty: the first allowed one) as @format (empty: the room
   * file's).  Returns the recording's id, or 0 with @error. */
  guint start (const std::string &source, guint peer, const std::string &folder,
      const std::string &format, std::string &error);
  /* Stops (finishes) recording @id. */
  bool stop (guint id, std::string &error);
  /* Finishes every running recording (Ctrl-C); @done once all are. */
  void finish_all (std::function<void ()> done);

  /* A recording made elsewhere (the Kurento API's RecorderEndpoint, into
   * [kurento] recorder-folders, on the same crash-safe muxing): listed with
   * the room's on the console, stopped only where it was started.  Returns
   * its id. */
  guint track_external (const std::string &label, const std::string &path,
      const std::string &format);
  /* It ended: finished, or failed with @error. */
  void external_ended (guint id, const std::string &error);

  /* Every pipeline to NULL (at exit, before the peers go). */
  void stop_pipelines ();

  /* Every recording, running and finished, as the console lists them. */
  nlohmann::json list () const;

  /* For the console (control roles): the list whenever it changes, and
   * a recording's failure. */
  std::function<void (const nlohmann::json &)> to_control;

private:
  struct Recording;

  Recording *find (guint id) const;
  /* The running recording of @key (a participant's name or peer id). */
  Recording *running_for (const std::string &key) const;
  std::string participant_key (const Peer &peer) const;
  bool folder_allowed (const std::string &folder, std::string &resolved,
      std::string &error) const;
  std::string file_name (const std::string &folder, const std::string &source,
      const std::string &format) const;
  std::string describe_pipeline (const Recording &rec,
      const std::string &format, bool audio, bool video) const;
  void update_routes ();
  void failed (Recording &rec, const std::string &why);
  void notify ();
  static gboolean on_tick (gpointer data);

  Room &room_;
  const RoomRecordingSpec &spec_;
  std::unique_ptr<ManagedPipeline> hub_; /* the recordings' hub */
  GstElement *hub_element_ = nullptr;
  std::list<std::unique_ptr<Recording>> recordings_;
  guint next_id_ = 1;
  guint tick_ = 0;
  int finishing_ = 0; /* finish_all(): recordings not finished yet */
  std::function<void ()> all_done_;
};
