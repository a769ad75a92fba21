/* gst-room: viewers through webrtcfanoutsink (see fanout.h). */
#include "fanout.h"

#include "room.h"

Fanout::Fanout (
    Room &room, std::string name, std::string video_hub, std::string audio_hub)
    : room_ (room), name_ (std::move (name)),
      video_hub_ (std::move (video_hub)), audio_hub_ (std::move (audio_hub))
{}

Fanout::~Fanout ()
{
  if (retry_timer_)
    g_source_remove (retry_timer_);
  if (bus_watch_)
    g_source_remove (bus_watch_);
  if (pipeline_) {
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    gst_object_unref (pipeline_);
  }
  if (sink_)
    gst_object_unref (sink_);
}

bool
Fanout::start (std::string &error)
{
  pipeline_ = gst_pipeline_new (name_.c_str ());
  gst_pipeline_use_clock (GST_PIPELINE (pipeline_), room_.clock ());
  sink_ = gst_element_factory_make ("webrtcfanoutsink", "fanout");
  if (!sink_) {
    error = std::string ("no element \"webrtcfanoutsink\" (")
            + room_plugin_of ("webrtcfanoutsink") + ")";
    return false;
  }
  gst_object_ref_sink (sink_);
  gst_bin_add (GST_BIN (pipeline_), GST_ELEMENT (gst_object_ref (sink_)));
  const RoomSpec &spec = room_.spec ();
  /* viewers' ICE on the address the room listens on, when it is one */
  if (g_hostname_is_ip_address (spec.host.c_str ()) && spec.host != "0.0.0.0"
      && spec.host != "::")
    g_object_set (sink_, "address", spec.host.c_str (), nullptr);
  for (const std::string &uri : spec.ice_servers)
    if (g_str_has_prefix (uri.c_str (), "stun:"))
      g_object_set (sink_, "stun-server",
          uri.c_str () + (g_str_has_prefix (uri.c_str (), "stun://") ? 7 : 5),
          nullptr);

  struct Input {
    const std::string &hub;
    const char *port_pad;
    const char *sink_pad;
  } inputs[] = {
      {video_hub_, "src", "video"}, {audio_hub_, "audio_src", "audio"}};
  for (const Input &in : inputs) {
    if (in.hub.empty ())
      continue;
    GstElement *port = gst_element_factory_make ("hubport", nullptr);
    if (!port) {
      error = "no element \"hubport\"";
      return false;
    }
    g_object_set (port, "hub", in.hub.c_str (), nullptr);
    gst_bin_add (GST_BIN (pipeline_), port);
    if (!gst_element_link_pads (port, in.port_pad, sink_, in.sink_pad)) {
      error = "cannot link the hub " + in.hub + " to webrtcfanoutsink";
      return false;
    }
  }
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
  bus_watch_ = gst_bus_add_watch (bus, on_bus_message, this);
  gst_object_unref (bus);
  if (gst_element_set_state (pipeline_, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    error = "the viewers' fan-out did not start";
    return false;
  }
  room_.dump_dot (pipeline_, name_ + "-started");
  return true;
}

void
Fanout::stop ()
{
  /* the sink's last events (every viewer left) reach nobody */
  viewers_.clear ();
  pending_.clear ();
  if (pipeline_)
    gst_element_set_state (pipeline_, GST_STATE_NULL);
}

guint
Fanout::add_viewer (const std::string &offer, guint wait_ms,
    AnswerFunc answered, EventFunc events)
{
  /* Answered from the main loop, never from within this call: the answer
   * (or a refusal, which lets the peer go) must not reach a peer that is
   * still inside its own set_offer(). */
  guint ticket = next_ticket_++;
  pending_.emplace (
      ticket, Pending{offer, g_get_monotonic_time () + (gint64)wait_ms * 1000,
                  std::move (answered), std::move (events)});
  if (retry_timer_)
    g_source_remove (retry_timer_);
  retry_timer_ = g_idle_add (on_retry, this);
  return ticket;
}

bool
Fanout::try_answer (Pending &pending)
{
  GstStructure *reply = nullptr;
  g_signal_emit_by_name (sink_, "add-viewer", pending.offer.c_str (), &reply);
  if (!reply) {
    pending.answered (0, "", "the fan-out gave no answer");
    return true;
  }
  if (gst_structure_has_name (reply, "webrtcfanoutsink-answer")) {
    guint id = 0;
    gst_structure_get_uint (reply, "id", &id);
    std::string answer = gst_structure_get_string (reply, "answer");
    gst_structure_free (reply);
    viewers_[id] = pending.events;
    pending.answered (id, answer, "");
    return true;
  }
  const gchar *reason = gst_structure_get_string (reply, "reason");
  std::string why = reason ? reason : "refused";
  gst_structure_free (reply);
  /* the program's first packets are on their way (a room that just
   * started, an on-demand H.264 program): wait for them a little */
  if (why == "the program has not started yet"
      && g_get_monotonic_time () < pending.deadline)
    return false;
  pending.answered (0, "", why);
  return true;
}

gboolean
Fanout::on_retry (gpointer data)
{
  auto *self = static_cast<Fanout *> (data);
  self->retry_timer_ = 0;
  /* by ticket: answering one may cancel others (its peer goes) */
  std::vector<guint> tickets;
  for (const auto &entry : self->pending_)
    tickets.push_back (entry.first);
  for (guint ticket : tickets) {
    auto it = self->pending_.find (ticket);
    if (it == self->pending_.end ())
      continue;
    Pending pending = std::move (it->second);
    self->pending_.erase (it);
    if (!self->try_answer (pending))
      self->pending_.emplace (ticket, std::move (pending));
  }
  /* the program's first packets are on their way: try again shortly */
  if (!self->pending_.empty ())
    self->retry_timer_ = g_timeout_add (100, on_retry, self);
  return G_SOURCE_REMOVE;
}

void
Fanout::cancel (guint ticket)
{
  pending_.erase (ticket);
}

void
Fanout::add_candidate (guint viewer, const std::string &candidate)
{
  gboolean ok = FALSE;
  g_signal_emit_by_name (
      sink_, "add-ice-candidate", viewer, candidate.c_str (), &ok);
}

void
Fanout::remove_viewer (guint viewer)
{
  viewers_.erase (viewer);
  gboolean ok = FALSE;
  g_signal_emit_by_name (sink_, "remove-viewer", viewer, &ok);
}

bool
Fanout::set_loss (guint viewer, guint percent)
{
  gboolean ok = FALSE;
  g_signal_emit_by_name (sink_, "set-viewer-loss", viewer, percent, &ok);
  return ok;
}

guint
Fanout::viewers () const
{
  guint count = 0;
  g_object_get (sink_, "viewers", &count, nullptr);
  return count;
}

gboolean
Fanout::on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto *self = static_cast<Fanout *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      room_report_error (msg);
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      if (!gst_structure_has_name (s, "webrtcfanoutsink-viewer"))
        break;
      guint id = 0;
      gst_structure_get_uint (s, "id", &id);
      std::string event = gst_structure_get_string (s, "event");
      const gchar *reason = gst_structure_get_string (s, "reason");
      auto it = self->viewers_.find (id);
      if (it == self->viewers_.end ())
        break;
      EventFunc events = it->second;
      if (event == "failed" || event == "left")
        self->viewers_.erase (it);
      if (event != "joined")
        events (event, reason ? reason : "");
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}
