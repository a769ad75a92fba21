/* gst-room, Kurento control API: PlayerEndpoint. */
#include "player.h"

#include <atomic>

#include "../security.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

struct PlayerEndpoint::Shared {
  std::weak_ptr<PlayerEndpoint> self;
  GstElement *pipeline = nullptr;    /* ref */
  GstElement *outputs[N_KINDS] = {}; /* refs */
  std::atomic<int> streams{0};       /* decoded streams not ended yet */
  /* The running time the media starts at: set by the first stream. */
  std::atomic<gint64> offset{-1};
  ~Shared ()
  {
    for (GstElement *o : outputs)
      gst_object_unref (o);
    gst_object_unref (pipeline);
  }
};

bool
PlayerEndpoint::uri_allowed (
    const RoomSpec &spec, const std::string &uri, std::string &why)
{
  const char *scheme = g_uri_peek_scheme (uri.c_str ());
  std::string s = scheme ? scheme : "";
  bool scheme_ok = false;
  for (const std::string &allowed : spec.kurento.player_schemes)
    scheme_ok = scheme_ok || allowed == s;
  if (!scheme_ok) {
    why = "scheme '" + s + "' is not in player-schemes";
    return false;
  }
  if (s != "file")
    return true;
  gchar *path = g_filename_from_uri (uri.c_str (), nullptr, nullptr);
  std::string real = path ? security_real_path (path) : "";
  g_free (path);
  if (real.empty ()) {
    why = "no such file";
    return false;
  }
  for (const std::string &folder : spec.kurento.player_folders) {
    std::string dir = security_real_path (folder);
    if (!dir.empty () && real.rfind (dir + "/", 0) == 0)
      return true;
  }
  why = "not inside the player-folders of the room file";
  return false;
}

std::shared_ptr<MediaObject>
PlayerEndpoint::create (Session &session,
    std::shared_ptr<MediaPipeline> pipeline, const json &ctor, Error &error)
{
  json uri = ctor.value ("uri", json ());
  if (!uri.is_string ()) {
    error = {ILLEGAL_PARAM, "'uri' must be a string"};
    return nullptr;
  }
  std::string why;
  if (!uri_allowed (session.spec (), uri.get<std::string> (), why)) {
    error = {why == "no such file" ? URI_PATH_FILE_NOT_FOUND : ILLEGAL_PARAM,
        "Cannot play '" + uri.get<std::string> () + "': " + why};
    return nullptr;
  }
  auto player = std::make_shared<PlayerEndpoint> (
      session, std::move (pipeline), uri.get<std::string> ());
  player->shared_->self = player;
  return player;
}

PlayerEndpoint::PlayerEndpoint (
    Session &session, std::shared_ptr<MediaPipeline> pipeline, std::string uri)
    : UriEndpoint (
        session, "PlayerEndpoint", std::move (pipeline), std::move (uri)),
      shared_ (std::make_shared<Shared> ())
{
  shared_->pipeline =
      GST_ELEMENT (gst_object_ref (this->pipeline ().pipeline ()));
  for (int k = 0; k < N_KINDS; k++) {
    make_output ((MediaKind)k);
    shared_->outputs[k] = GST_ELEMENT (gst_object_ref (outputs_[k]));
    gst_element_sync_state_with_parent (outputs_[k]);
  }
}

bool
PlayerEndpoint::accepts_event (const std::string &event) const
{
  return event == "EndOfStream" || UriEndpoint::accepts_event (event);
}

void
PlayerEndpoint::on_pad_added (GstElement *, GstPad *pad, gpointer data)
{
  /* A streaming thread: GStreamer objects only. */
  Shared &shared = **static_cast<std::shared_ptr<Shared> *> (data);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  int kind = g_str_has_prefix (name, "audio/")   ? KIND_AUDIO
             : g_str_has_prefix (name, "video/") ? KIND_VIDEO
                                                 : -1;
  gst_caps_unref (caps);
  /* Played at its own pace: clocksync holds each buffer until its time,
   * counted from when the media started. */
  const char *description =
      kind == KIND_AUDIO   ? "clocksync ! audioconvert ! audioresample"
      : kind == KIND_VIDEO ? "clocksync ! videoconvert"
                           : "fakesink sync=false async=false";
  GstElement *bin = gst_parse_bin_from_description (description, TRUE, nullptr);
  if (!bin)
    return;
  GstClock *clock = gst_element_get_clock (shared.pipeline);
  if (clock) {
    gint64 now = (gint64)(gst_clock_get_time (clock)
                          - gst_element_get_base_time (shared.pipeline));
    gint64 expected = -1;
    shared.offset.compare_exchange_strong (expected, now);
    gst_pad_set_offset (pad, shared.offset.load ());
    gst_object_unref (clock);
  }
  gst_bin_add (GST_BIN (shared.pipeline), bin);
  GstPad *sink = gst_element_get_static_pad (bin, "sink");
  gst_pad_link (pad, sink);
  gst_object_unref (sink);
  if (kind >= 0) {
    gst_element_link (bin, shared.outputs[kind]);
    shared.streams++;
    std::weak_ptr<PlayerEndpoint> weak = shared.self;
    std::shared_ptr<Shared> *keep =
        static_cast<std::shared_ptr<Shared> *> (data);
    /* The end of each stream stops here; the last one is EndOfStream. */
    gst_pad_add_probe (
        pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
            return GST_PAD_PROBE_OK;
          auto &sh = **static_cast<std::shared_ptr<Shared> *> (d);
          if (--sh.streams == 0) {
            std::weak_ptr<PlayerEndpoint> w = sh.self;
            run_on_main ([w] () {
              if (auto self = w.lock ())
                self->ended ();
            });
          }
          return GST_PAD_PROBE_DROP;
        },
        new std::shared_ptr<Shared> (*keep),
        [] (gpointer d) { delete static_cast<std::shared_ptr<Shared> *> (d); });
    (void)weak;
  }
  gst_element_sync_state_with_parent (bin);
}

void
PlayerEndpoint::ended ()
{
  if (ended_)
    return;
  ended_ = true;
  set_state ("STOP");
  emit ("EndOfStream", json::object ());
}

void
PlayerEndpoint::play ()
{
  if (decodebin_) {
    gst_element_set_state (decodebin_, GST_STATE_PLAYING);
    set_state ("START");
    return;
  }
  decodebin_ = gst_element_factory_make ("uridecodebin", nullptr);
  g_object_set (decodebin_, "uri", uri_.c_str (), nullptr);
  g_signal_connect_data (
      decodebin_, "pad-added", G_CALLBACK (on_pad_added),
      new std::shared_ptr<Shared> (shared_),
      [] (gpointer data, GClosure *) {
        delete static_cast<std::shared_ptr<Shared> *> (data);
      },
      (GConnectFlags)0);
  add (decodebin_);
  gst_element_sync_state_with_parent (decodebin_);
  set_state ("START");
}

void
PlayerEndpoint::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "play") {
    play ();
    return done (Reply::ok ());
  }
  if (op == "pause") {
    if (decodebin_)
      gst_element_set_state (decodebin_, GST_STATE_PAUSED);
    set_state ("PAUSE");
    return done (Reply::ok ());
  }
  if (op == "stop") {
    if (decodebin_)
      gst_element_set_state (decodebin_, GST_STATE_PAUSED);
    set_state ("STOP");
    return done (Reply::ok ());
  }
  UriEndpoint::invoke (op, params, std::move (done));
}

} // namespace kurento
