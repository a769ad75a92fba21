/* gst-rooms: a source pad's own streaming thread behind a short queue.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <thread>

/* Pushes what an element produces for one of its source pads from a thread
 * of that output's own, so that a sink waiting to preroll, a full queue or a
 * slow consumer on one output never holds up the element's other outputs
 * (DESIGN §3: outputs never hold each other up).
 *
 * Serialized events are never dropped.  For live media, buffers beyond a
 * few (set by the caps: a few raw video frames, ~0.3 s of raw audio, ~1 s of
 * encoded frames, a few hundred RTP packets) push out the oldest queued
 * buffer (what the thread already took in one go still goes out): the
 * newest media wins and only the blocked output loses any.  For
 * media that is not live (a file read as fast as it goes) nothing is dropped:
 * the producer waits for room, as it would behind a `queue`, and the queue
 * still lets every output preroll on its own.  Once an encoded video
 * frame was lost the output waits for the next keyframe (delta frames are
 * dropped, the keyframe is flagged DISCONT) and asks upstream for one with a
 * force-key-unit event sent to the pad, so a consumer never decodes a broken
 * picture.
 *
 * Cost per item: one uncontended lock on each side; the thread is woken
 * only when it sleeps, and takes everything queued in one go.  The queue is
 * a ring that grows only when events pile up: no allocation per item.
 *
 * Thread safety: every method may be called from any thread except stop(),
 * stop_without_waiting(), flush_stop() and wait_drained() from the output's
 * own thread.  The internal lock is never held while pushing downstream or
 * sending an event. */
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
  /* Like stop (), for a pad being released: a push still under way
   * downstream (a consumer that stopped taking data) is waited for only a
   * moment, then left to return on its own; the thread ends by itself when
   * it does.  Only with the default push function (which needs nothing but
   * the pad). */
  void stop_without_waiting ();

  /* Takes @item: a GstBuffer, GstBufferList or serialized GstEvent.  With
   * @live a full queue drops its oldest buffer; without, the call waits for
   * room (or for stop () or a flush). */
  void push (GstMiniObject *item, bool live = true);
  void push_buffer (GstBuffer *buf, bool live = true)
  {
    push (GST_MINI_OBJECT_CAST (buf), live);
  }
  void push_list (GstBufferList *l, bool live = true)
  {
    push (GST_MINI_OBJECT_CAST (l), live);
  }
  void push_event (GstEvent *ev) { push (GST_MINI_OBJECT_CAST (ev)); }

  /* Drops queued buffers, keeping events. */
  void drop_buffers ();
  /* An upstream flush.  flush_start () takes @event: drops queued buffers
   * and events that a flush ends (EOS, gaps...), keeps sticky ones (stream
   * start, caps, segment) for after the flush, holds the thread and sends
   * @event downstream at once (which unblocks a push under way).  Data
   * pushed until flush_stop () is dropped.  flush_stop () takes @event,
   * sends it downstream once no push is under way, and lets the thread go
   * on with what was kept (without a flush_start () before, @event is
   * queued like any serialized event). */
  void flush_start (GstEvent *event);
  void flush_stop (GstEvent *event);

  /* Waits until everything queued went downstream.  Returns FALSE when the
   * output was stopped meanwhile. */
  bool wait_drained ();
  /* The last fatal flow return of a push (NOT_NEGOTIATED, ERROR, ...), or
   * GST_FLOW_OK; NOT_LINKED, FLUSHING and EOS are not fatal to an element
   * with several outputs. */
  GstFlowReturn fatal_flow () const;
  /* Buffers dropped so far (for tests and logs). */
  guint64 dropped () const;

  /* The state shared with the thread (defined in outputpusher.cpp): owned
   * by this object and by the thread, so that a thread left to finish a
   * push on its own still has it. */
  struct Shared;

private:
  void stop_thread (bool wait_for_push);

  std::shared_ptr<Shared> shared_; /* constant */
  /* start () and stop*() may race (a pad released during a state change):
   * control_ orders them.  Never taken by the thread. */
  std::mutex control_;
  std::thread thread_; /* control_; joinable while started */
};
