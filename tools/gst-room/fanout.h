/* gst-room: the room's viewers through webrtcfanoutsink.  One Fanout is one
 * small pipeline — hubports on the program's RTP hubs into a
 * webrtcfanoutsink — shared by every viewer who takes that program (VP8, or
 * the H.264 twin).  With a quality ladder, each lighter rendition's hub
 * feeds a video_N pad and the sink chooses each viewer's rung.  Viewers
 * offer, we answer; their events come back on the main thread. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "roomfile.h"

class Room;

class Fanout {
public:
  /* connected (reason: the SRTP profile), rendition (reason: the rung's
   * label), failed or left; main thread */
  using EventFunc =
      std::function<void (const std::string &event, const std::string &reason)>;
  /* the answer, or an empty answer and why; main thread */
  using AnswerFunc = std::function<void (
      guint viewer, const std::string &answer, const std::string &error)>;

  /* Video from @video's hubs, heaviest first (the first on the sink's
   * video pad, the others on video_1, video_2…, each pad labelled with its
   * rung's label when it has one), audio from @audio_hub; @video or
   * @audio_hub may be empty.  @audio_only_rung: the ladder ends with an
   * audio-only rung. */
  Fanout (Room &room, std::string name, std::vector<RoomRung> video,
      std::string audio_hub, bool audio_only_rung);
  ~Fanout ();
  Fanout (const Fanout &) = delete;
  Fanout &operator= (const Fanout &) = delete;

  bool start (std::string &error);
  /* To NULL (at Ctrl-C, before the room's pipelines go): every viewer is
   * let go. */
  void stop ();
  const std::string &name () const { return name_; }

  /* Answers @offer through @answered, from the main loop (soon, or once
   * the program's first packets reached the sink, within @wait_ms; never
   * from within this call).  Returns a ticket for cancel(). */
  guint add_viewer (const std::string &offer, guint wait_ms,
      AnswerFunc answered, EventFunc events);
  /* Forgets a ticket that has no answer yet. */
  void cancel (guint ticket);
  void add_candidate (guint viewer, const std::string &candidate);
  void remove_viewer (guint viewer);
  /* A debug knob (tests): drop @percent of what @viewer is sent. */
  bool set_loss (guint viewer, guint percent);
  /* A quality ladder: more than one rung. */
  bool has_ladder () const { return video_.size () > 1 || audio_only_rung_; }
  /* Pins @viewer to the rung labelled @label, or back to automatic with
   * "auto"; false for an unknown viewer or label. */
  bool set_rendition (guint viewer, const std::string &label);
  /* The rung @viewer gets now ("" until the sink said), and whether it is
   * pinned there. */
  std::string rendition (guint viewer) const;
  bool pinned (guint viewer) const;
  /* Viewers on each rung (by label) that the sink has told us of. */
  std::map<std::string, guint> rendition_counts () const;
  /* Viewers the sink has now. */
  guint viewers () const;
  /* Peers that use it: viewers, and offers waiting for the program. */
  size_t users () const { return viewers_.size () + pending_.size (); }
  GstElement *pipeline () const { return pipeline_; }

private:
  struct Pending {
    std::string offer;
    gint64 deadline;
    AnswerFunc answered;
    EventFunc events;
  };
  static gboolean on_bus_message (GstBus *bus, GstMessage *msg, gpointer data);
  static gboolean on_retry (gpointer data);
  /* true when answered (or refused for good), false to try again later */
  bool try_answer (Pending &pending);

  Room &room_;
  struct Viewer {
    EventFunc events;      /* its peer's */
    std::string rendition; /* the rung it gets, from the sink's events */
    bool pinned = false;   /* by set_rendition */
  };
  std::string name_, audio_hub_;
  std::vector<RoomRung> video_;
  bool audio_only_rung_ = false;
  GstElement *pipeline_ = nullptr;
  GstElement *sink_ = nullptr;
  guint bus_watch_ = 0;
  guint retry_timer_ = 0;
  guint next_ticket_ = 1;
  std::map<guint, Pending> pending_; /* tickets waiting for the program */
  std::map<guint, Viewer> viewers_;  /* by the sink's viewer id */
};
