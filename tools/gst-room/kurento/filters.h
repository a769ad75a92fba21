/* gst-room, Kurento control API: the filters.  Each is one of gst-rooms'
 * elements (or a parsed bin) between an element's raw input and its raw
 * output, for one kind of media; the other kind passes straight through.
 *
 *   PassThrough          nothing in the way
 *   GStreamerFilter      a gst-launch fragment of the client's (filters only:
 *                        no sources or sinks)
 *   FaceOverlayFilter    faceoverlayfilter
 *   ZBarFilter           qrdetect; each code is the CodeFound event
 *   chroma.ChromaFilter  chromakey, calibrated on the constructor's window */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

#include "pipeline.h"

namespace kurento {

class Filter : public MediaElement {
public:
  /* Creates the filter of @type (PassThrough, GStreamerFilter,
   * FaceOverlayFilter, ZBarFilter or ChromaFilter); null with @error if
   * @constructor is wrong. */
  static std::shared_ptr<MediaObject> create (Session &session,
      const std::string &type, std::shared_ptr<MediaPipeline> pipeline,
      const nlohmann::json &constructor, Error &error);

  Filter (Session &session, std::string type,
      std::shared_ptr<MediaPipeline> pipeline, std::string module);

  std::vector<std::string> hierarchy () const override;
  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;
  void release () override;
  std::vector<const MediaElement *> outlets () const override { return {this}; }

private:
  /* Puts @bin (owned, may be null) between the input and the output of
   * @kind; the other kind goes straight through. */
  void build (MediaKind kind, GstElement *bin);
  /* The element named "filter" inside the filter's bin, or null. */
  GstElement *element () const;
  Reply set_element_property (const nlohmann::json &params);
  Reply set_image (const nlohmann::json &params, const char *uri_param,
      const char *property);
  /* The file a client's image @uri names, if the room file allows it. */
  bool image_path (const std::string &uri, std::string &path, Error &error);
  void code_found (const GstStructure *message);

  GstElement *bin_ = nullptr; /* in the pipeline, or null (PassThrough) */
};

} // namespace kurento
