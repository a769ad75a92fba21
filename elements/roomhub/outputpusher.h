/* gst-rooms: a source pad's own streaming thread behind a short leaky queue.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

/* Pushes what an element produces for one of its source pads from a thread
 * of that output's own, so that a sink waiting to preroll, a full queue or a
 * slow consumer on one output never holds up the element's other outputs
 * (DESIGN §3: outputs never hold each other up).
 *
 * Serialized events are never dropped.  Buffers beyond a few (set by the
 * caps: a few raw video frames, ~0.3 s of raw audio, ~1 s of encoded frames,
 * a few hundred RTP packets) push out the oldest queued buffer: the newest
 * media wins and only the blocked output loses any.  Once an encoded video
 * frame was lost the output waits for the next keyframe (delta frames are
 * dropped, the keyframe is flagged DISCONT) and asks upstream for one with a
 * force-key-unit event sent to the pad, so a consumer never decodes a broken
 * picture.
 *
 * Thread safety: every method may be called from any thread except stop()
 * and wait_drained() from the output's own thread.  The internal lock is
 * never held while pushing downstream or sending an event. */
class OutputPusher {
public:
  /* @pad: the source pad (a reference is taken). */
  explicit OutputPusher (GstPad *pad);
  ~OutputPusher ();
  OutputPusher (const OutputPusher &) = delete;
  OutputPusher &operator= (const OutputPusher &) = delete;

  /* How a buffer goes out; gst_pad_push () on the pad by default.  Set it
   * before start (). */
  void set_push_buffer (std::function<GstFlowReturn (GstBuffer *)> fn);

  /* Starts the thread; data is accepted until stop (). */
  void start ();
  /* Drops what is queued, stops and joins the thread.  Data pushed while
   * stopped is dropped. */
  void stop ();

  /* Takes @item: a GstBuffer, GstBufferList or serialized GstEvent. */
  void push (GstMiniObject *item);
  void push_buffer (GstBuffer *buf) { push (GST_MINI_OBJECT_CAST (buf)); }
  void push_list (GstBufferList *l) { push (GST_MINI_OBJECT_CAST (l)); }
  void push_event (GstEvent *ev) { push (GST_MINI_OBJECT_CAST (ev)); }

  /* Drops queued buffers, keeping events (a flush). */
  void drop_buffers ();
  /* Waits until everything queued went downstream.  Returns FALSE when the
   * output was stopped meanwhile. */
  bool wait_drained ();
  /* The last fatal flow return of a push (NOT_NEGOTIATED, ERROR, ...), or
   * GST_FLOW_OK; NOT_LINKED, FLUSHING and EOS are not fatal to an element
   * with several outputs. */
  GstFlowReturn fatal_flow () const;
  /* Buffers dropped so far (for tests and logs). */
  guint64 dropped () const;

private:
  static void loop (gpointer data);
  void loop_once ();
  void set_limit_from_caps (GstEvent *caps);
  static guint data_size (GstMiniObject *item);

  GstPad *pad_; /* a reference, constant */
  std::function<GstFlowReturn (GstBuffer *)> push_buffer_; /* constant */

  GstTask *task_ = nullptr; /* lock_ */
  GRecMutex task_lock_;     /* the task's own */

  mutable std::mutex lock_;
  std::condition_variable cond_;      /* items or running changed */
  std::condition_variable drained_;   /* the queue went empty */
  std::deque<GstMiniObject *> items_; /* lock_ */
  guint buffers_ = 0;                 /* lock_: buffers among items_ */
  guint max_buffers_ = 4;             /* lock_ */
  bool running_ = false;              /* lock_ */
  bool busy_ = false;                 /* lock_: an item is being pushed */
  bool encoded_video_ = false;        /* lock_: frames depend on others */
  bool wait_keyframe_ = false;        /* lock_: a frame was lost */
  bool request_keyframe_ = false;     /* lock_: ask upstream once */
  GstFlowReturn fatal_ = GST_FLOW_OK; /* lock_ */
  guint64 dropped_ = 0;               /* lock_ */
};
