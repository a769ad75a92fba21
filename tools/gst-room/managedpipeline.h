/* gst-room: the lifecycle of one pipeline of the room — started always, on
 * demand (while someone uses it) or by hand (operator, API); finished with
 * EOS so muxers write their indexes; restarted on error with back-off (1 s
 * doubling to 30 s).  Room-file pipelines and recordings are all built on
 * it, so there is one place that starts, finishes and restarts pipelines. */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <string>

#include "roomfile.h" /* PipelineStart, PipelineRestart */

class ManagedPipeline {
public:
  enum class State { STOPPED, RUNNING, FINISHING, RESTARTING, FAILED };

  /* Takes @pipeline (floating or owned reference); it runs on @clock. */
  ManagedPipeline (std::string name, GstElement *pipeline, GstClock *clock,
      PipelineStart start, PipelineRestart restart);
  ~ManagedPipeline ();
  ManagedPipeline (const ManagedPipeline &) = delete;
  ManagedPipeline &operator= (const ManagedPipeline &) = delete;

  /* To PLAYING.  False with @error when it does not start. */
  bool start (std::string &error);
  /* The same, but one that does not start and restarts on error is tried
   * again after the back-off, as if it had failed running (a push target
   * that is down when the room starts). */
  bool start_or_retry (std::string &error);
  /* Finishes cleanly: EOS in (through finish_hook, or into its sources),
   * then NULL once EOS came out or after @timeout_ms.  @done runs once
   * it is stopped (at once when it is not running). */
  void finish (std::function<void ()> done, guint timeout_ms = 5000);
  /* To NULL at once (no EOS). */
  void stop ();

  /* On-demand pipelines: started by the first user, stopped after the last.
   * False with @error when it would not start. */
  bool use (std::string &error);
  void release ();
  int users () const { return users_; }

  const std::string &name () const { return name_; }
  GstElement *pipeline () const { return pipeline_; }
  PipelineStart start_policy () const { return start_; }
  PipelineRestart restart_policy () const { return restart_; }
  State state () const { return state_; }
  static const char *state_name (State state);
  /* EOS came out (after finish()) or there was nothing to finish. */
  bool finished () const { return finished_; }
  /* While RESTARTING: when the next try is (monotonic µs), else 0. */
  gint64 restart_at () const { return restart_timer_ ? restart_at_ : 0; }
  /* Starts that came after an error. */
  guint restarts () const { return restarts_; }
  /* The last error's message, empty when none. */
  const std::string &last_error () const { return last_error_; }

  /* Puts EOS into the pipeline; false when there is nothing to finish.
   * Default: EOS into its sources, if it has any. */
  std::function<bool (GstElement *pipeline)> finish_hook;
  /* An element message of this name counts as the EOS coming out (a
   * pipeline whose hubports, being sinks, never post EOS: a recording's
   * file sink says it got EOS). */
  static constexpr const char *FINISHED_MESSAGE = "gst-room-finished";

  /* An error stopped it (a restart may follow: state() says). */
  std::function<void (const std::string &message)> on_error;
  /* EOS came out after finish(), or the pipeline ended by itself. */
  std::function<void ()> on_eos;
  /* Element messages of the pipeline. */
  std::function<void (GstMessage *msg)> on_element_message;
  /* Graph dumps (Room::dump_dot): called with an event name. */
  std::function<void (const std::string &event)> on_dump;

private:
  static gboolean on_bus_message (GstBus *bus, GstMessage *msg, gpointer data);
  static gboolean on_restart (gpointer data);
  static gboolean on_finish_timeout (gpointer data);
  void handle_error (GstMessage *msg);
  void schedule_restart ();
  void finished_now ();
  bool default_finish ();

  std::string name_;
  GstElement *pipeline_ = nullptr;
  PipelineStart start_;
  PipelineRestart restart_;
  State state_ = State::STOPPED;
  guint bus_watch_ = 0;
  guint restart_timer_ = 0;
  guint finish_timer_ = 0;
  guint backoff_ms_ = 1000;
  gint64 restart_at_ = 0;
  guint restarts_ = 0;
  gint64 started_at_ = 0; /* monotonic, for resetting the back-off */
  int users_ = 0;
  bool finished_ = false;
  std::string last_error_;
  std::function<void ()> done_;
};
