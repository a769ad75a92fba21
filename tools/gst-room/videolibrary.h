/* gst-room: the videos an operator may inject — the files named as videos
 * (.webm, .mp4, .avi, ...) straight inside the room's inject-folders, each
 * with its duration, found with GstDiscoverer in the
 * background (the main loop never waits on a file). */
#pragma once

#include <gst/pbutils/pbutils.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

class VideoLibrary {
public:
  struct Video {
    std::string uri;
    std::string name; /* the file's name, for the picker */
    double duration;  /* seconds; 0 when unknown (a live or broken file) */
  };

  /* @allowed says whether a file: URI may be injected (the show's check:
   * inside the folders once links are resolved). */
  VideoLibrary (std::vector<std::string> folders,
      std::function<bool (const std::string &uri)> allowed);
  ~VideoLibrary ();
  VideoLibrary (const VideoLibrary &) = delete;
  VideoLibrary &operator= (const VideoLibrary &) = delete;

  /* Looks at the folders again (files come and go); @done is called on the
   * main loop with the list, sorted by name.  A scan already running takes
   * the new @done too. */
  void scan (std::function<void (const std::vector<Video> &)> done);

  /* At most this many files per scan: a folder is for a show's videos, not
   * an archive. */
  static const guint MAX_FILES = 200;

  static nlohmann::json to_json (const std::vector<Video> &videos);

private:
  /* Shared by the scanning thread and the main loop's report of it. */
  struct Scan {
    std::atomic<bool> cancelled{false};
    std::vector<Video> found; /* the thread's until it is done */
    VideoLibrary *owner;      /* main loop only; null once it is gone */
  };
  static void run_scan (
      std::shared_ptr<Scan> scan, std::vector<std::string> uris);
  void finished ();

  std::vector<std::string> folders_;
  std::function<bool (const std::string &)> allowed_;
  std::shared_ptr<Scan> scan_; /* while a scan runs */
  std::thread thread_;
  std::vector<std::function<void (const std::vector<Video> &)>> waiting_;
};
