/* gst-room: the videos an operator may inject. */
#include "videolibrary.h"

#include <algorithm>
#include <cmath>

GST_DEBUG_CATEGORY_STATIC (video_library_debug);
#define GST_CAT_DEFAULT video_library_debug

/* How long one file may take to tell what it holds. */
#define DISCOVER_TIMEOUT (5 * GST_SECOND)

namespace {

/* Only files named as videos are looked into: a folder of sample data may
 * hold many images and documents, each a pipeline to spin up. */
bool
named_as_video (const std::string &name)
{
  static const char *const extensions[] = {".webm", ".mkv", ".mp4", ".m4v",
      ".mov", ".avi", ".ogv", ".ogg", ".mpg", ".mpeg", ".ts", ".mts", ".flv",
      ".wmv", ".3gp", ".y4m"};
  gchar *lower = g_ascii_strdown (name.c_str (), -1);
  bool video = false;
  for (const char *e : extensions)
    video = video || g_str_has_suffix (lower, e);
  g_free (lower);
  return video;
}

} // namespace

VideoLibrary::VideoLibrary (std::vector<std::string> folders,
    std::function<bool (const std::string &uri)> allowed)
    : folders_ (std::move (folders)), allowed_ (std::move (allowed))
{
  GST_DEBUG_CATEGORY_INIT (
      video_library_debug, "gstroom-videos", 0, "gst-room video library");
}

VideoLibrary::~VideoLibrary ()
{
  if (scan_) {
    scan_->cancelled = true;
    scan_->owner = nullptr;
  }
  /* At most the file being looked at (DISCOVER_TIMEOUT). */
  if (thread_.joinable ())
    thread_.join ();
}

void
VideoLibrary::scan (std::function<void (const std::vector<Video> &)> done)
{
  waiting_.push_back (std::move (done));
  if (scan_)
    return;

  /* Regular files named as videos straight inside each folder, by name:
   * the discoverer says which really are. */
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
      if (!named_as_video (name))
        continue;
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

  if (thread_.joinable ())
    thread_.join (); /* the last scan's, already finished */
  scan_ = std::make_shared<Scan> ();
  scan_->owner = this;
  thread_ = std::thread (run_scan, scan_, std::move (uris));
}

void
VideoLibrary::run_scan (
    std::shared_ptr<Scan> scan, std::vector<std::string> uris)
{
  GError *error = nullptr;
  GstDiscoverer *discoverer =
      uris.empty () ? nullptr : gst_discoverer_new (DISCOVER_TIMEOUT, &error);
  if (error) {
    GST_WARNING ("no discoverer: %s", error->message);
    g_clear_error (&error);
  }
  for (const std::string &uri : uris) {
    if (!discoverer || scan->cancelled)
      break;
    GstDiscovererInfo *info =
        gst_discoverer_discover_uri (discoverer, uri.c_str (), &error);
    if (!error && info
        && gst_discoverer_info_get_result (info) == GST_DISCOVERER_OK) {
      /* A video stream that is not a still image. */
      bool video = false;
      GList *streams = gst_discoverer_info_get_video_streams (info);
      for (GList *l = streams; l; l = l->next)
        video = video
                || !gst_discoverer_video_info_is_image (
                    GST_DISCOVERER_VIDEO_INFO (l->data));
      gst_discoverer_stream_info_list_free (streams);
      if (video) {
        GstClockTime duration = gst_discoverer_info_get_duration (info);
        gchar *filename = g_filename_from_uri (uri.c_str (), nullptr, nullptr);
        gchar *base =
            filename ? g_path_get_basename (filename) : g_strdup (uri.c_str ());
        /* File names need not be UTF-8; the console gets text it can
         * show. */
        gchar *display = g_filename_display_name (base);
        scan->found.push_back ({uri, display,
            GST_CLOCK_TIME_IS_VALID (duration) ? duration / 1e9 : 0.0});
        g_free (display);
        g_free (base);
        g_free (filename);
      }
    } else {
      GST_DEBUG (
          "%s: not a video (%s)", uri.c_str (), error ? error->message : "");
    }
    g_clear_error (&error);
    if (info)
      gst_discoverer_info_unref (info);
  }
  if (discoverer)
    gst_object_unref (discoverer);
  /* The report, on the main loop: the shared_ptr keeps the scan alive. */
  g_idle_add_full (
      G_PRIORITY_DEFAULT_IDLE,
      [] (gpointer data) -> gboolean {
        auto *held = static_cast<std::shared_ptr<Scan> *> (data);
        if ((*held)->owner)
          (*held)->owner->finished ();
        return G_SOURCE_REMOVE;
      },
      new std::shared_ptr<Scan> (scan),
      [] (gpointer data) {
        delete static_cast<std::shared_ptr<Scan> *> (data);
      });
}

void
VideoLibrary::finished ()
{
  std::vector<Video> found = std::move (scan_->found);
  scan_.reset ();
  std::sort (found.begin (), found.end (),
      [] (const Video &a, const Video &b) { return a.name < b.name; });
  auto waiting = std::move (waiting_);
  waiting_.clear ();
  for (auto &done : waiting)
    done (found);
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
