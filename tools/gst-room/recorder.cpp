/* gst-room: recordings of the program and of each participant. */
#include "recorder.h"
#include "security.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "peer.h"

using nlohmann::json;

GST_DEBUG_CATEGORY_STATIC (recorder_debug);
#define GST_CAT_DEFAULT recorder_debug

namespace {

/* Muxing for crash safety: a cluster (WebM) or fragment (MP4) at least
 * every second, written straight to the file, so after kill -9 all but the
 * last second decodes. */
const char *const WEBM_MUX = "webmmux name=mux max-cluster-duration=1000000000 "
                             "offset-to-zero=true";
const char *const MP4_MUX = "mp4mux name=mux fragment-duration=1000";
const char *const FILE_SINK =
    "filesink name=file buffer-mode=unbuffered async=false";
/* Browsers' Opus comes without a rate in its caps, which WebM needs: Opus
 * is always 48 kHz to its decoder (capssetter adds it). */
/* Queues in front of the depayloaders hold what comes while the muxer waits
 * for the other stream (a camera that is off for a while). */
const char *const HOLD_QUEUE = "queue max-size-buffers=0 max-size-bytes=0 "
                               "max-size-time=30000000000";

/* Letters, digits, '-' and '_' only: part of a file name. */
std::string
file_part (const std::string &text)
{
  std::string out;
  for (char c : text)
    out += g_ascii_isalnum (c) || c == '-' || c == '_' ? c : '_';
  return out.empty () ? "x" : out.substr (0, 40);
}

guint64
file_size (const std::string &path)
{
  struct stat st;
  return stat (path.c_str (), &st) == 0 ? (guint64)st.st_size : 0;
}

/* Sets *first to the monotonic time the first buffer reaches any of mux's
 * inputs. */
void
note_first_media (
    GstElement *mux, const std::shared_ptr<std::atomic<gint64>> &first)
{
  using First = std::shared_ptr<std::atomic<gint64>>;
  GstIterator *pads = gst_element_iterate_sink_pads (mux);
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (pads, &item) == GST_ITERATOR_OK) {
    auto *pad = GST_PAD (g_value_get_object (&item));
    gst_pad_add_probe (
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *, gpointer data) {
          gint64 none = 0;
          (*static_cast<First *> (data))
              ->compare_exchange_strong (none, g_get_monotonic_time ());
          return GST_PAD_PROBE_OK;
        },
        new First (first),
        [] (gpointer data) { delete static_cast<First *> (data); });
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (pads);
}

} // namespace

struct Recorder::Recording {
  guint id = 0;
  std::string source; /* program | participant | api */
  std::string key;    /* a participant's name or peer id */
  std::string label;  /* what the console shows */
  guint peer = 0;     /* the participant's current peer, 0 while away */
  std::string codec;  /* a participant's video codec: VP8, H264, or none */
  std::string format, path;
  std::string state = "recording"; /* recording | finishing | finished |
                                      failed */
  std::string error;
  gint64 started = 0, ended = 0; /* monotonic µs */
  std::unique_ptr<ManagedPipeline> pipeline;
  GstElement *port = nullptr; /* the hubport, owned by the pipeline */
  std::string on_demand_hub;  /* the H.264 program, kept running */
  /* Set (main thread) when finishing: the probes then drop everything but
   * the EOS the recorder sends. */
  std::shared_ptr<std::atomic<int>> stopping =
      std::make_shared<std::atomic<int>> (0);
  /* When the first packet reached the muxer (monotonic µs, 0 before): the
   * file's timeline starts there, a keyframe wait after `started`. */
  std::shared_ptr<std::atomic<gint64>> first_media =
      std::make_shared<std::atomic<gint64>> (0);
};

Recorder::Recorder (Room &room) : room_ (room), spec_ (room.spec ().recording)
{
  GST_DEBUG_CATEGORY_INIT (
      recorder_debug, "gstroom-recorder", 0, "gst-room recordings");
  room_.add_listener (this);
}

Recorder::~Recorder ()
{
  room_.remove_listener (this);
  if (tick_)
    g_source_remove (tick_);
  recordings_.clear ();
  if (hub_element_)
    gst_object_unref (hub_element_);
  hub_.reset ();
}

bool
Recorder::build (std::string &error)
{
  /* The recordings' hub: every peer's incoming RTP packets.  Its outputs
   * keep the room clock's time (keep-running-time), so a participant who
   * comes back lands in the file where it came; a small live source on
   * port 0 paces the GAP events of an output whose participant is away. */
  std::string description =
      std::string ("dispatcher source=-1 keep-running-time=true name=")
      + RECORDING_HUB
      + " ! fakesink sync=false async=false "
        "videotestsrc is-live=true pattern=black ! "
        "video/x-raw,width=16,height=16,framerate=5/1 ! "
      + RECORDING_HUB + ".sink_0";
  GstElement *bin = room_parse_branch (description.c_str (), error);
  if (!bin)
    return false;
  GstElement *pipeline = gst_pipeline_new ("recordings-hub");
  gst_bin_add (GST_BIN (pipeline), bin);
  hub_element_ = gst_bin_get_by_name (GST_BIN (pipeline), RECORDING_HUB);
  hub_ = std::make_unique<ManagedPipeline> ("recordings-hub", pipeline,
      room_.clock (), PipelineStart::ALWAYS, PipelineRestart::ON_ERROR);
  if (spec_.record_program) {
    GstElement *program = room_.find_element (spec_.program);
    if (!program) {
      error = room_.spec ().where (spec_.line)
              + ": [recording] record=program: no element named '"
              + spec_.program
              + "' (the encoded program's dispatcher; set program=)";
      return false;
    }
    gst_object_unref (program);
  }
  return true;
}

void
Recorder::room_started ()
{
  std::string error;
  if (!hub_->start (error))
    g_printerr ("gst-room: recordings: %s\n", error.c_str ());
  if (spec_.record_program && !start ("program", 0, "", "", error))
    g_printerr ("gst-room: cannot record the program: %s\n", error.c_str ());
  tick_ = g_timeout_add_seconds (1, on_tick, this);
}

gboolean
Recorder::on_tick (gpointer data)
{
  auto *self = static_cast<Recorder *> (data);
  for (const auto &rec : self->recordings_)
    if (rec->state == "recording") {
      self->notify ();
      break;
    }
  return G_SOURCE_CONTINUE;
}

std::string
Recorder::participant_key (const Peer &peer) const
{
  return peer.name ().empty () ? "peer " + std::to_string (peer.id ())
                               : peer.role ().name + " " + peer.name ();
}

Recorder::Recording *
Recorder::find (guint id) const
{
  for (const auto &rec : recordings_)
    if (rec->id == id)
      return rec.get ();
  return nullptr;
}

Recorder::Recording *
Recorder::running_for (const std::string &key) const
{
  for (const auto &rec : recordings_)
    if (rec->key == key
        && (rec->state == "recording" || rec->state == "finishing"))
      return rec.get ();
  return nullptr;
}

void
Recorder::peer_joined (Peer &)
{
  /* Nothing yet: what a participant sends (VP8 or H.264, so WebM or MP4) is
   * known once its browser answers. */
}

void
Recorder::peer_answered (Peer &peer)
{
  if (peer.record_port () < 0)
    return;
  std::string key = participant_key (peer);
  Recording *rec = running_for (key);
  std::string error;
  if (rec && rec->state == "recording") {
    if (rec->codec == peer.sent_video_codec ()) {
      /* Back after leaving: the same recording goes on. */
      GST_INFO ("recording %u: %s is back as peer %u", rec->id, key.c_str (),
          peer.id ());
      rec->peer = peer.id ();
      update_routes ();
      notify ();
      return;
    }
    /* Back with another codec (another browser): that file cannot take
     * it, so it is finished and a new one goes on. */
    g_print ("gst-room: recording %u: %s is back sending %s, not %s: "
             "a new file\n",
        rec->id, key.c_str (), peer.sent_video_codec ().c_str (),
        rec->codec.c_str ());
    stop (rec->id, error);
  } else if (!spec_.record_participants) {
    return;
  }
  if (!start ("peer", peer.id (), "", "", error))
    g_printerr (
        "gst-room: cannot record %s: %s\n", key.c_str (), error.c_str ());
}

void
Recorder::peer_left (guint id)
{
  bool changed = false;
  for (const auto &rec : recordings_)
    if (rec->peer == id) {
      rec->peer = 0; /* the recording waits for the participant */
      changed = true;
    }
  if (changed) {
    update_routes ();
    notify ();
  }
}

bool
Recorder::folder_allowed (
    const std::string &folder, std::string &resolved, std::string &error) const
{
  std::string wanted = folder.empty () ? spec_.folders.front () : folder;
  /* Judged by where it really is, links followed, with the same words
   * whether it exists or not. */
  std::string refused = "'" + wanted
                        + "' is not a folder the room file allows "
                          "([recording] folders)";
  if (!g_path_is_absolute (wanted.c_str ())) {
    error = refused;
    return false;
  }
  gchar *lexical = g_canonicalize_filename (wanted.c_str (), "/");
  std::string plain = lexical;
  g_free (lexical);
  std::string real = security_real_path (plain);
  bool inside = false;
  for (const std::string &allowed : spec_.folders) {
    std::string base = security_real_path (allowed);
    if (base.empty ())
      continue;
    inside = inside || real == base || real.rfind (base + "/", 0) == 0;
  }
  if (real.empty () || !inside) {
    error = refused;
    return false;
  }
  if (!g_file_test (real.c_str (), G_FILE_TEST_IS_DIR)) {
    error = "'" + wanted + "' is not a folder";
    return false;
  }
  resolved = real;
  return true;
}

std::string
Recorder::file_name (const std::string &folder, const std::string &source,
    const std::string &format) const
{
  gchar *base = g_path_get_basename (room_.spec ().path.c_str ());
  std::string room = base;
  g_free (base);
  auto dot = room.rfind ('.');
  if (dot != std::string::npos && dot > 0)
    room = room.substr (0, dot);
  GDateTime *now = g_date_time_new_now_utc ();
  gchar *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");
  std::string when = stamp + std::string ("Z");
  g_free (stamp);
  g_date_time_unref (now);
  return folder + "/" + file_part (room) + "-" + file_part (source) + "-" + when
         + (format == "mp4" ? ".mp4" : ".webm");
}

std::string
recording_tail (const std::string &format)
{
  return std::string (format == "mp4" ? MP4_MUX : WEBM_MUX) + " ! " + FILE_SINK;
}

void
recording_mark_keyframes (GstElement *bin)
{
  GstElement *mux = gst_bin_get_by_name (GST_BIN (bin), "mux");
  if (!mux)
    return;
  GstElementFactory *factory = gst_element_get_factory (mux);
  GstPad *video = factory && g_str_equal (GST_OBJECT_NAME (factory), "webmmux")
                      ? gst_element_get_static_pad (mux, "video_0")
                      : nullptr;
  if (video) {
    gst_pad_add_probe (
        video, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *, GstPadProbeInfo *info, gpointer) {
          GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
          if (GST_BUFFER_DURATION_IS_VALID (buf)) {
            buf = gst_buffer_make_writable (buf);
            GST_BUFFER_DURATION (buf) = GST_CLOCK_TIME_NONE;
            GST_PAD_PROBE_INFO_DATA (info) = buf;
          }
          return GST_PAD_PROBE_OK;
        },
        nullptr, nullptr);
    gst_object_unref (video);
  }
  gst_object_unref (mux);
}

std::string
Recorder::describe_pipeline (const Recording &rec, const std::string &format,
    bool audio, bool video) const
{
  std::string d;
  if (rec.source == "program" && format == "mp4") {
    /* The H.264 the room encodes for H.264 viewers, the program's Opus. */
    d = "hubport name=port hub=" + spec_.program_h264 + " port.src ! "
        + HOLD_QUEUE
        + " name=vq ! rtph264depay wait-for-keyframe=true "
          "request-keyframe=true ! h264parse ! mux.video_0 "
        + "hubport name=aport hub=" + spec_.program + " aport.audio_src ! "
        + HOLD_QUEUE + " name=aq ! rtpopusdepay ! opusparse ! mux.audio_0 "
        + recording_tail ("mp4");
    return d;
  }
  std::string hub = rec.source == "program" ? spec_.program : RECORDING_HUB;
  d = "hubport name=port hub=" + hub + " ";
  if (video && rec.codec == "H264")
    /* In-band parameter sets (avc3): a browser's H.264 changes resolution
     * as its bandwidth estimate grows, and each keyframe says its size. */
    d += std::string ("port.src ! ") + HOLD_QUEUE
         + " name=vq ! rtph264depay request-keyframe=true "
           "wait-for-keyframe=true ! h264parse config-interval=-1 ! "
           "video/x-h264,stream-format=avc3,alignment=au ! mux.video_0 ";
  else if (video)
    d += std::string ("port.src ! ") + HOLD_QUEUE
         + " name=vq ! rtpvp8depay request-keyframe=true "
           "wait-for-keyframe=true ! mux.video_0 ";
  if (audio && format == "mp4")
    d += std::string ("port.audio_src ! ") + HOLD_QUEUE
         + " name=aq ! rtpopusdepay ! opusparse ! mux.audio_0 ";
  else if (audio)
    d += std::string ("port.audio_src ! ") + HOLD_QUEUE
         + " name=aq ! rtpopusdepay ! capssetter "
           "caps=\"audio/x-opus,rate=48000\" ! mux.audio_0 ";
  d += recording_tail (format);
  return d;
}

guint
Recorder::start (const std::string &source, guint peer_id,
    const std::string &folder, const std::string &format_wanted,
    std::string &error)
{
  if (!spec_.present) {
    error = "this room records nothing (no [recording] group)";
    return 0;
  }
  std::string format = format_wanted.empty () ? spec_.format : format_wanted;
  if (format != "webm" && format != "mp4") {
    error = "a recording is webm or mp4, not '" + format + "'";
    return 0;
  }
  auto rec = std::make_unique<Recording> ();
  bool audio = true, video = true;
  if (source == "program") {
    /* One WebM and one MP4 of the program may run side by side. */
    rec->source = "program";
    rec->key = rec->label = format == "mp4" ? "program mp4" : "program";
  } else if (source == "peer") {
    Peer *peer = room_.find_peer (peer_id);
    if (!peer || peer->record_port () < 0) {
      error = "peer " + std::to_string (peer_id)
              + (peer ? " sends nothing to record" : " is not in the room");
      return 0;
    }
    if (!peer->answered ()) {
      error = "peer " + std::to_string (peer_id)
              + " has not answered yet: what it sends is not known";
      return 0;
    }
    rec->source = "participant";
    rec->key = participant_key (*peer);
    rec->label = rec->key;
    rec->peer = peer_id;
    audio = peer->role ().send_audio;
    video = peer->role ().send_video;
    /* As the browser sends it, never transcoded: VP8 goes into WebM, H.264
     * into MP4 (neither container takes the other codec). */
    rec->codec = video ? peer->sent_video_codec () : "";
    if (!rec->codec.empty ()) {
      std::string fits = rec->codec == "H264" ? "mp4" : "webm";
      if (!format_wanted.empty () && format_wanted != fits) {
        error = rec->key + " sends "
                + (rec->codec == "H264" ? "H.264: MP4" : "VP8: WebM") + " only";
        return 0;
      }
      format = fits;
    }
    room_.dump_dot (
        peer->pipeline (), "peer-" + std::to_string (peer_id) + "-recorded");
  } else {
    error = "a recording's source is 'program' or 'peer', not '"
            + source.substr (0, 40) + "'";
    return 0;
  }
  Recording *running = running_for (rec->key);
  if (running && running->state == "recording") {
    error = rec->label + " is being recorded already";
    return 0;
  }
  std::string dir;
  if (!folder_allowed (folder, dir, error))
    return 0;
  if (source == "program" && format == "mp4") {
    if (!room_.use_on_demand (spec_.program_h264, error)) {
      error = "no H.264 program to record as MP4: " + error;
      return 0;
    }
    rec->on_demand_hub = spec_.program_h264;
  }
  /* The name is reserved by creating the file: two recordings never share
   * one, and an unwritable folder is found now. */
  std::string path = file_name (dir, rec->key, format);
  int fd = -1;
  for (int n = 2; fd < 0 && n < 100; n++) {
    fd = open (path.c_str (), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
      break;
    if (fd < 0) {
      std::string ext = format == "mp4" ? ".mp4" : ".webm";
      std::string stem = file_name (dir, rec->key, format);
      path = stem.substr (0, stem.size () - ext.size ()) + "-"
             + std::to_string (n) + ext;
    }
  }
  if (fd < 0) {
    error = "cannot write into " + dir + ": " + g_strerror (errno);
    if (!rec->on_demand_hub.empty ())
      room_.release_on_demand (rec->on_demand_hub);
    return 0;
  }
  close (fd);
  rec->id = next_id_++;
  rec->format = format;
  rec->path = path;

  std::string description = describe_pipeline (*rec, format, audio, video);
  GstElement *bin = room_parse_branch (description.c_str (), error);
  if (!bin) {
    unlink (path.c_str ());
    if (!rec->on_demand_hub.empty ())
      room_.release_on_demand (rec->on_demand_hub);
    return 0;
  }
  std::string name = "recording-" + std::to_string (rec->id);
  GstElement *pipeline = gst_pipeline_new (name.c_str ());
  gst_bin_add (GST_BIN (pipeline), bin);
  GstElement *file = gst_bin_get_by_name (GST_BIN (pipeline), "file");
  g_object_set (file, "location", path.c_str (), nullptr);
  /* The hubports are sinks that never end: the file's EOS is the
   * recording's. */
  GstPad *file_sink = gst_element_get_static_pad (file, "sink");
  gst_pad_add_probe (
      file_sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      [] (GstPad *pad, GstPadProbeInfo *info, gpointer) {
        if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
          GstObject *sink = gst_pad_get_parent (pad);
          gst_element_post_message (GST_ELEMENT (sink),
              gst_message_new_element (sink,
                  gst_structure_new_empty (ManagedPipeline::FINISHED_MESSAGE)));
          gst_object_unref (sink);
        }
        return GST_PAD_PROBE_OK;
      },
      nullptr, nullptr);
  gst_object_unref (file_sink);
  gst_object_unref (file);
  /* A browser changes its camera's resolution as its bandwidth estimate
   * grows; the muxers take no new size after their header, while VP8 and
   * H.264 with in-band parameter sets carry it in every keyframe: the muxer
   * keeps the first caps. */
  GstElement *mux = gst_bin_get_by_name (GST_BIN (pipeline), "mux");
  GstPad *mux_video = mux && (format == "webm" || rec->source == "participant")
                          ? gst_element_get_static_pad (mux, "video_0")
                          : nullptr;
  if (mux_video) {
    gst_pad_add_probe (
        mux_video, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
          GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
          if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
            return GST_PAD_PROBE_OK;
          auto **first = static_cast<GstCaps **> (data);
          GstCaps *caps = nullptr;
          gst_event_parse_caps (event, &caps);
          if (!*first) {
            *first = gst_caps_ref (caps);
          } else if (!gst_caps_is_equal (caps, *first)) {
            GST_INFO ("keeping the first video caps in the file, not "
                      "%" GST_PTR_FORMAT,
                caps);
            gst_event_unref (event);
            GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (*first);
          }
          return GST_PAD_PROBE_OK;
        },
        g_new0 (GstCaps *, 1),
        [] (gpointer data) {
          auto **first = static_cast<GstCaps **> (data);
          if (*first)
            gst_caps_unref (*first);
          g_free (first);
        });
    gst_object_unref (mux_video);
  }
  recording_mark_keyframes (pipeline);
  if (mux) {
    note_first_media (mux, rec->first_media);
    gst_object_unref (mux);
  }
  rec->port = gst_bin_get_by_name (GST_BIN (pipeline), "port");
  gst_object_unref (rec->port); /* the pipeline holds it */

  /* Past the hubports: GAP events never reach the muxer (it would write
   * them as empty frames), and once finishing only our EOS passes. */
  for (const char *queue : {"vq", "aq"}) {
    GstElement *q = gst_bin_get_by_name (GST_BIN (pipeline), queue);
    if (!q)
      continue;
    GstPad *sink = gst_element_get_static_pad (q, "sink");
    auto *stopping = new std::shared_ptr<std::atomic<int>> (rec->stopping);
    gst_pad_add_probe (
        sink, GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
          auto &stop = *static_cast<std::shared_ptr<std::atomic<int>> *> (data);
          GstEvent *event = (GST_PAD_PROBE_INFO_TYPE (info)
                                & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)
                                ? GST_PAD_PROBE_INFO_EVENT (info)
                                : nullptr;
          if (event && GST_EVENT_TYPE (event) == GST_EVENT_GAP)
            return GST_PAD_PROBE_DROP;
          if (stop->load () == 0)
            return GST_PAD_PROBE_OK;
          if (event && GST_EVENT_TYPE (event) == GST_EVENT_EOS
              && stop->load () == 2)
            return GST_PAD_PROBE_OK;
          return GST_PAD_PROBE_DROP;
        },
        stopping,
        [] (gpointer data) {
          delete static_cast<std::shared_ptr<std::atomic<int>> *> (data);
        });
    gst_object_unref (sink);
    gst_object_unref (q);
  }

  rec->pipeline = std::make_unique<ManagedPipeline> (name, pipeline,
      room_.clock (), PipelineStart::MANUAL, PipelineRestart::NEVER);
  Recording *raw = rec.get ();
  auto stopping = rec->stopping;
  rec->pipeline->finish_hook = [stopping] (GstElement *p) {
    /* EOS into the queues in front of the depayloaders: the muxer
     * finishes the file (duration, index). */
    stopping->store (1);
    bool sent = false;
    for (const char *queue : {"vq", "aq"}) {
      GstElement *q = gst_bin_get_by_name (GST_BIN (p), queue);
      if (!q)
        continue;
      GstPad *sink = gst_element_get_static_pad (q, "sink");
      stopping->store (2);
      sent = gst_pad_send_event (sink, gst_event_new_eos ()) || sent;
      stopping->store (1);
      gst_object_unref (sink);
      gst_object_unref (q);
    }
    return sent;
  };
  rec->pipeline->on_error = [this, raw] (
                                const std::string &why) { failed (*raw, why); };
  rec->pipeline->on_dump = [this, raw] (const std::string &event) {
    room_.dump_dot (
        raw->pipeline->pipeline (), raw->pipeline->name () + "-" + event);
  };
  rec->started = g_get_monotonic_time ();
  if (!rec->pipeline->start (error)) {
    unlink (path.c_str ());
    if (!rec->on_demand_hub.empty ())
      room_.release_on_demand (rec->on_demand_hub);
    return 0;
  }
  guint id = rec->id;
  g_print ("gst-room: recording %u: %s into %s\n", id, rec->label.c_str (),
      path.c_str ());
  recordings_.push_back (std::move (rec));
  update_routes ();
  notify ();
  return id;
}

void
Recorder::update_routes ()
{
  /* Each participant's recording gets that participant's packets; one away
   * gets nothing (its recording waits). */
  std::string routes;
  for (const auto &rec : recordings_) {
    if (rec->source != "participant" || rec->state != "recording" || !rec->peer)
      continue;
    Peer *peer = room_.find_peer (rec->peer);
    gint from = peer ? peer->record_port () : -1, to = -1;
    g_object_get (rec->port, "port", &to, nullptr);
    if (from < 0 || to < 0)
      continue;
    /* INPUT>OUTPUT */
    routes += (routes.empty () ? "" : ",") + std::to_string (from) + ">"
              + std::to_string (to);
  }
  GST_INFO ("recordings' routes: '%s'", routes.c_str ());
  if (hub_element_)
    g_object_set (hub_element_, "routes", routes.c_str (), nullptr);
}

guint
Recorder::track_external (const std::string &label, const std::string &path,
    const std::string &format)
{
  auto rec = std::make_unique<Recording> ();
  rec->id = next_id_++;
  rec->source = "api";
  rec->key = "api " + std::to_string (rec->id);
  rec->label = label;
  rec->path = path;
  rec->format = format;
  rec->started = g_get_monotonic_time ();
  guint id = rec->id;
  recordings_.push_back (std::move (rec));
  notify ();
  return id;
}

void
Recorder::external_ended (guint id, const std::string &error)
{
  Recording *rec = find (id);
  if (!rec || rec->pipeline || rec->state != "recording")
    return;
  rec->ended = g_get_monotonic_time ();
  rec->state = error.empty () ? "finished" : "failed";
  rec->error = error;
  notify ();
}

bool
Recorder::stop (guint id, std::string &error)
{
  Recording *rec = find (id);
  if (!rec) {
    error = "no recording " + std::to_string (id);
    return false;
  }
  if (!rec->pipeline && rec->state == "recording") {
    error = "recording " + std::to_string (id)
            + " was started through the control API: stop it there";
    return false;
  }
  if (rec->state != "recording") {
    error =
        "recording " + std::to_string (id) + " is " + rec->state + " already";
    return false;
  }
  rec->state = "finishing";
  rec->ended = g_get_monotonic_time ();
  update_routes ();
  /* Within the 5 s Ctrl-C gives the whole room. */
  rec->pipeline->finish (
      [this, rec] () {
        if (rec->state == "finishing")
          rec->state = "finished";
        if (!rec->on_demand_hub.empty ()) {
          room_.release_on_demand (rec->on_demand_hub);
          rec->on_demand_hub.clear ();
        }
        g_print ("gst-room: recording %u: %s finished (%s)\n", rec->id,
            rec->label.c_str (), rec->path.c_str ());
        notify ();
        if (finishing_ > 0 && --finishing_ == 0 && all_done_) {
          auto done = std::move (all_done_);
          all_done_ = nullptr;
          done ();
        }
      },
      4000);
  notify ();
  return true;
}

void
Recorder::finish_all (std::function<void ()> done)
{
  std::vector<guint> running;
  for (const auto &rec : recordings_)
    if (rec->state == "recording" && rec->pipeline)
      running.push_back (rec->id);
  if (tick_) {
    g_source_remove (tick_);
    tick_ = 0;
  }
  if (running.empty ()) {
    done ();
    return;
  }
  finishing_ = (int)running.size ();
  all_done_ = std::move (done);
  std::string ignored;
  for (guint id : running)
    stop (id, ignored);
}

void
Recorder::stop_pipelines ()
{
  for (const auto &rec : recordings_)
    if (rec->pipeline)
      rec->pipeline->stop ();
  if (hub_)
    hub_->stop ();
}

void
Recorder::failed (Recording &rec, const std::string &why)
{
  bool was_finishing = rec.state == "finishing";
  rec.state = "failed";
  rec.error = why;
  if (!rec.ended)
    rec.ended = g_get_monotonic_time ();
  g_printerr ("gst-room: recording %u (%s into %s) stopped: %s\n", rec.id,
      rec.label.c_str (), rec.path.c_str (), why.c_str ());
  if (!was_finishing && !rec.on_demand_hub.empty ()) {
    room_.release_on_demand (rec.on_demand_hub);
    rec.on_demand_hub.clear ();
  }
  update_routes ();
  if (to_control)
    to_control ({{"type", "error"}, {"code", "recording-failed"},
        {"message", "recording " + std::to_string (rec.id) + " (" + rec.label
                        + ") stopped: " + why},
        {"recording", rec.id}});
  notify ();
}

json
Recorder::list () const
{
  json items = json::array ();
  gint64 now = g_get_monotonic_time ();
  for (const auto &rec : recordings_) {
    gint64 end = rec->ended ? rec->ended : now;
    json item = {{"id", rec->id}, {"source", rec->source},
        {"label", rec->label}, {"path", rec->path}, {"format", rec->format},
        {"state", rec->state},
        {"duration", (end - rec->started) / 1000 / 1000.0},
        /* How long the file lasts: from its first packet on. */
        {"media", *rec->first_media ? (end - *rec->first_media) / 1000 / 1000.0
                                    : 0.0},
        {"size", file_size (rec->path)}};
    if (rec->source == "participant")
      item["present"] = rec->peer != 0 || rec->state != "recording";
    if (!rec->error.empty ())
      item["error"] = rec->error;
    items.push_back (item);
  }
  return {{"type", "recordings"}, {"recordings", items}};
}

void
Recorder::notify ()
{
  if (to_control)
    to_control (list ());
}
