/* gst-room: the room's viewers through webrtcfanoutsink.  One Fanout is one
 * small pipeline — hubports on the program's RTP hubs into a
 * webrtcfanoutsink — shared by every viewer who takes that program (VP8, or
 * the H.264 twin).  Viewers offer, we answer; their events come back on the
 * main thread. */
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
  /* connected (reason: the SRTP profile), failed or left; main thread */
  using EventFunc =
      std::function<void (const std::string &event, const std::string &reason)>;
  /* the answer, or an empty answer and why; main thread */
  using AnswerFunc = std::function<void (
      guint viewer, const std::string &answer, const std::string &error)>;

  /* Video from @video_hub, audio from @audio_hub (either may be empty). */
  Fanout (Room &room, std::string name, std::string video_hub,
      std::string audio_hub);
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
  std::string name_, video_hub_, audio_hub_;
  GstElement *pipeline_ = nullptr;
  GstElement *sink_ = nullptr;
  guint bus_watch_ = 0;
  guint retry_timer_ = 0;
  guint next_ticket_ = 1;
  std::map<guint, Pending> pending_;   /* tickets waiting for the program */
  std::map<guint, EventFunc> viewers_; /* viewer id → its peer's events */
};
