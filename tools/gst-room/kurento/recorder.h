/* gst-room, Kurento control API: RecorderEndpoint.  What reaches it raw is
 * encoded (VP8 and Opus into WebM, H.264 and Opus into MP4) and muxed the
 * way the room's own recordings are (recorder.h: a cluster or fragment every
 * second, written straight to the file, so a crash loses at most the last
 * second).  The file is opened by record(); stop() ends the streams and the
 * Stopped event comes once the muxer has written its end.  Files go only
 * into the room file's [kurento] recorder-folders. */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"

namespace kurento {

class RecorderEndpoint : public UriEndpoint {
public:
  static std::shared_ptr<MediaObject> create (Session &session,
      std::shared_ptr<MediaPipeline> pipeline,
      const nlohmann::json &constructor, Error &error);
  RecorderEndpoint (Session &session, std::shared_ptr<MediaPipeline> pipeline,
      std::string uri, std::string path, std::string profile);

  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;
  void release () override;

private:
  struct Shared;

  Reply record ();
  void stop (Done done);
  /* The muxer wrote its end (its EOS reached the file). */
  void finished ();
  /* Tells the room's list of recordings that this one ended. */
  void unlist (const std::string &error);

  std::string path_, profile_;
  bool kinds_[N_KINDS] = {};  /* what the profile records */
  GstElement *bin_ = nullptr; /* encoders, muxer and file, from record() */
  bool stopping_ = false, stopped_ = false;
  std::vector<Done> waiting_; /* stopAndWait callers */
  guint listed_ = 0;          /* its id in the room's list, 0: none */
  std::shared_ptr<Shared> shared_;
};

} // namespace kurento
