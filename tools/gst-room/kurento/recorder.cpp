/* gst-room, Kurento control API: RecorderEndpoint. */
#include "recorder.h"

#include "../recorder.h"
#include "../security.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_EXTERN (kurento_debug);
#define GST_CAT_DEFAULT kurento_debug

namespace kurento {

namespace {

/* Kurento's media profiles gst-room records: container and kinds. */
struct Profile {
  const char *name, *format;
  bool audio, video;
};
const Profile PROFILES[] = {
    {"WEBM", "webm", true, true},
    {"WEBM_AUDIO_ONLY", "webm", true, false},
    {"WEBM_VIDEO_ONLY", "webm", false, true},
    {"MP4", "mp4", true, true},
    {"MP4_AUDIO_ONLY", "mp4", true, false},
    {"MP4_VIDEO_ONLY", "mp4", false, true},
};

const Profile *
find_profile (const std::string &name)
{
  for (const Profile &p : PROFILES)
    if (name == p.name)
      return &p;
  return nullptr;
}

/* What arrives while the encoder is busy waits here, a little. */
constexpr const char *QUEUE = "queue max-size-buffers=0 max-size-bytes=0 "
                              "max-size-time=2000000000 leaky=downstream";
const char *const ENCODE_WEBM[N_KINDS] = {
    "audioconvert ! audioresample ! opusenc",
    "videoconvert ! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 "
    "target-bitrate=1000000",
};
const char *const ENCODE_MP4[N_KINDS] = {
    "audioconvert ! audioresample ! opusenc ! opusparse",
    "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast "
    "key-int-max=30 ! h264parse",
};
const char *const PAD[N_KINDS] = {"audio", "video"};

} // namespace

struct RecorderEndpoint::Shared {
  std::weak_ptr<RecorderEndpoint> self;
};

std::shared_ptr<MediaObject>
RecorderEndpoint::create (Session &session,
    std::shared_ptr<MediaPipeline> pipeline, const json &ctor, Error &error)
{
  json uri = ctor.value ("uri", json ());
  json profile = ctor.value ("mediaProfile", json ("WEBM"));
  json stop_on_eos = ctor.value ("stopOnEndOfStream", json (false));
  if (!uri.is_string ()) {
    error = {ILLEGAL_PARAM, "'uri' must be a string"};
    return nullptr;
  }
  if (!profile.is_string () || !find_profile (profile.get<std::string> ())) {
    error = {ILLEGAL_PARAM,
        "'mediaProfile' must be WEBM, WEBM_AUDIO_ONLY, WEBM_VIDEO_ONLY, MP4, "
        "MP4_AUDIO_ONLY or MP4_VIDEO_ONLY (gst-room records no other)"};
    return nullptr;
  }
  if (!stop_on_eos.is_boolean ()) {
    error = {ILLEGAL_PARAM, "'stopOnEndOfStream' must be true or false"};
    return nullptr;
  }
  /* A file: URI whose folder is inside recorder-folders. */
  const std::string &text = uri.get_ref<const std::string &> ();
  const char *scheme = g_uri_peek_scheme (text.c_str ());
  gchar *file = scheme && strcmp (scheme, "file") == 0
                    ? g_filename_from_uri (text.c_str (), nullptr, nullptr)
                    : nullptr;
  std::string path = file ? file : "";
  g_free (file);
  gchar *dir = path.empty () ? nullptr : g_path_get_dirname (path.c_str ());
  std::string real = dir ? security_real_path (dir) : "";
  g_free (dir);
  bool inside = false;
  for (const std::string &folder : session.spec ().kurento.recorder_folders) {
    std::string base = security_real_path (folder);
    inside = inside
             || (!base.empty () && !real.empty ()
                 && (real == base || real.rfind (base + "/", 0) == 0));
  }
  if (!inside) {
    error = {
        ILLEGAL_PARAM, "Cannot record to '" + text
                           + "': only file: URIs in an existing folder inside "
                             "recorder-folders of the room file"};
    return nullptr;
  }
  gchar *base = g_path_get_basename (path.c_str ());
  path = real + "/" + base;
  g_free (base);
  auto recorder = std::make_shared<RecorderEndpoint> (
      session, std::move (pipeline), text, path, profile.get<std::string> ());
  recorder->shared_->self = recorder;
  return recorder;
}

RecorderEndpoint::RecorderEndpoint (Session &session,
    std::shared_ptr<MediaPipeline> pipeline, std::string uri, std::string path,
    std::string profile)
    : UriEndpoint (
        session, "RecorderEndpoint", std::move (pipeline), std::move (uri)),
      path_ (std::move (path)), profile_ (std::move (profile)),
      shared_ (std::make_shared<Shared> ())
{
  const Profile *p = find_profile (profile_);
  kinds_[KIND_AUDIO] = p->audio;
  kinds_[KIND_VIDEO] = p->video;
  for (int k = 0; k < N_KINDS; k++) {
    if (!kinds_[k])
      continue;
    make_input ((MediaKind)k);
    gst_element_sync_state_with_parent (inputs_[k]);
  }
}

bool
RecorderEndpoint::accepts_event (const std::string &event) const
{
  return event == "Recording" || event == "Paused" || event == "Stopped"
         || UriEndpoint::accepts_event (event);
}

Reply
RecorderEndpoint::record ()
{
  if (stopping_ || stopped_)
    return Reply::fail (ILLEGAL_PARAM,
        "This recorder has stopped: a new recording needs a new "
        "RecorderEndpoint");
  if (!bin_) {
    const Profile *p = find_profile (profile_);
    std::string description;
    for (int k = 0; k < N_KINDS; k++)
      if (kinds_[k])
        description +=
            std::string (QUEUE) + " name=" + PAD[k] + " ! "
            + (strcmp (p->format, "mp4") == 0 ? ENCODE_MP4[k] : ENCODE_WEBM[k])
            + " ! mux." + PAD[k] + "_0 ";
    description += recording_tail (p->format);
    std::string error;
    GError *err = nullptr;
    GstElement *bin = gst_parse_bin_from_description_full (description.c_str (),
        FALSE, nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &err);
    if (!bin) {
      error = err ? err->message : "cannot parse";
      g_clear_error (&err);
      return Reply::fail (UNEXPECTED, "Cannot record: " + error);
    }
    recording_mark_keyframes (bin);
    GstElement *file = gst_bin_get_by_name (GST_BIN (bin), "file");
    g_object_set (file, "location", path_.c_str (), nullptr);
    /* The end of the file: the muxer's EOS reaching it. */
    GstPad *sink = gst_element_get_static_pad (file, "sink");
    gst_pad_add_probe (
        sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer d) -> GstPadProbeReturn {
          if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info))
              == GST_EVENT_EOS) {
            std::weak_ptr<RecorderEndpoint> weak =
                static_cast<Shared *> (d)->self;
            run_on_main ([weak] () {
              if (auto self = weak.lock ())
                self->finished ();
            });
          }
          return GST_PAD_PROBE_OK;
        },
        new Shared (*shared_),
        [] (gpointer d) { delete static_cast<Shared *> (d); });
    gst_object_unref (sink);
    gst_object_unref (file);
    for (int k = 0; k < N_KINDS; k++) {
      if (!kinds_[k])
        continue;
      GstElement *queue = gst_bin_get_by_name (GST_BIN (bin), PAD[k]);
      GstPad *target = gst_element_get_static_pad (queue, "sink");
      gst_element_add_pad (bin, gst_ghost_pad_new (PAD[k], target));
      gst_object_unref (target);
      gst_object_unref (queue);
    }
    bin_ = GST_ELEMENT (gst_object_ref (add (bin)));
    /* Playing before anything is linked to it (the file opens here). */
    if (gst_element_sync_state_with_parent (bin_) == FALSE
        || gst_element_get_state (bin_, nullptr, nullptr, 0)
               == GST_STATE_CHANGE_FAILURE) {
      remove (bin_);
      gst_object_unref (bin_);
      bin_ = nullptr;
      return Reply::fail (ILLEGAL_PARAM,
          "Cannot record to '" + uri_ + "': the file cannot be written");
    }
    for (int k = 0; k < N_KINDS; k++)
      if (kinds_[k])
        gst_element_link_pads (inputs_[k], "src", bin_, PAD[k]);
    GST_INFO ("%s: recording %s to %s", id ().c_str (), profile_.c_str (),
        path_.c_str ());
  }
  for (int k = 0; k < N_KINDS; k++)
    open_input ((MediaKind)k);
  if (session_.room_recorder && !listed_) {
    gchar *name = g_path_get_basename (path_.c_str ());
    listed_ = session_.room_recorder->track_external (
        std::string ("API ") + name, path_, find_profile (profile_)->format);
    g_free (name);
  }
  set_state ("START");
  emit ("Recording", json::object ());
  return Reply::ok ();
}

void
RecorderEndpoint::stop (Done done)
{
  if (stopped_ || !bin_) {
    stopped_ = true;
    set_state ("STOP");
    return done (Reply::ok ());
  }
  waiting_.push_back (std::move (done));
  if (stopping_)
    return;
  stopping_ = true;
  /* No more media in; each stream ends, and the muxer writes its end. */
  for (int k = 0; k < N_KINDS; k++) {
    if (!kinds_[k])
      continue;
    g_object_set (inputs_[k], "drop", TRUE, nullptr);
    GstPad *pad = gst_element_get_static_pad (bin_, PAD[k]);
    gst_pad_send_event (pad, gst_event_new_eos ());
    gst_object_unref (pad);
  }
}

void
RecorderEndpoint::finished ()
{
  if (stopped_)
    return;
  stopped_ = true;
  stopping_ = false;
  GST_INFO ("%s: %s written", id ().c_str (), path_.c_str ());
  unlist ("");
  set_state ("STOP");
  emit ("Stopped", json::object ());
  std::vector<Done> waiting = std::move (waiting_);
  for (Done &done : waiting)
    done (Reply::ok ());
}

void
RecorderEndpoint::unlist (const std::string &error)
{
  if (listed_ && session_.room_recorder)
    session_.room_recorder->external_ended (listed_, error);
  listed_ = 0;
}

void
RecorderEndpoint::invoke (const std::string &op, const json &params, Done done)
{
  if (op == "record")
    return done (record ());
  if (op == "pause") {
    for (int k = 0; k < N_KINDS; k++)
      if (inputs_[k])
        g_object_set (inputs_[k], "drop", TRUE, nullptr);
    if (!stopped_ && !stopping_) {
      set_state ("PAUSE");
      emit ("Paused", json::object ());
    }
    return done (Reply::ok ());
  }
  if (op == "stopAndWait")
    return stop (std::move (done));
  if (op == "stop") {
    /* Answered at once; Stopped follows when the file is written. */
    stop ([] (Reply) {});
    return done (Reply::ok ());
  }
  UriEndpoint::invoke (op, params, std::move (done));
}

void
RecorderEndpoint::release ()
{
  /* Released while recording: the file keeps all but the last second (a
   * cluster or fragment each second), as after a crash. */
  std::vector<Done> waiting = std::move (waiting_);
  for (Done &done : waiting)
    done (Reply::fail (OBJECT_NOT_FOUND, "The recorder was released"));
  if (!stopped_)
    unlist ("released while recording: no index, the file decodes to "
            "within a second of the release");
  MediaElement::release ();
  if (bin_)
    gst_object_unref (bin_);
  bin_ = nullptr;
}

} // namespace kurento
