/* roomwebrtc: a webrtcfanoutsink worker — one thread with its own main
 * context that owns a share of the viewers: their ICE agents (libnice), DTLS
 * (dtlstransport), SRTP (srtptransform), RTCP, and the sending.  The thread
 * count is the number of workers, whatever the number of viewers. */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dtlstransport.h"
#include "fanoutrtp.h"
#include "fanoutladder.h"
#include "fanoutsdp.h"

typedef struct _NiceAgent NiceAgent;

namespace roomwebrtc {

/* One packet of the program, mapped once and shared by every worker. */
struct Packet {
  Packet (
      GstBuffer *buffer, gint stream, bool keyframe_start, gint rendition = 0);
  ~Packet ();
  Packet (const Packet &) = delete;
  Packet &operator= (const Packet &) = delete;

  GstBuffer *buffer;
  GstMapInfo map;
  gint stream;         /* index in the program's streams */
  bool keyframe_start; /* video: the first packet of a keyframe */
  gint rendition;      /* video: 0 for `video`, N for `video_N` */
  bool mapped;
};
using PacketRef = std::shared_ptr<const Packet>;

/* What workers ask of the element; called on the workers' threads. */
class FanoutHost {
public:
  virtual ~FanoutHost () = default;
  /* A viewer needs a keyframe of @rendition (a join, a PLI or FIR, a
   * switch); the element makes at most one upstream request per
   * keyframe-min-interval of them all, per rendition. */
  virtual void request_keyframe (gint rendition) = 0;
  /* A reference to @rendition's video packet @sequence, or null. */
  virtual GstBuffer *lookup_video (gint rendition, guint16 sequence) = 0;
  /* What @rendition costs now (bits/s, its video and the audio; -1: the
   * audio alone); 0 when it does not flow. */
  virtual guint64 rung_bitrate (gint rendition) = 0;
  /* The element's `adaptive` property. */
  virtual bool adaptive () = 0;
  /* joined, connected, failed, left: a message on the bus.  After failed
   * and left the viewer is gone. */
  virtual void viewer_event (
      guint id, const char *event, const std::string &reason) = 0;
  /* Per-viewer statistics of one worker, posted as one message. */
  virtual void post_stats (GstStructure *stats) = 0;
};

/* How a worker sets a viewer up; the same for every viewer. */
struct ViewerSetup {
  std::shared_ptr<DtlsCertificate> certificate;
  std::vector<ProgramStream> streams;
  std::string address; /* local address to bind ICE to; empty: all */
  guint min_port = 0, max_port = 0;
  std::string stun_server; /* host:port, or empty */
  guint connect_timeout_ms = 30000;
  /* the quality ladder, heaviest first (one rung: no choice to make) */
  std::vector<Rung> rungs;
};

class FanoutWorker {
public:
  FanoutWorker (FanoutHost &host, guint index, guint stats_interval_ms);
  ~FanoutWorker ();
  FanoutWorker (const FanoutWorker &) = delete;
  FanoutWorker &operator= (const FanoutWorker &) = delete;

  /* Hands a batch of packets (a frame's, or one audio packet) to the worker;
   * streaming thread.  The worker sends it to each of its viewers in one
   * batched send per viewer. */
  void push (const std::vector<PacketRef> &batch);

  /* Creates the viewer's ICE agent and DTLS server on the worker's thread
   * and answers @offer; waits for the worker.  False with @error. */
  bool add_viewer (guint id, const ViewerOffer &offer, const ViewerSetup &setup,
      std::string &answer, std::string &error);
  /* A trickled candidate ("candidate:…" or "a=candidate:…"; an empty one
   * ends the viewer's candidates). */
  void add_candidate (guint id, const std::string &candidate);
  /* Frees the viewer on the worker's thread; its event says @reason. */
  void remove_viewer (guint id, const std::string &reason);
  /* A debug knob: drop @percent of the packets sent to viewer @id. */
  void set_loss (guint id, guint percent);
  /* Pins viewer @id to the rung labelled @label, or back to automatic
   * (""); the label is looked up in the viewer's own ladder, which is the
   * element's as it was when the viewer joined. */
  void set_rung (guint id, const std::string &label);

  guint viewer_count () const { return viewer_count_.load (); }
  guint index () const { return index_; }

  struct Viewer;

private:
  static gpointer thread_main (gpointer data);
  static gboolean on_packets (gpointer data);
  static gboolean on_stats (gpointer data);
  static gboolean on_reports (gpointer data);
  /* Runs @fn on the worker's thread and waits for it. */
  void run_sync (std::function<void ()> fn);
  void run_async (std::function<void ()> fn);
  void send_batch (Viewer &viewer, const std::vector<PacketRef> &batch);
  void destroy_viewer (guint id, const char *event, const std::string &why);

  friend struct Viewer;
  friend void on_component_state (NiceAgent *, guint, guint, guint, gpointer);

  FanoutHost &host_;
  guint index_;
  guint stats_interval_ms_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;
  GSource *packets_source_ = nullptr; /* woken by push() */
  GSource *stats_source_ = nullptr;
  GSource *reports_source_ = nullptr; /* sender reports, every second */

  std::mutex queue_lock_;
  std::deque<std::vector<PacketRef>> queue_; /* queue_lock_ */

  /* worker thread only */
  std::map<guint, std::unique_ptr<Viewer>> viewers_;
  std::atomic<guint> viewer_count_{0};
};

} // namespace roomwebrtc
