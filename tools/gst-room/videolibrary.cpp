/* gst-room: the videos an operator may inject. */
#include "videolibrary.h"

#include <algorithm>
#include <cmath>

GST_DEBUG_CATEGORY_STATIC (video_library_debug);
#define GST_CAT_DEFAULT video_library_debug

/* How long one file may take to tell what it holds. */
#define DISCOVER_TIMEOUT (5 * GST_SECOND)

VideoLibrary::VideoLibrary (std::vector<std::string> folders,
    std::function<bool (const std::string &uri)> allowed)
    : folders_ (std::move (folders)), allowed_ (std::move (allowed))
{
  GST_DEBUG_CATEGORY_INIT (
      video_library_debug, "gstroom-videos", 0, "gst-room video library");
}

VideoLibrary::~VideoLibrary ()
{
  if (discoverer_) {
    g_signal_handlers_disconnect_by_data (discoverer_, this);
    gst_discoverer_stop (discoverer_);
    gst_object_unref (discoverer_);
  }
}

void
VideoLibrary::scan (std::function<void (const std::vector<Video> &)> done)
{
  waiting_.push_back (std::move (done));
  if (discoverer_)
    return;

  /* Regular files straight inside each folder, by name: the discoverer
   * says which are videos. */
  std::vector<std::string> uris;
  for (const std::string &folder : folders_) {
    GDir *dir = g_dir_open (folder.c_str (), 0, nullptr);
    if (!dir)
      continue;
    std::vector<std::string> names;
    while (const gchar *name = g_dir_read_name (dir))
      names.push_back (name);
    g_dir_close (dir);
    std::sort (names.begin (), names.end ());
    for (const std::string &name : names) {
      gchar *path = g_build_filename (folder.c_str (), name.c_str (), nullptr);
      gchar *uri = g_file_test (path, G_FILE_TEST_IS_REGULAR)
                       ? g_filename_to_uri (path, nullptr, nullptr)
                       : nullptr;
      g_free (path);
      if (uri && allowed_ (uri) && uris.size () < MAX_FILES)
        uris.push_back (uri);
      g_free (uri);
    }
  }

  found_.clear ();
  GError *error = nullptr;
  discoverer_ =
      uris.empty () ? nullptr : gst_discoverer_new (DISCOVER_TIMEOUT, &error);
  if (!discoverer_) {
    if (error) {
      GST_WARNING ("no discoverer: %s", error->message);
      g_error_free (error);
    }
    on_finished (nullptr, this);
    return;
  }
  g_signal_connect (
      discoverer_, "discovered", G_CALLBACK (on_discovered), this);
  g_signal_connect (discoverer_, "finished", G_CALLBACK (on_finished), this);
  gst_discoverer_start (discoverer_);
  for (const std::string &uri : uris)
    gst_discoverer_discover_uri_async (discoverer_, uri.c_str ());
}

void
VideoLibrary::on_discovered (
    GstDiscoverer *, GstDiscovererInfo *info, GError *error, gpointer data)
{
  auto *self = static_cast<VideoLibrary *> (data);
  const gchar *uri = gst_discoverer_info_get_uri (info);
  if (error || gst_discoverer_info_get_result (info) != GST_DISCOVERER_OK) {
    GST_DEBUG ("%s: not a video (%s)", uri, error ? error->message : "");
    return;
  }
  /* A video stream that is not a still image. */
  bool video = false;
  GList *streams = gst_discoverer_info_get_video_streams (info);
  for (GList *l = streams; l; l = l->next)
    video = video
            || !gst_discoverer_video_info_is_image (
                GST_DISCOVERER_VIDEO_INFO (l->data));
  gst_discoverer_stream_info_list_free (streams);
  if (!video)
    return;
  GstClockTime duration = gst_discoverer_info_get_duration (info);
  gchar *filename = g_filename_from_uri (uri, nullptr, nullptr);
  gchar *base = filename ? g_path_get_basename (filename) : g_strdup (uri);
  /* File names need not be UTF-8; the console gets text it can show. */
  gchar *display = g_filename_display_name (base);
  self->found_.push_back ({uri, display,
      GST_CLOCK_TIME_IS_VALID (duration) ? duration / 1e9 : 0.0});
  g_free (display);
  g_free (base);
  g_free (filename);
}

void
VideoLibrary::on_finished (GstDiscoverer *, gpointer data)
{
  auto *self = static_cast<VideoLibrary *> (data);
  if (self->discoverer_) {
    /* Not stopped from its own signal: unreffed on the next idle. */
    GstDiscoverer *d = self->discoverer_;
    self->discoverer_ = nullptr;
    g_signal_handlers_disconnect_by_data (d, self);
    g_idle_add (
        [] (gpointer p) -> gboolean {
          gst_discoverer_stop (GST_DISCOVERER (p));
          gst_object_unref (p);
          return G_SOURCE_REMOVE;
        },
        d);
  }
  std::sort (self->found_.begin (), self->found_.end (),
      [] (const Video &a, const Video &b) { return a.name < b.name; });
  auto waiting = std::move (self->waiting_);
  self->waiting_.clear ();
  for (auto &done : waiting)
    done (self->found_);
}

nlohmann::json
VideoLibrary::to_json (const std::vector<Video> &videos)
{
  nlohmann::json list = nlohmann::json::array ();
  for (const Video &v : videos)
    list.push_back ({{"uri", v.uri}, {"name", v.name},
        {"duration", v.duration > 0
                         ? nlohmann::json (std::round (v.duration * 10) / 10)
                         : nlohmann::json (nullptr)}});
  return list;
}
