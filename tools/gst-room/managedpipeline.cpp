/* gst-room: one pipeline's lifecycle (start, finish with EOS, restart). */
#include "managedpipeline.h"

#include "room.h"

GST_DEBUG_CATEGORY_STATIC (managed_debug);
#define GST_CAT_DEFAULT managed_debug

namespace {

const guint BACKOFF_FIRST_MS = 1000;
const guint BACKOFF_MAX_MS = 30000;
/* A pipeline that ran this long since its last start earns a fresh
 * back-off. */
const gint64 BACKOFF_RESET_US = 60 * G_USEC_PER_SEC;

} // namespace

ManagedPipeline::ManagedPipeline (std::string name, GstElement *pipeline,
    GstClock *clock, PipelineStart start, PipelineRestart restart)
    : name_ (std::move (name)), pipeline_ (pipeline), start_ (start),
      restart_ (restart)
{
  GST_DEBUG_CATEGORY_INIT (
      managed_debug, "gstroom-pipeline", 0, "gst-room pipeline lifecycle");
  gst_object_ref_sink (pipeline_);
  if (clock)
    gst_pipeline_use_clock (GST_PIPELINE (pipeline_), clock);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
  bus_watch_ = gst_bus_add_watch (bus, on_bus_message, this);
  gst_object_unref (bus);
}

ManagedPipeline::~ManagedPipeline ()
{
  for (guint *timer : {&restart_timer_, &finish_timer_, &bus_watch_})
    if (*timer)
      g_source_remove (*timer);
  gst_element_set_state (pipeline_, GST_STATE_NULL);
  gst_object_unref (pipeline_);
}

const char *
ManagedPipeline::state_name (State state)
{
  switch (state) {
    case State::STOPPED:
      return "stopped";
    case State::RUNNING:
      return "running";
    case State::FINISHING:
      return "finishing";
    case State::RESTARTING:
      return "restarting";
    case State::FAILED:
      return "failed";
  }
  return "?";
}

bool
ManagedPipeline::start (std::string &error)
{
  if (state_ == State::RUNNING || state_ == State::FINISHING)
    return true;
  if (restart_timer_) {
    g_source_remove (restart_timer_);
    restart_timer_ = 0;
  }
  finished_ = false;
  GST_INFO ("starting pipeline '%s'", name_.c_str ());
  if (gst_element_set_state (pipeline_, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    error = "pipeline '" + name_ + "' did not start"
            + (last_error_.empty () ? "" : ": " + last_error_);
    state_ = State::FAILED;
    return false;
  }
  state_ = State::RUNNING;
  started_at_ = g_get_monotonic_time ();
  if (on_dump)
    on_dump ("started");
  return true;
}

bool
ManagedPipeline::default_finish ()
{
  /* A pipeline without sources (a hub fed only by hubports) has nothing to
   * finish. */
  GstIterator *sources = gst_bin_iterate_sources (GST_BIN (pipeline_));
  GValue item = G_VALUE_INIT;
  bool has_source = gst_iterator_next (sources, &item) == GST_ITERATOR_OK;
  g_value_unset (&item);
  gst_iterator_free (sources);
  return has_source && gst_element_send_event (pipeline_, gst_event_new_eos ());
}

void
ManagedPipeline::finish (std::function<void ()> done, guint timeout_ms)
{
  if (restart_timer_) {
    g_source_remove (restart_timer_);
    restart_timer_ = 0;
  }
  if (state_ == State::FINISHING) {
    /* Already on its way: the newest caller is told. */
    done_ = std::move (done);
    return;
  }
  if (state_ != State::RUNNING) {
    state_ = State::STOPPED;
    finished_ = true;
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    if (done)
      done ();
    return;
  }
  done_ = std::move (done);
  state_ = State::FINISHING;
  bool sent = finish_hook ? finish_hook (pipeline_) : default_finish ();
  if (!sent) {
    finished_now ();
    return;
  }
  finish_timer_ = g_timeout_add (timeout_ms, on_finish_timeout, this);
}

gboolean
ManagedPipeline::on_finish_timeout (gpointer data)
{
  auto *self = static_cast<ManagedPipeline *> (data);
  self->finish_timer_ = 0;
  g_printerr ("gst-room: pipeline '%s': EOS did not come out in time, "
              "stopping it anyway\n",
      self->name_.c_str ());
  self->finished_now ();
  return G_SOURCE_REMOVE;
}

void
ManagedPipeline::finished_now ()
{
  if (finish_timer_) {
    g_source_remove (finish_timer_);
    finish_timer_ = 0;
  }
  finished_ = true;
  if (on_dump)
    on_dump ("finished");
  gst_element_set_state (pipeline_, GST_STATE_NULL);
  if (state_ != State::FAILED)
    state_ = State::STOPPED;
  /* The callback may destroy this object: nothing after it. */
  std::function<void ()> done = std::move (done_);
  done_ = nullptr;
  if (done)
    done ();
}

void
ManagedPipeline::stop ()
{
  for (guint *timer : {&restart_timer_, &finish_timer_})
    if (*timer) {
      g_source_remove (*timer);
      *timer = 0;
    }
  gst_element_set_state (pipeline_, GST_STATE_NULL);
  state_ = State::STOPPED;
}

bool
ManagedPipeline::use (std::string &error)
{
  if (users_++ > 0)
    return true;
  if (!start (error)) {
    users_--;
    return false;
  }
  return true;
}

void
ManagedPipeline::release ()
{
  if (users_ == 0 || --users_ > 0)
    return;
  GST_INFO (
      "stopping on-demand pipeline '%s': nobody needs it", name_.c_str ());
  if (on_dump)
    on_dump ("stopped");
  stop ();
}

void
ManagedPipeline::handle_error (GstMessage *msg)
{
  last_error_ = room_report_error (msg);
  gst_element_set_state (pipeline_, GST_STATE_NULL);
  if (state_ == State::FINISHING) {
    state_ = State::FAILED;
    finished_now ();
    if (on_error)
      on_error (last_error_);
    return;
  }
  bool wanted = start_ != PipelineStart::ON_DEMAND || users_ > 0;
  if (restart_ == PipelineRestart::ON_ERROR && wanted) {
    if (g_get_monotonic_time () - started_at_ > BACKOFF_RESET_US)
      backoff_ms_ = BACKOFF_FIRST_MS;
    g_printerr ("gst-room: pipeline '%s' failed; restarting in %u s\n",
        name_.c_str (), backoff_ms_ / 1000);
    schedule_restart ();
  } else {
    g_printerr ("gst-room: pipeline '%s' stopped\n", name_.c_str ());
    state_ = State::FAILED;
  }
  if (on_error)
    on_error (last_error_);
}

void
ManagedPipeline::schedule_restart ()
{
  state_ = State::RESTARTING;
  if (restart_timer_)
    g_source_remove (restart_timer_);
  restart_at_ = g_get_monotonic_time () + backoff_ms_ * (gint64)1000;
  restart_timer_ = g_timeout_add (backoff_ms_, on_restart, this);
  backoff_ms_ = std::min (backoff_ms_ * 2, BACKOFF_MAX_MS);
}

bool
ManagedPipeline::start_or_retry (std::string &error)
{
  if (start (error))
    return true;
  if (restart_ == PipelineRestart::ON_ERROR) {
    g_printerr (
        "gst-room: %s; next try in %u s\n", error.c_str (), backoff_ms_ / 1000);
    schedule_restart ();
  }
  return false;
}

gboolean
ManagedPipeline::on_restart (gpointer data)
{
  auto *self = static_cast<ManagedPipeline *> (data);
  self->restart_timer_ = 0;
  self->restarts_++;
  std::string error;
  self->state_ = State::STOPPED;
  if (!self->start (error)) {
    /* Another try after a longer wait. */
    g_printerr ("gst-room: %s; next try in %u s\n", error.c_str (),
        self->backoff_ms_ / 1000);
    self->schedule_restart ();
  } else {
    g_print ("gst-room: pipeline '%s' restarted\n", self->name_.c_str ());
  }
  return G_SOURCE_REMOVE;
}

gboolean
ManagedPipeline::on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto *self = static_cast<ManagedPipeline *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      if (self->state_ == State::RUNNING || self->state_ == State::FINISHING)
        self->handle_error (msg);
      break;
    case GST_MESSAGE_WARNING: {
      GError *err = nullptr;
      gst_message_parse_warning (msg, &err, nullptr);
      gchar *path = gst_object_get_path_string (GST_MESSAGE_SRC (msg));
      g_printerr ("WARNING: from element %s: %s\n", path, err->message);
      g_free (path);
      g_error_free (err);
      break;
    }
    case GST_MESSAGE_ELEMENT:
      if (!gst_message_has_name (msg, FINISHED_MESSAGE)) {
        if (self->on_element_message)
          self->on_element_message (msg);
        break;
      }
      /* the same as EOS */
      [[fallthrough]];
    case GST_MESSAGE_EOS:
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS
          && GST_MESSAGE_SRC (msg) != GST_OBJECT (self->pipeline_))
        break;
      if (self->finished_ && self->state_ != State::FINISHING)
        break;
      if (self->state_ == State::FINISHING) {
        if (self->on_eos)
          self->on_eos ();
        self->finished_now ();
      } else {
        self->finished_ = true;
        if (self->on_eos)
          self->on_eos ();
      }
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}
