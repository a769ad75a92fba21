/* gst-room: the live show. */
#include "show.h"

#include <sys/resource.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "peer.h"
#include "room.h"
#include "security.h"
#include "signalling.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (show_debug);
#define GST_CAT_DEFAULT show_debug

namespace {

const char *const EMOTES[] = {"clap", "heart", "confetti"};

double
process_cpu_seconds ()
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
         + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string
element_factory (GstElement *e)
{
  GstElementFactory *f = e ? gst_element_get_factory (e) : nullptr;
  return f ? GST_OBJECT_NAME (f) : "";
}

bool
is_presenter_role (const RoomRoleSpec &role, const RoomShowSpec &show)
{
  return !show.stage.empty () && role.hub == show.stage && role.send_video;
}

bool
is_presenter (const Peer &peer, const RoomShowSpec &show)
{
  return is_presenter_role (peer.role (), show);
}

bool
is_viewer (const Peer &peer)
{
  const RoomRoleSpec &r = peer.role ();
  return !r.send_audio && !r.send_video && !r.control;
}

} // namespace

Show::Show (Room &room) : room_ (room), spec_ (room.spec ().show)
{
  GST_DEBUG_CATEGORY_INIT (show_debug, "gstroom-show", 0, "gst-room show");
  for (const char *e : EMOTES)
    emote_counts_[e] = 0;
  room_.add_listener (this);
}

Show::~Show ()
{
  room_.remove_listener (this);
  if (health_timer_)
    g_source_remove (health_timer_);
  if (levels_timer_)
    g_source_remove (levels_timer_);
  for (auto &[pad, id] : probes_) {
    gst_pad_remove_probe (pad, id);
    gst_object_unref (pad);
  }
  end_injection ("");
  for (GstElement *e : {program_, stage_, camera_})
    if (e)
      gst_object_unref (e);
}

bool
Show::build (std::string &error)
{
  const RoomSpec &room = room_.spec ();
  auto check = [&] (const char *key, const std::string &name,
                   const char *factory, GstElement **out) {
    if (name.empty ())
      return true;
    GstElement *e = room_.find_element (name);
    if (element_factory (e) != factory) {
      error = room.where (spec_.line) + ": [show] " + key + ": "
              + (e ? "'" + name + "' is a " + element_factory (e)
                          + "; it must name "
                          + (factory[0] == 'm' ? "an " : "a ") + factory
                   : "no element named '" + name + "' in any [pipeline]");
      if (e)
        gst_object_unref (e);
      return false;
    }
    if (out)
      *out = e;
    else
      gst_object_unref (e);
    return true;
  };
  if (!check ("program", spec_.program, "dispatcher", &program_)
      || !check ("stage", spec_.stage, "mcucompositor", &stage_)
      || !check ("camera", spec_.camera, "mcucompositor", &camera_)
      || !check ("output", spec_.output, "dispatcher", nullptr))
    return false;
  /* The bitrate viewers get: every byte into the encoded program. */
  bool files = false;
  for (const std::string &s : spec_.inject_schemes)
    files = files || g_ascii_strcasecmp (s.c_str (), "file") == 0;
  if (files && !spec_.inject_folders.empty ())
    videos_.reset (new VideoLibrary (
        spec_.inject_folders, [this] (const std::string &uri) {
          std::string ignored;
          return uri_allowed (uri, ignored);
        }));
  if (!spec_.output.empty ()) {
    GstElement *output = room_.find_element (spec_.output);
    for (const char *name : {"sink_0", "audio_sink_0"}) {
      GstPad *pad = gst_element_get_static_pad (output, name);
      if (!pad)
        continue;
      gulong id = gst_pad_add_probe (pad,
          (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                            | GST_PAD_PROBE_TYPE_BUFFER_LIST),
          count_bytes, this, nullptr);
      probes_.push_back ({pad, id});
    }
    gst_object_unref (output);
  }
  return true;
}

GstPadProbeReturn
Show::count_bytes (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *self = static_cast<Show *> (data);
  gsize size = 0;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    size = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      size += gst_buffer_get_size (gst_buffer_list_get (list, i));
  }
  self->program_bytes_ += size;
  return GST_PAD_PROBE_OK;
}

void
Show::room_started ()
{
  last_health_ = g_get_monotonic_time ();
  last_cpu_seconds_ = process_cpu_seconds ();
  health_ = {{"cpu", 0.0}, {"bitrate", 0}, {"viewers", 0},
      {"renditions", json::array ()}};
  health_timer_ = g_timeout_add_seconds (
      1,
      [] (gpointer data) -> gboolean {
        auto *self = static_cast<Show *> (data);
        gint64 now = g_get_monotonic_time ();
        double seconds = (now - self->last_health_) / 1e6;
        double cpu = process_cpu_seconds ();
        int viewers = 0;
        for (const auto &p : self->room_.peers ())
          viewers += is_viewer (*p);
        /* Pads of the show's hubs, by element name: they come back to
         * their count when peers leave (churn tests read them). */
        json pads = json::object ();
        GstElement *output =
            self->spec_.output.empty ()
                ? nullptr
                : self->room_.find_element (self->spec_.output);
        for (GstElement *e :
            {self->stage_, self->camera_, self->program_, output}) {
          if (!e)
            continue;
          GST_OBJECT_LOCK (e);
          pads[GST_OBJECT_NAME (e)] = e->numpads;
          GST_OBJECT_UNLOCK (e);
        }
        if (output)
          gst_object_unref (output);
        self->health_ = {/* percent of one core, as top shows it */
            {"cpu", seconds > 0 ? std::round ((cpu - self->last_cpu_seconds_)
                                              / seconds * 1000.0)
                                      / 10.0
                                : 0.0},
            {"bitrate", seconds > 0
                            ? (guint64)(self->program_bytes_.exchange (0) * 8
                                        / seconds / 1000)
                            : 0},
            {"viewers", viewers}, {"pads", pads}};
        /* viewers per rung of the quality ladders, heaviest first */
        json renditions = json::array ();
        for (const auto &[label, count] : self->room_.rendition_counts ())
          renditions.push_back ({{"rendition", label}, {"viewers", count}});
        self->health_["renditions"] = renditions;
        self->last_health_ = now;
        self->last_cpu_seconds_ = cpu;
        self->notify ();
        return G_SOURCE_CONTINUE;
      },
      this);
  /* Meters move several times a second; only while presenters are on. */
  if (stage_)
    levels_timer_ = g_timeout_add (
        250,
        [] (gpointer data) -> gboolean {
          auto *self = static_cast<Show *> (data);
          json m = self->levels ();
          if (!m["presenters"].empty () && self->to_control)
            self->to_control (m);
          return G_SOURCE_CONTINUE;
        },
        this);
}

json
Show::levels () const
{
  json presenters = json::array ();
  for (const auto &p : room_.peers ()) {
    gint port =
        stage_ && is_presenter (*p, spec_) ? p->port_on (spec_.stage) : -1;
    std::string pad_name = "sink_" + std::to_string (port);
    GstPad *pad = port >= 0
                      ? gst_element_get_static_pad (stage_, pad_name.c_str ())
                      : nullptr;
    if (!pad)
      continue;
    double level = 0.0;
    gboolean speaking = FALSE;
    g_object_get (pad, "level", &level, "speaking", &speaking, nullptr);
    gst_object_unref (pad);
    /* dBFS, floored at -90 so silence is a number JSON can carry. */
    double db = level > 0 ? std::max (-90.0, 20.0 * std::log10 (level)) : -90.0;
    presenters.push_back ({{"peer", p->id ()}, {"level", std::round (db)},
        {"speaking", (bool)speaking}});
  }
  return {{"type", "levels"}, {"presenters", presenters}};
}

json
Show::state () const
{
  json presenters = json::array ();
  int viewers = 0;
  for (const auto &p : room_.peers ()) {
    if (is_presenter (*p, spec_))
      presenters.push_back (
          {{"peer", p->id ()}, {"name", p->name ()}, {"port", p->hub_port ()}});
    viewers += is_viewer (*p);
  }
  guint max_tiles = 0;
  if (stage_)
    g_object_get (stage_, "max-tiles", &max_tiles, nullptr);
  json injection = nullptr;
  if (player_) {
    gint64 position = -1, duration = -1;
    gst_element_query_position (player_, GST_FORMAT_TIME, &position);
    gst_element_query_duration (player_, GST_FORMAT_TIME, &duration);
    injection = {{"uri", player_uri_},
        {"position", position >= 0 ? position / 1e9 : 0.0},
        {"duration", duration > 0 ? json (duration / 1e9) : json (nullptr)},
        {"showing", player_frame_.load ()}};
  }
  guint camera = current_camera ();
  std::string layout = "grid";
  if (stage_) {
    gint kind = 0;
    gboolean auto_speaker = FALSE;
    g_object_get (
        stage_, "layout", &kind, "auto-speaker", &auto_speaker, nullptr);
    GParamSpec *pspec =
        g_object_class_find_property (G_OBJECT_GET_CLASS (stage_), "layout");
    GEnumValue *v = G_IS_PARAM_SPEC_ENUM (pspec) ? g_enum_get_value (
                        G_PARAM_SPEC_ENUM (pspec)->enum_class, kind)
                                                 : nullptr;
    layout = v ? v->value_nick : "grid";
    if (layout == "speaker" && auto_speaker)
      layout = "auto-speaker";
  }
  return {{"type", "show"}, {"program", source_}, {"maxTiles", max_tiles},
      {"layout", layout}, {"camera", camera ? json (camera) : json (nullptr)},
      {"presenters", presenters}, {"viewers", viewers},
      {"injection", injection}, {"health", health_}, {"emotes", emote_counts_}};
}

void
Show::notify ()
{
  if (to_control)
    to_control (state ());
}

void
Show::set_program_port (int port)
{
  GST_INFO ("program: port %d (%s)", port, source_.c_str ());
  g_object_set (program_, "source", port, nullptr);
}

bool
Show::switch_program (const std::string &source, std::string &error)
{
  int port = -1;
  if (source == "stage" && stage_) {
    port = spec_.stage_port;
  } else if (source == "camera" && camera_) {
    port = spec_.camera_port;
  } else if (source == "video") {
    if (!player_port_) {
      error = "no video is playing: inject one first";
      return false;
    }
    g_object_get (player_port_, "port", &port, nullptr);
  } else {
    error = "the program shows 'stage'"
            + std::string (camera_ ? ", 'camera'" : "") + " or 'video', not '"
            + source + "'";
    return false;
  }
  source_ = source;
  set_program_port (port);
  notify ();
  return true;
}

bool
Show::set_max_tiles (guint tiles, std::string &error)
{
  if (!stage_) {
    error = "this show has no stage";
    return false;
  }
  if (tiles < 1 || tiles > 4) {
    error = "the stage shows 1 to 4 presenters, not " + std::to_string (tiles);
    return false;
  }
  g_object_set (stage_, "max-tiles", tiles, nullptr);
  notify ();
  return true;
}

void
Show::list_videos ()
{
  auto send = [this] (const std::vector<VideoLibrary::Video> &list) {
    if (to_control)
      to_control (
          {{"type", "videos"}, {"videos", VideoLibrary::to_json (list)}});
  };
  if (videos_)
    videos_->scan (send);
  else
    send ({});
}

bool
Show::set_layout (const std::string &layout, std::string &error)
{
  if (!stage_) {
    error = "this show has no stage";
    return false;
  }
  if (layout == "grid") {
    gst_util_set_object_arg (G_OBJECT (stage_), "layout", "grid");
    g_object_set (stage_, "auto-speaker", FALSE, nullptr);
  } else if (layout == "auto-speaker") {
    g_object_set (stage_, "auto-speaker", TRUE, nullptr);
    gst_util_set_object_arg (G_OBJECT (stage_), "layout", "speaker");
  } else {
    error = "the stage's layout is 'grid' or 'auto-speaker', not '"
            + signalling_clean_name (layout, 40) + "'";
    return false;
  }
  notify ();
  return true;
}

guint
Show::current_camera () const
{
  guint first = 0;
  for (const auto &p : room_.peers ()) {
    if (!is_presenter (*p, spec_))
      continue;
    if (p->id () == camera_peer_)
      return camera_peer_;
    if (!first)
      first = p->id ();
  }
  return first;
}

bool
Show::choose_camera (guint peer, std::string &error)
{
  if (!camera_) {
    error = "this show has no single-camera channel";
    return false;
  }
  for (const auto &p : room_.peers ()) {
    if (p->id () == peer && is_presenter (*p, spec_)) {
      camera_peer_ = peer;
      apply_camera ();
      notify ();
      return true;
    }
  }
  error = "peer " + std::to_string (peer) + " is not a presenter";
  return false;
}

void
Show::apply_camera ()
{
  if (!camera_)
    return;
  /* The camera compositor has every presenter; only the chosen one is
   * visible, so it fills the frame. */
  guint chosen = current_camera ();
  for (const auto &p : room_.peers ()) {
    if (!is_presenter (*p, spec_))
      continue;
    gint port = p->port_on (spec_.camera);
    if (port < 0)
      continue;
    std::string name = "sink_" + std::to_string (port);
    GstPad *pad = gst_element_get_static_pad (camera_, name.c_str ());
    if (pad) {
      g_object_set (pad, "visible", p->id () == chosen, nullptr);
      gst_object_unref (pad);
    }
  }
}

void
Show::peers_changed ()
{
  /* Presenters' names as tile labels, on the stage and the camera. */
  for (const auto &p : room_.peers ()) {
    if (!is_presenter (*p, spec_) || p->name ().empty ())
      continue;
    for (auto [hub, name] :
        {std::pair<GstElement *, std::string>{stage_, spec_.stage},
            {camera_, spec_.camera}}) {
      gint port = hub ? p->port_on (name) : -1;
      std::string pad_name = "sink_" + std::to_string (port);
      GstPad *pad = port >= 0
                        ? gst_element_get_static_pad (hub, pad_name.c_str ())
                        : nullptr;
      if (pad) {
        g_object_set (pad, "label", p->name ().c_str (), nullptr);
        gst_object_unref (pad);
      }
    }
  }
  apply_camera ();
  notify ();
}

void
Show::peer_joined (Peer &)
{
  peers_changed ();
}

void
Show::peer_left (guint id)
{
  emote_buckets_.erase (id);
  peers_changed ();
}

bool
Show::uri_allowed (const std::string &uri, std::string &error) const
{
  GUri *parsed = g_uri_parse (uri.c_str (), G_URI_FLAGS_NONE, nullptr);
  if (!parsed) {
    error = "'" + uri + "' is not a URI";
    return false;
  }
  std::string scheme = g_uri_get_scheme (parsed);
  g_uri_unref (parsed);
  bool scheme_ok = false;
  for (const std::string &s : spec_.inject_schemes)
    scheme_ok =
        scheme_ok || g_ascii_strcasecmp (s.c_str (), scheme.c_str ()) == 0;
  if (!scheme_ok) {
    error = "the room file allows no '" + scheme + ":' videos";
    return false;
  }
  if (g_ascii_strcasecmp (scheme.c_str (), "file") != 0)
    return true;
  gchar *filename = g_filename_from_uri (uri.c_str (), nullptr, nullptr);
  std::string file = filename ? filename : "";
  g_free (filename);
  /* Outside the folders is refused with the same words whether the file
   * exists or not: the answer must not tell what is on the disk.  The
   * lexical path is judged first, then where its links really lead. */
  std::string refused =
      "that file is not in a folder the room file allows (inject-folders)";
  gchar *lexical =
      file.empty () ? nullptr : g_canonicalize_filename (file.c_str (), "/");
  std::string plain = lexical ? lexical : "";
  g_free (lexical);
  auto inside = [this] (const std::string &path, bool resolve) {
    for (const std::string &folder : spec_.inject_folders) {
      std::string base = resolve ? security_real_path (folder) : folder;
      if (!base.empty () && path.rfind (base + "/", 0) == 0)
        return true;
    }
    return false;
  };
  if (plain.empty () || !inside (plain, false)) {
    error = refused;
    return false;
  }
  std::string real = security_real_path (plain);
  if (!real.empty () && !inside (real, true)) {
    error = refused;
    return false;
  }
  if (real.empty () || !g_file_test (real.c_str (), G_FILE_TEST_IS_REGULAR)) {
    error = "no such video in the allowed folders: " + plain;
    return false;
  }
  return true;
}

void
Show::on_player_source (GstElement *, GstElement *source, gpointer data)
{
  auto *self = static_cast<Show *> (data);
  /* What uridecodebin really opens, judged by the same rules as the URI the
   * operator typed. */
  gchar *uri = GST_IS_URI_HANDLER (source)
                   ? gst_uri_handler_get_uri (GST_URI_HANDLER (source))
                   : nullptr;
  std::string error;
  if (!uri || !self->uri_allowed (uri, error)) {
    gst_element_set_locked_state (source, TRUE); /* never opens */
    GST_ELEMENT_ERROR (source, RESOURCE, OPEN_READ,
        ("the video's source is not allowed: %s",
            uri ? error.c_str () : "it opens no URI"),
        (nullptr));
  }
  g_free (uri);
}

void
Show::on_player_element (
    GstBin *player, GstBin *, GstElement *element, gpointer)
{
  /* A playlist (HLS, DASH, Smooth Streaming) names further files and URLs
   * that its demuxer would fetch by itself, past every rule above: such
   * demuxers never start. */
  GstElementFactory *factory = gst_element_get_factory (element);
  const gchar *klass = factory ? gst_element_factory_get_metadata (
                           factory, GST_ELEMENT_METADATA_KLASS)
                               : nullptr;
  bool playlist =
      klass && strstr (klass, "Demux") && strstr (klass, "Adaptive");
  /* Any other element that opens URIs by itself, below the top source. */
  bool nested_source =
      GST_IS_URI_HANDLER (element)
      && gst_uri_handler_get_uri_type (GST_URI_HANDLER (element)) == GST_URI_SRC
      && GST_OBJECT_PARENT (element)
      && !GST_IS_PIPELINE (GST_OBJECT_PARENT (element))
      && !g_str_equal (
          G_OBJECT_TYPE_NAME (GST_OBJECT_PARENT (element)), "GstURIDecodeBin");
  if (!playlist && !nested_source)
    return;
  gst_element_set_locked_state (element, TRUE);
  GError *err =
      g_error_new (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ, "%s",
          playlist
              ? "playlists (HLS, DASH) are not played: inject a video file"
              : "the video opens further URIs by itself, which is not allowed");
  gst_element_post_message (GST_ELEMENT (player),
      gst_message_new_error (GST_OBJECT (element), err, nullptr));
  g_error_free (err);
}

GstCaps *
Show::program_video_caps () const
{
  /* The injected video takes the stage's caps, so the program never
   * renegotiates when it switches. */
  std::string name = "sink_" + std::to_string (spec_.stage_port);
  GstPad *pad = gst_element_get_static_pad (program_, name.c_str ());
  GstCaps *caps = pad ? gst_pad_get_current_caps (pad) : nullptr;
  if (pad)
    gst_object_unref (pad);
  if (caps)
    return caps;
  gint width = 1280, height = 720;
  if (stage_)
    g_object_get (stage_, "width", &width, "height", &height, nullptr);
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420",
      "width", G_TYPE_INT, width, "height", G_TYPE_INT, height, "framerate",
      GST_TYPE_FRACTION, 30, 1, nullptr);
}

bool
Show::inject (const std::string &uri, std::string &error)
{
  if (!uri_allowed (uri, error))
    return false;
  /* A new video replaces the one playing: the program falls back first, so
   * a failing new one leaves it there. */
  if (player_)
    end_injection ("");
  std::string previous = source_;

  player_ = gst_pipeline_new ("injection");
  gst_pipeline_use_clock (GST_PIPELINE (player_), room_.clock ());
  GstElement *src = gst_element_factory_make ("uridecodebin", "source");
  player_port_ = gst_element_factory_make ("hubport", "port");
  if (!src || !player_port_) {
    error = std::string ("no element \"") + (src ? "hubport" : "uridecodebin")
            + "\" (" + room_plugin_of (src ? "hubport" : "uridecodebin") + ")";
    if (src)
      gst_object_unref (src);
    if (player_port_)
      gst_object_unref (player_port_);
    player_port_ = nullptr;
    gst_object_unref (player_);
    player_ = nullptr;
    return false;
  }
  g_object_set (src, "uri", uri.c_str (), nullptr);
  g_object_set (player_port_, "hub", spec_.program.c_str (), nullptr);
  gst_bin_add_many (GST_BIN (player_), src, player_port_, nullptr);
  g_signal_connect (src, "pad-added", G_CALLBACK (on_player_pad), this);
  g_signal_connect (src, "source-setup", G_CALLBACK (on_player_source), this);
  g_signal_connect (
      player_, "deep-element-added", G_CALLBACK (on_player_element), this);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (player_));
  player_watch_ = gst_bus_add_watch (bus, on_player_bus, this);
  gst_object_unref (bus);
  player_uri_ = uri;
  player_frame_ = false;

  if (gst_element_set_state (player_, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    end_injection ("");
    error = "cannot play " + uri;
    return false;
  }
  /* The program keeps what it showed until the video's first frame. */
  before_video_ = previous;
  std::string ignored;
  switch_program ("video", ignored);
  room_.dump_dot (player_, "injection-started");
  return true;
}

void
Show::on_player_pad (GstElement *, GstPad *pad, gpointer data)
{
  auto *self = static_cast<Show *> (data);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const gchar *media =
      gst_structure_get_name (gst_caps_get_structure (caps, 0));
  bool video = g_str_has_prefix (media, "video/");
  bool audio = g_str_has_prefix (media, "audio/");
  gst_caps_unref (caps);
  if (!video && !audio)
    return;
  /* Scaled (letterboxed) to the program's caps, paced by the clock: the
   * hubport takes buffers as fast as they come. */
  std::string description;
  if (video) {
    GstCaps *target = self->program_video_caps ();
    gchar *target_str = gst_caps_to_string (target);
    gst_caps_unref (target);
    description = std::string ("queue max-size-buffers=5 max-size-time=0 "
                               "max-size-bytes=0 ! videoconvert ! videoscale "
                               "add-borders=true ! videorate ! ")
                  + target_str + " ! clocksync name=pace";
    g_free (target_str);
  } else {
    description = "queue max-size-time=300000000 max-size-buffers=0 "
                  "max-size-bytes=0 ! audioconvert ! audioresample ! "
                  "audio/x-raw,rate=48000,channels=2 ! clocksync";
  }
  std::string error;
  GstElement *bin = room_parse_branch (description.c_str (), error);
  if (!bin) {
    /* The operator hears of it through the player's bus. */
    GstElement *source = gst_pad_get_parent_element (pad);
    GST_ELEMENT_ERROR (
        source, CORE, MISSING_PLUGIN, ("%s", error.c_str ()), (nullptr));
    gst_object_unref (source);
    return;
  }
  GstElement *source = gst_pad_get_parent_element (pad);
  GstElement *player =
      GST_ELEMENT (gst_object_get_parent (GST_OBJECT (source)));
  gst_object_unref (source);
  if (!player) {
    gst_object_unref (bin);
    return;
  }
  gst_bin_add (GST_BIN (player), bin);
  GstElement *port = gst_bin_get_by_name (GST_BIN (player), "port");
  GstPad *bin_sink = gst_element_get_static_pad (bin, "sink");
  gst_element_sync_state_with_parent (bin);
  bool ok = gst_pad_link (pad, bin_sink) == GST_PAD_LINK_OK
            && gst_element_link_pads (
                bin, "src", port, video ? "sink" : "audio_sink");
  gst_object_unref (bin_sink);
  if (ok && video) {
    /* The program switches at the video's first frame; the console learns
     * so at the next report. */
    GstPad *src = gst_element_get_static_pad (bin, "src");
    gst_pad_add_probe (
        src, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *, gpointer d) {
          static_cast<Show *> (d)->player_frame_ = true;
          return GST_PAD_PROBE_REMOVE;
        },
        self, nullptr);
    gst_object_unref (src);
  }
  if (!ok)
    GST_ELEMENT_ERROR (port, CORE, NEGOTIATION,
        ("cannot link the video's %s to the program",
            video ? "video" : "audio"),
        (nullptr));
  gst_object_unref (port);
  gst_object_unref (player);
}

gboolean
Show::on_player_bus (GstBus *, GstMessage *msg, gpointer data)
{
  auto *self = static_cast<Show *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      GST_INFO ("injected video ended: back to the stage");
      self->player_watch_ = 0;
      self->end_injection ("");
      return G_SOURCE_REMOVE;
    case GST_MESSAGE_ERROR: {
      GError *err = nullptr;
      gst_message_parse_error (msg, &err, nullptr);
      std::string why = err->message;
      g_error_free (err);
      g_printerr ("gst-room: the injected video %s failed: %s\n",
          self->player_uri_.c_str (), why.c_str ());
      self->player_watch_ = 0;
      self->end_injection (why);
      return G_SOURCE_REMOVE;
    }
    default:
      return G_SOURCE_CONTINUE;
  }
}

void
Show::end_injection (const std::string &error, bool to_stage)
{
  if (!player_)
    return;
  /* A video that showed anything hands over to the stage; one that never
   * did leaves the program where it was. */
  bool showed = to_stage || player_frame_.load ();
  std::string back = showed || before_video_.empty () ? "stage" : before_video_;
  std::string uri = player_uri_;
  if (player_watch_)
    g_source_remove (player_watch_);
  player_watch_ = 0;
  /* Switch away first, then release the player's port. */
  if (source_ == "video" && program_) {
    source_ = back;
    set_program_port (back == "camera" ? spec_.camera_port : spec_.stage_port);
  }
  gst_element_set_state (player_, GST_STATE_NULL);
  gst_object_unref (player_);
  player_ = nullptr;
  player_port_ = nullptr;
  player_uri_.clear ();
  before_video_.clear ();
  player_frame_ = false;
  if (!error.empty () && to_control)
    to_control ({{"type", "error"}, {"code", "inject-failed"},
        {"message", "cannot play " + uri + ": " + error},
        {"request", "inject"}});
  notify ();
}

bool
Show::stop_injection (std::string &error)
{
  if (!player_) {
    error = "no video is playing";
    return false;
  }
  end_injection ("", true); /* back to the stage, as at its end */
  return true;
}

bool
Show::labels_role (const RoomRoleSpec &role) const
{
  return is_presenter_role (role, spec_);
}

bool
Show::emote (const Peer &from, const std::string &kind, std::string &code,
    std::string &error)
{
  if (emote_counts_.find (kind) == emote_counts_.end ()) {
    code = "bad-request";
    error = "an emote is clap, heart or confetti, not '" + kind + "'";
    return false;
  }
  EmoteBucket &bucket = emote_buckets_[from.id ()];
  gint64 now = g_get_monotonic_time ();
  if (now - bucket.window_start >= G_USEC_PER_SEC) {
    bucket.window_start = now;
    bucket.count = 0;
  }
  if (++bucket.count > spec_.emotes_per_second) {
    code = "rate-limited";
    error = "at most " + std::to_string (spec_.emotes_per_second)
            + " emotes a second";
    return false;
  }
  emote_counts_[kind]++;
  if (to_emote_watchers)
    to_emote_watchers (
        {{"type", "emote"}, {"emote", kind}, {"counts", emote_counts_}});
  return true;
}
