/* gst-room: the live show a room file's [show] group describes — what the
 * program shows (the stage, one presenter's camera, or an injected video),
 * the stage's tile count, video injection, emotes and the room's health.  The
 * media all flows through the room's pipelines; the show only sets their
 * properties and starts the player.  See docs/rooms/live-show.ini. */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "room.h"
#include "roomfile.h"
#include "videolibrary.h"

/* The show follows the room's peers as a RoomListener; the room knows
 * nothing of it. */
class Show : public RoomListener {
public:
  /* Listens to @room until destroyed (before the room stops). */
  explicit Show (Room &room);
  ~Show ();
  Show (const Show &) = delete;
  Show &operator= (const Show &) = delete;

  /* Checks that the [show] elements exist and are what they must be. */
  bool build (std::string &error);

  /* RoomListener: the room's pipelines run (the once-a-second health
   * report starts); peers came or went (the camera may need another
   * presenter, the tiles their labels). */
  void room_started () override;
  void peer_joined (Peer &peer) override;
  void peer_left (guint id) override;

  /* Control commands; false with @error when refused (nothing changes). */
  bool switch_program (const std::string &source, std::string &error);
  bool set_max_tiles (guint tiles, std::string &error);
  /* The stage's layout: "grid", or "speaker" following the loudest
   * presenter (the stage's auto-speaker). */
  bool set_layout (const std::string &layout, std::string &error);
  bool choose_camera (guint peer, std::string &error);
  bool inject (const std::string &uri, std::string &error);
  bool stop_injection (std::string &error);
  /* The videos of the allowed folders with their durations, sent to the
   * console as a "videos" message when found (in the background). */
  void list_videos ();
  /* An emote from @from ("clap", "heart" or "confetti"); rate-limited.
   * Refused: false, with @code "bad-request" or "rate-limited". */
  bool emote (const Peer &from, const std::string &kind, std::string &code,
      std::string &error);

  /* Whether a peer of @role has its name drawn on its tile (a presenter). */
  bool labels_role (const RoomRoleSpec &role) const;

  const std::map<std::string, guint> &emote_counts () const
  {
    return emote_counts_;
  }

  /* The whole state, as the console shows it. */
  nlohmann::json state () const;

  /* For the console (control roles): state changes and injection errors. */
  std::function<void (const nlohmann::json &)> to_control;
  /* For everyone who sees emotes (show-emotes and control roles). */
  std::function<void (const nlohmann::json &)> to_emote_watchers;

private:
  static gboolean on_player_bus (GstBus *bus, GstMessage *msg, gpointer data);
  static void on_player_pad (GstElement *src, GstPad *pad, gpointer data);
  static void on_player_source (
      GstElement *uridecodebin, GstElement *source, gpointer data);
  static void on_player_element (
      GstBin *player, GstBin *bin, GstElement *element, gpointer data);
  static GstPadProbeReturn count_bytes (
      GstPad *pad, GstPadProbeInfo *info, gpointer data);

  void notify ();
  /* Each presenter's audio level on the stage and who is speaking, for the
   * console's meters. */
  nlohmann::json levels () const;
  void peers_changed ();
  void set_program_port (int port);
  /* Stops the player; the program goes back to the stage, or to where it
   * was if the video never showed a frame (unless @to_stage). */
  void end_injection (const std::string &error, bool to_stage = false);
  void apply_camera ();
  bool uri_allowed (const std::string &uri, std::string &error) const;
  GstCaps *program_video_caps () const;
  guint current_camera () const;

  Room &room_;
  const RoomShowSpec &spec_;
  GstElement *program_ = nullptr; /* the raw program dispatcher */
  GstElement *stage_ = nullptr;
  GstElement *camera_ = nullptr;
  std::string source_ = "stage"; /* stage | camera | video */
  std::string before_video_;     /* where to go back on a failed start */
  guint camera_peer_ = 0;        /* 0: the first presenter */
  GstElement *player_ = nullptr; /* the injected video's pipeline */
  GstElement *player_port_ = nullptr;
  std::string player_uri_;
  guint player_watch_ = 0;
  guint health_timer_ = 0;
  guint levels_timer_ = 0;
  std::map<std::string, guint> emote_counts_;
  struct EmoteBucket {
    gint64 window_start = 0;
    guint count = 0;
  };
  std::map<guint, EmoteBucket> emote_buckets_; /* per peer id */
  /* Health: bytes through the encoded program since the last report
   * (streaming threads add, the main thread takes). */
  std::atomic<guint64> program_bytes_{0};
  /* The injected video's first frame reached the program (its streaming
   * thread sets it, the main thread reads it). */
  std::atomic<bool> player_frame_{false};
  gint64 last_health_ = 0;
  double last_cpu_seconds_ = 0;
  nlohmann::json health_;
  std::vector<std::pair<GstPad *, gulong>> probes_;
  std::unique_ptr<VideoLibrary> videos_; /* with file: injection only */
};
