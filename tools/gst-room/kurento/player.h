/* gst-room, Kurento control API: PlayerEndpoint, a uridecodebin whose
 * decoded audio and video are the element's outputs.  It opens only the URI
 * schemes and folders the room file's [kurento] group allows; the end of
 * the media is the EndOfStream event (the EOS itself goes no further, so a
 * connected WebRtcEndpoint lives on). */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

#include "pipeline.h"

namespace kurento {

class PlayerEndpoint : public UriEndpoint {
public:
  static std::shared_ptr<MediaObject> create (Session &session,
      std::shared_ptr<MediaPipeline> pipeline,
      const nlohmann::json &constructor, Error &error);
  PlayerEndpoint (Session &session, std::shared_ptr<MediaPipeline> pipeline,
      std::string uri);

  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;

  /* Whether the room file lets a player open @uri; @why if not. */
  static bool uri_allowed (
      const RoomSpec &spec, const std::string &uri, std::string &why);

private:
  struct Shared;
  void play ();
  void ended ();

  static void on_pad_added (GstElement *decodebin, GstPad *pad, gpointer data);

  GstElement *decodebin_ = nullptr;
  bool ended_ = false;
  std::shared_ptr<Shared> shared_;
};

} // namespace kurento
