/* gst-room: building and running a room. */
#include "room.h"

#include <algorithm>
#include <map>

#include "security.h"

GST_DEBUG_CATEGORY_STATIC (room_debug);
#define GST_CAT_DEFAULT room_debug

namespace {

/* The elements the tool itself creates or names in its own pipeline
 * fragments, with where each comes from: the one list that both the start-up
 * check and the error messages read. */
struct KnownElement {
  const char *element, *plugin, *package;
};
const KnownElement KNOWN_ELEMENTS[] = {
    {"mcucompositor", "roomhub", nullptr},
    {"dispatcher", "roomhub", nullptr},
    {"hubport", "roomhub", nullptr},
    {"qrdetect", "roomvision", nullptr},
    {"faceoverlayfilter", "roomvision", nullptr},
    {"chromakey", "roomvision", nullptr},
    {"webrtcfanoutsink", "roomwebrtc", nullptr},
    {"webrtcbin", "webrtc", "gstreamer1.0-plugins-bad"},
    {"dtlssrtpenc", "dtls", "gstreamer1.0-plugins-bad"},
    {"srtpenc", "srtp", "gstreamer1.0-plugins-bad"},
    {"rtpbin", "rtpmanager", "gstreamer1.0-plugins-good"},
    {"nicesrc", "nice", "gstreamer1.0-nice"},
    {"vp8enc", "vpx", "gstreamer1.0-plugins-good"},
    {"vp8dec", "vpx", "gstreamer1.0-plugins-good"},
    {"rtpvp8pay", "rtp", "gstreamer1.0-plugins-good"},
    {"rtpvp8depay", "rtp", "gstreamer1.0-plugins-good"},
    {"rtpopuspay", "rtp", "gstreamer1.0-plugins-good"},
    {"rtpopusdepay", "rtp", "gstreamer1.0-plugins-good"},
    {"rtph264pay", "rtp", "gstreamer1.0-plugins-good"},
    {"rtph264depay", "rtp", "gstreamer1.0-plugins-good"},
    {"opusenc", "opus", "gstreamer1.0-plugins-base"},
    {"opusdec", "opus", "gstreamer1.0-plugins-base"},
    {"videoconvert", "videoconvertscale", "gstreamer1.0-plugins-base"},
    {"videoscale", "videoconvertscale", "gstreamer1.0-plugins-base"},
    {"videorate", "videorate", "gstreamer1.0-plugins-base"},
    {"audioconvert", "audioconvert", "gstreamer1.0-plugins-base"},
    {"audioresample", "audioresample", "gstreamer1.0-plugins-base"},
    {"uridecodebin", "playback", "gstreamer1.0-plugins-base"},
    {"queue", "coreelements", "gstreamer1.0 (core)"},
    {"capssetter", "debug", "gstreamer1.0-plugins-good"},
    {"filesink", "coreelements", "gstreamer1.0 (core)"},
    {"tee", "coreelements", "gstreamer1.0 (core)"},
    {"clocksync", "coreelements", "gstreamer1.0 (core)"},
    {"fakesink", "coreelements", "gstreamer1.0 (core)"},
    /* Optional: only browsers that take no VP8 need them. */
    {"x264enc", "x264", "gstreamer1.0-plugins-ugly"},
    {"avdec_h264", "libav", "gstreamer1.0-libav"},
    {"webmmux", "matroska", "gstreamer1.0-plugins-good"},
    {"mp4mux", "isomp4", "gstreamer1.0-plugins-good"},
    {"opusparse", "opusparse", "gstreamer1.0-plugins-bad"},
    {"h264parse", "videoparsersbad", "gstreamer1.0-plugins-bad"},
};

std::string
describe (const KnownElement &k)
{
  return std::string ("plugin ") + k.plugin
         + (k.package ? std::string (", Debian package ") + k.package
                      : std::string (" of gst-rooms"));
}

/* "no element "X" (plugin ...)" from a parse that failed. */
std::string
parse_failure (GstParseContext *ctx, GError *err)
{
  gchar **missing = gst_parse_context_get_missing_elements (ctx);
  std::string message =
      missing && missing[0]
          ? std::string ("no element \"") + missing[0] + "\" ("
                + room_plugin_of (missing[0]) + ")"
          : std::string (err ? err->message : "cannot be built");
  g_strfreev (missing);
  return message;
}

} // namespace

std::string
room_plugin_of (const char *element)
{
  for (const KnownElement &k : KNOWN_ELEMENTS)
    if (g_str_equal (k.element, element))
      return describe (k);
  return "not installed; gst-inspect-1.0 lists the elements that are";
}

bool
room_check_elements ()
{
  bool ok = true;
  for (const KnownElement &k : KNOWN_ELEMENTS) {
    bool optional = g_str_equal (k.plugin, "x264")
                    || g_str_equal (k.plugin, "libav")
                    || g_str_equal (k.plugin, "matroska")
                    || g_str_equal (k.plugin, "roomvision");
    GstElementFactory *f = gst_element_factory_find (k.element);
    if (f) {
      gst_object_unref (f);
    } else if (!optional) {
      g_printerr ("gst-room: missing GStreamer element '%s' (%s)\n", k.element,
          describe (k).c_str ());
      ok = false;
    }
  }
  return ok;
}

std::string
room_report_error (GstMessage *msg)
{
  GError *err = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error (msg, &err, &debug);
  gchar *path = gst_object_get_path_string (GST_MESSAGE_SRC (msg));
  g_printerr ("ERROR: from element %s: %s\nAdditional debug info:\n%s\n", path,
      err->message, debug ? debug : "");
  std::string message = err->message;
  g_free (path);
  g_free (debug);
  g_error_free (err);
  return message;
}

GstElement *
room_parse_branch (const char *description, std::string &error)
{
  GError *err = nullptr;
  GstParseContext *ctx = gst_parse_context_new ();
  GstElement *bin = gst_parse_bin_from_description_full (
      description, TRUE, ctx, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin)
    error = parse_failure (ctx, err);
  g_clear_error (&err);
  gst_parse_context_free (ctx);
  return bin;
}

Room::Room (const RoomSpec &spec, std::string dot_dir)
    : spec_ (spec), dot_dir_ (std::move (dot_dir))
{
  GST_DEBUG_CATEGORY_INIT (room_debug, "gstroom", 0, "gst-room rooms");
  clock_ = gst_system_clock_obtain ();
}

Room::~Room ()
{
  stop ();
  gst_object_unref (clock_);
}

bool
Room::build (std::string &error)
{
  for (const RoomPipelineSpec &p : spec_.pipelines) {
    GstParseContext *ctx = gst_parse_context_new ();
    GError *err = nullptr;
    GstElement *pipeline = gst_parse_launch_full (p.launch.c_str (), ctx,
        (GstParseFlags)(GST_PARSE_FLAG_FATAL_ERRORS
                        | GST_PARSE_FLAG_PLACE_IN_BIN),
        &err);
    if (!pipeline) {
      error = spec_.where (p.line) + ": [pipeline " + p.name
              + "] launch: " + parse_failure (ctx, err);
      g_clear_error (&err);
      gst_parse_context_free (ctx);
      return false;
    }
    gst_parse_context_free (ctx);
    if (!GST_IS_PIPELINE (pipeline)) {
      GstElement *wrapper = gst_pipeline_new (nullptr);
      gst_bin_add (GST_BIN (wrapper), pipeline);
      pipeline = wrapper;
    }
    gst_object_set_name (GST_OBJECT (pipeline), p.name.c_str ());
    auto managed = std::make_unique<ManagedPipeline> (
        p.name, pipeline, clock_, p.start, p.restart);
    ManagedPipeline *raw = managed.get ();
    managed->on_error = [this, raw] (
                            const std::string &) { pipeline_failed (*raw); };
    managed->on_eos = [this] () { check_eos_done (); };
    managed->on_element_message = [this] (GstMessage *msg) {
      if (on_element_message)
        on_element_message (msg);
    };
    managed->on_dump = [this, raw] (const std::string &event) {
      dump_dot (raw->pipeline (), raw->name () + "-" + event);
    };
    pipelines_.push_back (std::move (managed));
  }
  if (!check_unique_hubs (error))
    return false;
  for (const RoomRoleSpec &role : spec_.roles) {
    if (!role.hub.empty () && !check_hub (role, "hub", role.hub, false, error))
      return false;
    if (!role.video_hub.empty ()
        && !check_hub (role, "video-hub", role.video_hub, true, error))
      return false;
    if (!role.rtp_hub.empty ()
        && !check_hub (role, "rtp-hub", role.rtp_hub, true, error))
      return false;
    if (!role.h264_rtp_hub.empty ()
        && !check_hub (role, "h264-rtp-hub", role.h264_rtp_hub, true, error))
      return false;
    for (const RoomRung &rung : role.ladder)
      if (!check_hub (role, "ladder", rung.hub, true, error))
        return false;
    for (const std::string &hub : role.also_send_to)
      if (!check_hub (role, "also-send-to", hub, false, error))
        return false;
  }
  return true;
}

bool
Room::check_unique_hubs (std::string &error)
{
  /* hubports find hubs by name: two hubs of one name would send some
   * participants to one and the show to the other. */
  std::map<std::string, std::string> owner; /* hub name → pipeline */
  for (size_t i = 0; i < pipelines_.size (); i++) {
    GstIterator *it =
        gst_bin_iterate_recurse (GST_BIN (pipelines_[i]->pipeline ()));
    GValue item = G_VALUE_INIT;
    std::string clash;
    while (clash.empty () && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      auto *e = GST_ELEMENT (g_value_get_object (&item));
      GstElementFactory *f = gst_element_get_factory (e);
      std::string factory = f ? GST_OBJECT_NAME (f) : "";
      if (factory == "mcucompositor" || factory == "dispatcher") {
        std::string name = GST_OBJECT_NAME (e);
        auto [at, fresh] = owner.emplace (name, pipelines_[i]->name ());
        if (!fresh)
          clash = name;
      }
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
    if (!clash.empty ()) {
      const RoomPipelineSpec &p = spec_.pipelines[i];
      error = spec_.where (p.line) + ": [pipeline " + p.name
              + "] launch: a hub named '" + clash + "' is in [pipeline "
              + owner[clash]
              + "] already; hubs are found by name, so each needs its own";
      return false;
    }
  }
  return true;
}

bool
Room::check_hub (const RoomRoleSpec &role, const char *key,
    const std::string &name, bool dispatcher_only, std::string &error)
{
  GstElement *hub = find_element (name);
  std::string factory =
      hub ? GST_OBJECT_NAME (gst_element_get_factory (hub)) : "";
  if (hub)
    gst_object_unref (hub);
  bool ok = factory == "dispatcher"
            || (!dispatcher_only && factory == "mcucompositor");
  if (!ok && !hub)
    error = spec_.where (role.line) + ": [role " + role.name + "] " + key
            + ": no element named '" + name + "' in any [pipeline]";
  else if (!ok)
    error = spec_.where (role.line) + ": [role " + role.name + "] " + key
            + ": '" + name + "' is a " + factory
            + (dispatcher_only ? "; it must name a dispatcher"
                               : "; it must name an mcucompositor or a "
                                 "dispatcher");
  return ok;
}

ManagedPipeline *
Room::pipeline_of (const std::string &element)
{
  for (auto &mp : pipelines_) {
    GstElement *e =
        gst_bin_get_by_name (GST_BIN (mp->pipeline ()), element.c_str ());
    if (e) {
      gst_object_unref (e);
      return mp.get ();
    }
  }
  return nullptr;
}

ManagedPipeline *
Room::find_pipeline (const std::string &name) const
{
  for (const auto &mp : pipelines_)
    if (mp->name () == name)
      return mp.get ();
  return nullptr;
}

bool
Room::use_on_demand (const std::string &hub, std::string &error)
{
  ManagedPipeline *mp = pipeline_of (hub);
  if (!mp) {
    error = "no hub named '" + hub + "'";
    return false;
  }
  if (mp->start_policy () != PipelineStart::ON_DEMAND)
    return true;
  return mp->use (error);
}

void
Room::release_on_demand (const std::string &hub)
{
  ManagedPipeline *mp = pipeline_of (hub);
  if (mp && mp->start_policy () == PipelineStart::ON_DEMAND)
    mp->release ();
}

GstElement *
Room::find_element (const std::string &name) const
{
  for (const auto &mp : pipelines_) {
    GstElement *e =
        gst_bin_get_by_name (GST_BIN (mp->pipeline ()), name.c_str ());
    if (e)
      return e;
  }
  return nullptr;
}

bool
Room::start (std::string &error)
{
  for (auto &mp : pipelines_) {
    if (mp->start_policy () != PipelineStart::ALWAYS)
      continue;
    if (!mp->start (error))
      return false;
  }
  for (RoomListener *l : std::vector<RoomListener *> (listeners_))
    l->room_started ();
  return true;
}

void
Room::dump_dot (GstElement *pipeline, const std::string &name) const
{
  if (dot_dir_.empty ())
    return;
  /* Written here rather than through GST_DEBUG_DUMP_DOT_DIR, which
   * GStreamer reads once, while parsing the command line. */
  gchar *data =
      gst_debug_bin_to_dot_data (GST_BIN (pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
  std::string file = dot_dir_ + G_DIR_SEPARATOR_S + name + ".dot";
  GError *err = nullptr;
  if (!g_file_set_contents (file.c_str (), data, -1, &err)) {
    g_printerr ("gst-room: cannot write %s: %s\n", file.c_str (), err->message);
    g_error_free (err);
  }
  g_free (data);
}

void
Room::send_eos ()
{
  eos_sent_ = true;
  /* Nothing is done until everything was told (a recorder with nothing to
   * finish answers at once, before the pipelines were asked). */
  eos_starting_ = true;
  /* Recordings first: each gets its EOS in its own pipeline now, so it ends
   * on the picture as it was, not on a layout a presenter already left. */
  if (on_finish) {
    others_finished_ = false;
    on_finish ([this] () {
      others_finished_ = true;
      check_eos_done ();
    });
  }
  /* The peers' pipelines are live and never end by themselves, and a hub
   * ends only once every input has: end what they feed, so that what the
   * room's own sources started (a stage, the program) can end. */
  for (const auto &peer : peers_)
    peer->end_feeds ();
  for (auto &mp : pipelines_)
    mp->finish ([this] () { check_eos_done (); });
  eos_starting_ = false;
  check_eos_done ();
}

bool
Room::eos_done () const
{
  if (!others_finished_)
    return false;
  for (const auto &mp : pipelines_)
    if (mp->state () == ManagedPipeline::State::FINISHING)
      return false;
  return true;
}

void
Room::check_eos_done ()
{
  if (eos_sent_ && !eos_starting_ && eos_done () && on_eos) {
    auto done = std::move (on_eos);
    on_eos = nullptr;
    done ();
  }
}

void
Room::stop_pipelines ()
{
  for (auto &mp : pipelines_)
    mp->stop ();
  for (auto &entry : fanouts_)
    entry.second->stop ();
}

void
Room::stop ()
{
  peers_.clear ();
  if (fanout_sweep_)
    g_source_remove (fanout_sweep_);
  fanout_sweep_ = 0;
  fanouts_.clear ();
  pipelines_.clear ();
}

void
Room::release_fanout (Fanout *)
{
  /* Later, from the main loop: this may be called from within one of the
   * fan-out's own callbacks (its viewer failed). */
  if (fanout_sweep_)
    return;
  fanout_sweep_ = g_idle_add (
      [] (gpointer data) -> gboolean {
        auto *self = static_cast<Room *> (data);
        self->fanout_sweep_ = 0;
        for (auto it = self->fanouts_.begin (); it != self->fanouts_.end ();) {
          std::string video_hub = it->first.substr (0, it->first.find ('/'));
          ManagedPipeline *mp =
              video_hub.empty () ? nullptr : self->pipeline_of (video_hub);
          if (it->second->users () == 0 && mp
              && mp->start_policy () == PipelineStart::ON_DEMAND)
            it = self->fanouts_.erase (it);
          else
            ++it;
        }
        return G_SOURCE_REMOVE;
      },
      this);
}

Fanout *
Room::fanout (const RoomRoleSpec &role, bool h264, std::string &error)
{
  /* The H.264 twin is one rendition: the ladder's rungs are VP8. */
  std::vector<RoomRung> video;
  bool ladder = role.rtp_video && !h264 && !role.ladder.empty ();
  if (ladder)
    video = role.ladder;
  else if (role.rtp_video)
    video.push_back ({"", h264 ? role.h264_rtp_hub : role.rtp_hub});
  std::string audio = role.rtp_audio ? role.rtp_hub : "";
  /* A role without a ladder never shares a ladder's fan-out (its viewers
   * would be moved between rungs), nor two different ladders one. */
  std::string key = (video.empty () ? "" : video[0].hub) + "/" + audio;
  if (ladder) {
    key += "/ladder";
    for (const RoomRung &rung : video)
      key += ";" + rung.label + ":" + rung.hub;
    if (role.ladder_audio_only)
      key += std::string (";") + ROOM_AUDIO_ONLY_RUNG;
  }
  auto it = fanouts_.find (key);
  if (it != fanouts_.end ())
    return it->second.get ();
  auto fanout = std::make_unique<Fanout> (*this,
      "fanout-" + std::to_string (next_fanout_++), video, audio,
      ladder && role.ladder_audio_only);
  if (!fanout->start (error))
    return nullptr;
  Fanout *raw = fanout.get ();
  fanouts_.emplace (key, std::move (fanout));
  return raw;
}

std::vector<std::pair<std::string, guint>>
Room::rendition_counts () const
{
  std::vector<std::pair<std::string, guint>> counts;
  auto slot = [&counts] (const std::string &label) -> guint & {
    for (auto &entry : counts)
      if (entry.first == label)
        return entry.second;
    counts.push_back ({label, 0});
    return counts.back ().second;
  };
  for (const RoomRoleSpec &role : spec_.roles)
    for (const std::string &label : role.renditions ())
      slot (label);
  for (const auto &entry : fanouts_)
    if (entry.second->has_ladder ())
      for (const auto &[label, viewers] : entry.second->rendition_counts ())
        slot (label) += viewers;
  return counts;
}

void
Room::pipeline_failed (ManagedPipeline &mp)
{
  /* A pipeline that serves some peers only (on demand), one that restarts
   * and one started by hand stop alone; the room goes on.  An always-on
   * pipeline without restart is the room itself: fatal. */
  if (mp.start_policy () != PipelineStart::ALWAYS
      || mp.restart_policy () == PipelineRestart::ON_ERROR)
    return;
  if (eos_sent_) {
    check_eos_done ();
    return;
  }
  if (on_fatal)
    on_fatal (1);
}

int
Room::count_peers (const std::string &role) const
{
  int n = 0;
  for (const auto &p : peers_)
    if (p->role ().name == role)
      n++;
  return n;
}

guint64
Room::peer_capacity () const
{
  guint64 reserve = SECURITY_FILES_RESERVE + 8 * pipelines_.size ();
  return file_limit_ > reserve
             ? (file_limit_ - reserve) / SECURITY_FILES_PER_PEER
             : 0;
}

Peer *
Room::add_peer (const RoomRoleSpec &role, const std::string &name,
    const std::string &address, Peer::SendFunc send, Peer::FailFunc fail,
    std::string &error)
{
  if (count_peers (role.name) >= role.max_peers) {
    error = "the room is full: role '" + role.name + "' takes at most "
            + std::to_string (role.max_peers)
            + (role.max_peers == 1 ? " peer" : " peers");
    return nullptr;
  }
  guint pending = 0, pending_here = 0;
  for (const auto &p : peers_) {
    if (p->connected ())
      continue;
    pending++;
    pending_here += p->address () == address;
  }
  if (pending >= spec_.max_pending_joins
      || pending_here >= spec_.max_pending_joins_per_address) {
    error = "too many joins are in progress"
            + std::string (pending_here >= spec_.max_pending_joins_per_address
                               ? " from this address"
                               : "")
            + ": try again in a few seconds";
    return nullptr;
  }
  /* Refuse a peer the process could not hold rather than die of EMFILE in a
   * streaming thread. */
  guint files =
      role.fanout ? SECURITY_FILES_PER_FANOUT_VIEWER : SECURITY_FILES_PER_PEER;
  if (security_open_files () + files + SECURITY_FILES_RESERVE > file_limit_) {
    error = "the server is at capacity (" + std::to_string (file_limit_)
            + " open files allowed)";
    g_printerr (
        "gst-room: refused a %s: %s\n", role.name.c_str (), error.c_str ());
    return nullptr;
  }
  auto peer = std::make_unique<Peer> (*this, role, next_peer_id_++, name,
      address, std::move (send), std::move (fail));
  if (!peer->start (error))
    return nullptr;
  Peer *raw = peer.get ();
  peers_.push_back (std::move (peer));
  if (role.cross_route)
    update_cross_routes (role);
  GST_INFO ("peer %u joined as %s on port %d", raw->id (), role.name.c_str (),
      raw->hub_port ());
  for (RoomListener *l : std::vector<RoomListener *> (listeners_))
    l->peer_joined (*raw);
  return raw;
}

Peer *
Room::find_peer (guint id) const
{
  for (const auto &p : peers_)
    if (p->id () == id)
      return p.get ();
  return nullptr;
}

void
Room::peer_answered (Peer &peer)
{
  for (RoomListener *l : std::vector<RoomListener *> (listeners_))
    l->peer_answered (peer);
}

void
Room::remove_peer (guint id)
{
  auto it = std::find_if (peers_.begin (), peers_.end (),
      [id] (const std::unique_ptr<Peer> &p) { return p->id () == id; });
  if (it == peers_.end ())
    return;
  /* Out of the list first: nobody can reach a peer that is being torn
   * down.  The others are told at once (the console drops a killed
   * presenter without waiting for its pipeline), then it is freed. */
  std::unique_ptr<Peer> peer = std::move (*it);
  peers_.erase (it);
  const RoomRoleSpec &role = peer->role ();
  for (RoomListener *l : std::vector<RoomListener *> (listeners_))
    l->peer_left (id);
  gint64 t0 = g_get_monotonic_time ();
  peer.reset ();
  GST_INFO ("peer %u torn down in %" G_GINT64_FORMAT " ms", id,
      (g_get_monotonic_time () - t0) / 1000);
  if (role.cross_route)
    update_cross_routes (role);
}

void
Room::add_listener (RoomListener *listener)
{
  listeners_.push_back (listener);
}

void
Room::remove_listener (RoomListener *listener)
{
  listeners_.erase (
      std::remove (listeners_.begin (), listeners_.end (), listener),
      listeners_.end ());
}

void
Room::update_cross_routes (const RoomRoleSpec &role)
{
  /* Two callers on a dispatcher: each one's port gets the other's input. */
  std::vector<gint> ports;
  for (const auto &p : peers_)
    if (&p->role () == &role && p->hub_port () >= 0)
      ports.push_back (p->hub_port ());
  std::string routes;
  if (ports.size () == 2)
    routes = std::to_string (ports[0]) + ">" + std::to_string (ports[1]) + ","
             + std::to_string (ports[1]) + ">" + std::to_string (ports[0]);
  GstElement *hub = find_element (role.hub);
  if (hub) {
    g_object_set (hub, "routes", routes.c_str (), nullptr);
    gst_object_unref (hub);
  }
}
