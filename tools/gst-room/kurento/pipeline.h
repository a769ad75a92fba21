/* gst-room, Kurento control API: MediaPipeline (a GstPipeline) and
 * MediaElement, the base of every element in it.
 *
 * An element's media leaves it raw through one tee per kind (audio, video)
 * and enters it raw through one funnel and valve per kind.  connect() links
 * a source's tee to a sink's funnel through a queue; a sink has one source
 * per kind, and a new source replaces the old one, as in Kurento (the
 * funnel lets the new link start while the old one is taken apart). */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "session.h"

namespace kurento {

enum MediaKind { KIND_AUDIO = 0, KIND_VIDEO = 1, N_KINDS = 2 };
const char *kind_name (MediaKind kind); /* "AUDIO", "VIDEO" */

class MediaPipeline : public MediaObject {
public:
  explicit MediaPipeline (Session &session);
  ~MediaPipeline () override;

  GstElement *pipeline () const { return pipeline_; }
  /* Being released: its elements need not unlink one by one. */
  bool closing () const { return closing_; }
  void release () override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;

  /* Whether a released pipeline goes to NULL on a thread of its own (the
   * server), or before release() returns (the fuzz target, which must not
   * leave threads running between inputs). */
  static bool release_in_background;

  /* Calls @handler (on the main thread) with each element message that
   * @element posts, until unwatch (@element). */
  using ElementMessageHandler = std::function<void (const GstStructure *)>;
  void watch (GstElement *element, ElementMessageHandler handler);
  void unwatch (GstElement *element);

private:
  static gboolean on_bus_message (GstBus *bus, GstMessage *msg, gpointer data);

  GstElement *pipeline_ = nullptr;
  std::map<GstElement *, ElementMessageHandler> watched_;
  guint bus_watch_ = 0;
  bool closing_ = false;
};

class MediaElement : public MediaObject {
public:
  /* Its id is under @parent_id, or under the pipeline's when empty. */
  MediaElement (Session &session, std::string type,
      std::shared_ptr<MediaPipeline> pipeline, std::string module = "kurento",
      const std::string &parent_id = "");

  std::vector<std::string> hierarchy () const override
  {
    return {"kurento.MediaElement", "kurento.MediaObject"};
  }
  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;
  void release () override;

  MediaPipeline &pipeline () const { return *pipeline_; }

  /* The elements whose outputs carry, in this process, what enters this
   * one: itself for a filter, every port of the hub for a hub's port, none
   * for an endpoint (its media goes out to the network). */
  virtual std::vector<const MediaElement *> outlets () const { return {}; }

protected:
  /* Adds @element to the pipeline, to be removed on release; returns it. */
  GstElement *add (GstElement *element);
  /* Takes @element (from add()) out of the pipeline again, set to NULL. */
  void remove (GstElement *element);
  /* Parses a gst-launch fragment into a bin with ghost pads, added like
   * add(); null with @error on failure. */
  GstElement *add_bin (const std::string &description, std::string &error);
  /* Makes the tee and the valve of @kind (which subclasses link up). */
  void make_output (MediaKind kind);
  void make_input (MediaKind kind);
  /* Lets media through the input of @kind, once there is somewhere to go. */
  void open_input (MediaKind kind);

  GstElement *outputs_[N_KINDS] = {}; /* tee, raw media out */
  GstElement *inputs_[N_KINDS] = {};  /* valve, raw media in */
  GstElement *joins_[N_KINDS] = {};   /* funnel in front of each valve */

private:
  struct Link {
    std::weak_ptr<MediaElement> sink;
    std::string sink_id;
    MediaKind kind;
    GstPad *tee_pad;   /* request pad of our tee */
    GstElement *queue; /* between the tee and the sink's funnel */
    GstPad *join_pad;  /* request pad of the sink's funnel */
  };

  Reply connect (const nlohmann::json &params);
  Reply disconnect (const nlohmann::json &params);
  /* Kinds named by a mediaType parameter (all when absent); false if it
   * names none. */
  static bool kinds_of (const nlohmann::json &params, bool kinds[N_KINDS]);
  /* Whether linking our output of @kind to @sink's input would send media
   * round a loop back into our input within the process (an endless
   * recursion of events, then of buffers). */
  bool makes_loop (const MediaElement &sink, MediaKind kind) const;
  void unlink (Link link);
  nlohmann::json connections (bool as_source) const;

  std::shared_ptr<MediaPipeline> pipeline_;
  std::vector<GstElement *> elements_;
  std::vector<Link> links_; /* where our media goes */
  /* who feeds each of our inputs */
  std::weak_ptr<MediaElement> sources_[N_KINDS];
};

/* kurento.UriEndpoint: what a player and a recorder share, their URI and
 * their state (START, PAUSE, STOP), told by UriEndpointStateChanged. */
class UriEndpoint : public MediaElement {
public:
  UriEndpoint (Session &session, std::string type,
      std::shared_ptr<MediaPipeline> pipeline, std::string uri);

  std::vector<std::string> hierarchy () const override
  {
    return {"kurento.UriEndpoint", "kurento.Endpoint", "kurento.MediaElement",
        "kurento.MediaObject"};
  }
  bool accepts_event (const std::string &event) const override;
  void invoke (const std::string &operation, const nlohmann::json &params,
      Done done) override;

protected:
  void set_state (const char *state);

  std::string uri_;
  std::string state_ = "STOP"; /* UriEndpointState */
};

} // namespace kurento
