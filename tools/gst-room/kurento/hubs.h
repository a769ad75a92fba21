/* gst-room, Kurento control API: the hubs and their ports.
 *
 *   Composite            mcucompositor (a grid of every port's video, the
 *                        mix of every other port's audio)
 *   Dispatcher           dispatcher, routes set by connect(source, sink)
 *   DispatcherOneToMany  dispatcher, one source for every port
 *   HubPort              hubport, attached to its hub by name
 *
 * A hub is a MediaObject, not an element: media goes in and out through its
 * ports, each a MediaElement whose input and output are a hubport's pads. */
#pragma once

#include <gst/gst.h>

#include <map>
#include <memory>
#include <string>

#include "pipeline.h"

namespace kurento {

class Hub : public MediaObject {
public:
  /* Creates the hub of @type (Composite, Dispatcher or DispatcherOneToMany);
   * null with @error if @constructor is wrong. */
  static std::shared_ptr<MediaObject> create (Session &session,
      const std::string &type, std::shared_ptr<MediaPipeline> pipeline,
      const nlohmann::json &constructor, Error &error);

  Hub (Session &session, std::string type,
      std::shared_ptr<MediaPipeline> pipeline, GstElement *element);

  std::vector<std::string> hierarchy () const override
  {
    return {"kurento.Hub", "kurento.MediaObject"};
  }
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;
  void release () override;

  MediaPipeline &pipeline () const { return *pipeline_; }
  std::shared_ptr<MediaPipeline> shared_pipeline () const { return pipeline_; }
  /* The name hubports attach by: unique in the process. */
  std::string element_name () const;
  /* A port of the hub is gone: routes to and from it go too (the number
   * may come back for a new port). */
  void forget (int port);

private:
  Reply route (const nlohmann::json &params);
  Reply set_source (const nlohmann::json &params);
  void apply_routes ();
  /* The port number of the HubPort of this hub named by @value, or -1. */
  int port_of (const nlohmann::json &value) const;

  std::shared_ptr<MediaPipeline> pipeline_;
  GstElement *element_;       /* in the pipeline until released */
  std::map<int, int> routes_; /* Dispatcher: output port → input port */
};

class HubPort : public MediaElement {
public:
  static std::shared_ptr<MediaObject> create (
      Session &session, const nlohmann::json &constructor, Error &error);
  HubPort (Session &session, std::shared_ptr<Hub> hub);

  /* The port the hub gave it, -1 if it is not attached. */
  int port () const;
  const Hub *hub () const { return hub_.get (); }
  void release () override;
  /* Every port of the hub: what enters one may leave through any. */
  std::vector<const MediaElement *> outlets () const override;

private:
  bool attach (Error &error);

  std::shared_ptr<Hub> hub_;
  GstElement *hubport_ = nullptr;
};

} // namespace kurento
