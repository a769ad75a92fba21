/* gst-room: viewers through webrtcfanoutsink (see fanout.h). */
#include "fanout.h"

#include "room.h"

Fanout::Fanout (Room &room, std::string name, std::vector<RoomRung> video,
    std::string audio_hub, bool audio_only_rung)
    : room_ (room), name_ (std::move (name)),
      audio_hub_ (std::move (audio_hub)), video_ (std::move (video)),
      audio_only_rung_ (audio_only_rung)
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

  /* A ladder needs webrtcfanoutsink's rendition pads: say so by name
   * rather than failing to link. */
  if (has_ladder ()
      && !g_object_class_find_property (
          G_OBJECT_GET_CLASS (sink_), "audio-only-rung")) {
    error = "this webrtcfanoutsink has no quality ladder (no property "
            "audio-only-rung); a ladder= needs a newer roomwebrtc plugin";
    return false;
  }
  if (audio_only_rung_)
    g_object_set (sink_, "audio-only-rung", TRUE, nullptr);
  auto add_port = [&] (const std::string &hub, const char *port_pad,
                      const std::string &sink_pad, const std::string &label) {
    GstElement *port = gst_element_factory_make ("hubport", nullptr);
    if (!port) {
      error = "no element \"hubport\"";
      return false;
    }
    g_object_set (port, "hub", hub.c_str (), nullptr);
    gst_bin_add (GST_BIN (pipeline_), port);
    /* video and audio are always pads; video_N are requested */
    GstPad *pad = gst_element_get_static_pad (sink_, sink_pad.c_str ());
    if (!pad)
      pad = gst_element_request_pad_simple (sink_, sink_pad.c_str ());
    GstPad *src = gst_element_get_static_pad (port, port_pad);
    bool linked = pad && src && gst_pad_link (src, pad) == GST_PAD_LINK_OK;
    if (linked && !label.empty ())
      g_object_set (pad, "label", label.c_str (), nullptr);
    if (src)
      gst_object_unref (src);
    if (pad)
      gst_object_unref (pad);
    if (!linked)
      error = "cannot link the hub " + hub + " to webrtcfanoutsink's "
              + sink_pad + " pad";
    return linked;
  };
  for (size_t i = 0; i < video_.size (); i++) {
    std::string pad = i == 0 ? "video" : "video_" + std::to_string (i);
    if (!video_[i].hub.empty ()
        && !add_port (video_[i].hub, "src", pad, video_[i].label))
      return false;
  }
  if (!audio_hub_.empty () && !add_port (audio_hub_, "audio_src", "audio", ""))
    return false;
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
    viewers_[id] = Viewer{pending.events, "", false};
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
Fanout::set_rendition (guint viewer, const std::string &label)
{
  auto it = viewers_.find (viewer);
  if (it == viewers_.end ())
    return false;
  bool automatic = label == "auto";
  gboolean ok = FALSE;
  g_signal_emit_by_name (sink_, "set-viewer-rendition", viewer,
      automatic ? nullptr : label.c_str (), &ok);
  if (ok)
    it->second.pinned = !automatic;
  return ok;
}

std::string
Fanout::rendition (guint viewer) const
{
  auto it = viewers_.find (viewer);
  return it != viewers_.end () ? it->second.rendition : "";
}

bool
Fanout::pinned (guint viewer) const
{
  auto it = viewers_.find (viewer);
  return it != viewers_.end () && it->second.pinned;
}

std::map<std::string, guint>
Fanout::rendition_counts () const
{
  std::map<std::string, guint> counts;
  for (const auto &entry : viewers_)
    if (!entry.second.rendition.empty ())
      counts[entry.second.rendition]++;
  return counts;
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
      EventFunc events = it->second.events;
      if (event == "rendition")
        it->second.rendition = reason ? reason : "";
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
