/* gst-rooms: a source pad's own streaming thread behind a short leaky queue.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "outputpusher.h"

#include <gst/video/video.h>

GST_DEBUG_CATEGORY_STATIC (output_pusher_debug);
#define GST_CAT_DEFAULT output_pusher_debug

/* Queued buffers per output before the oldest is dropped.  Raw frames are
 * big and only the newest matters; encoded frames and RTP packets are small
 * and each loss breaks decoding until a keyframe, so those queues only guard
 * against an output that stopped taking data. */
#define RAW_VIDEO_BUFFERS 4
#define RAW_AUDIO_BUFFERS 16
#define ENCODED_BUFFERS 30
#define RTP_BUFFERS 500
#define OTHER_BUFFERS 30

OutputPusher::OutputPusher (GstPad *pad)
    : pad_ (GST_PAD (gst_object_ref (pad))), max_buffers_ (OTHER_BUFFERS)
{
  static gsize debug_init = 0;
  if (g_once_init_enter (&debug_init)) {
    GST_DEBUG_CATEGORY_INIT (output_pusher_debug, "outputpusher", 0,
        "per-output streaming threads of the roomhub elements");
    g_once_init_leave (&debug_init, 1);
  }
  g_rec_mutex_init (&task_lock_);
  push_buffer_ = [this] (GstBuffer *buf) { return gst_pad_push (pad_, buf); };
}

OutputPusher::~OutputPusher ()
{
  stop ();
  g_rec_mutex_clear (&task_lock_);
  gst_object_unref (pad_);
}

void
OutputPusher::set_push_buffer (std::function<GstFlowReturn (GstBuffer *)> fn)
{
  push_buffer_ = std::move (fn);
}

void
OutputPusher::start ()
{
  std::lock_guard<std::mutex> guard (lock_);
  if (running_)
    return;
  running_ = true;
  fatal_ = GST_FLOW_OK;
  wait_keyframe_ = request_keyframe_ = false;
  task_ = gst_task_new (OutputPusher::loop, this, NULL);
  gst_task_set_lock (task_, &task_lock_);
  gchar *name = g_strdup_printf ("%s:%s-out", GST_DEBUG_PAD_NAME (pad_));
  gst_object_set_name (GST_OBJECT (task_), name);
  g_free (name);
  gst_task_start (task_);
}

void
OutputPusher::stop ()
{
  GstTask *task;
  {
    std::lock_guard<std::mutex> guard (lock_);
    task = task_;
    task_ = nullptr;
    running_ = false;
    for (GstMiniObject *item : items_)
      gst_mini_object_unref (item);
    items_.clear ();
    buffers_ = 0;
    /* Tell the task to end before waking it: it returns and is not called
     * again. */
    if (task)
      gst_task_stop (task);
    cond_.notify_all ();
    drained_.notify_all ();
  }
  if (task) {
    gst_task_join (task);
    gst_object_unref (task);
  }
}

guint
OutputPusher::data_size (GstMiniObject *item)
{
  if (GST_IS_BUFFER (item))
    return 1;
  if (GST_IS_BUFFER_LIST (item))
    return gst_buffer_list_length (GST_BUFFER_LIST_CAST (item));
  return 0;
}

/* Called with lock_. */
void
OutputPusher::set_limit_from_caps (GstEvent *event)
{
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  encoded_video_ = false;
  if (g_str_equal (name, "video/x-raw"))
    max_buffers_ = RAW_VIDEO_BUFFERS;
  else if (g_str_equal (name, "audio/x-raw"))
    max_buffers_ = RAW_AUDIO_BUFFERS;
  else if (g_str_equal (name, "application/x-rtp"))
    max_buffers_ = RTP_BUFFERS;
  else if (g_str_has_prefix (name, "video/")
           || g_str_has_prefix (name, "image/")) {
    max_buffers_ = ENCODED_BUFFERS;
    encoded_video_ = true;
  } else
    max_buffers_ = ENCODED_BUFFERS;
}

void
OutputPusher::push (GstMiniObject *item)
{
  std::lock_guard<std::mutex> guard (lock_);
  if (!running_) {
    gst_mini_object_unref (item);
    return;
  }
  const guint size = data_size (item);
  if (size > 0) {
    /* Make room by dropping the oldest buffers or lists. */
    for (auto it = items_.begin (); buffers_ > 0
                                    && buffers_ + size > max_buffers_
                                    && it != items_.end ();) {
      const guint old = data_size (*it);
      if (old == 0) {
        ++it;
        continue;
      }
      gst_mini_object_unref (*it);
      it = items_.erase (it);
      buffers_ -= old;
      dropped_ += old;
      if (encoded_video_ && !wait_keyframe_) {
        wait_keyframe_ = true;
        request_keyframe_ = true;
      }
      GST_LOG_OBJECT (pad_, "output behind: dropped %u buffer(s)", old);
    }
    buffers_ += size;
  } else if (GST_EVENT_TYPE (item) == GST_EVENT_CAPS) {
    set_limit_from_caps (GST_EVENT_CAST (item));
  }
  items_.push_back (item);
  cond_.notify_one ();
}

void
OutputPusher::drop_buffers ()
{
  std::lock_guard<std::mutex> guard (lock_);
  for (auto it = items_.begin (); it != items_.end ();) {
    if (data_size (*it) > 0) {
      gst_mini_object_unref (*it);
      it = items_.erase (it);
    } else {
      ++it;
    }
  }
  buffers_ = 0;
  if (items_.empty () && !busy_)
    drained_.notify_all ();
}

bool
OutputPusher::wait_drained ()
{
  std::unique_lock<std::mutex> lk (lock_);
  drained_.wait (
      lk, [this] { return !running_ || (items_.empty () && !busy_); });
  return running_;
}

GstFlowReturn
OutputPusher::fatal_flow () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return fatal_;
}

guint64
OutputPusher::dropped () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return dropped_;
}

void
OutputPusher::loop (gpointer data)
{
  static_cast<OutputPusher *> (data)->loop_once ();
}

void
OutputPusher::loop_once ()
{
  GstMiniObject *item = nullptr;
  bool ask_keyframe = false;
  {
    std::unique_lock<std::mutex> lk (lock_);
    cond_.wait (lk, [this] { return !items_.empty () || !running_; });
    if (!running_)
      return; /* stop () already told the task to end */
    item = items_.front ();
    items_.pop_front ();
    const guint size = data_size (item);
    buffers_ -= size;
    if (size > 0 && wait_keyframe_) {
      GstBuffer *first =
          GST_IS_BUFFER (item)
              ? GST_BUFFER_CAST (item)
              : gst_buffer_list_get (GST_BUFFER_LIST_CAST (item), 0);
      if (GST_BUFFER_FLAG_IS_SET (first, GST_BUFFER_FLAG_DELTA_UNIT)) {
        gst_mini_object_unref (item);
        item = nullptr;
        dropped_ += size;
      } else if (GST_IS_BUFFER (item)) {
        wait_keyframe_ = false;
        item = GST_MINI_OBJECT_CAST (
            gst_buffer_make_writable (GST_BUFFER_CAST (item)));
        GST_BUFFER_FLAG_SET (GST_BUFFER_CAST (item), GST_BUFFER_FLAG_DISCONT);
      } else {
        wait_keyframe_ = false;
      }
    }
    ask_keyframe = request_keyframe_;
    request_keyframe_ = false;
    busy_ = item != nullptr;
    if (!item && items_.empty ())
      drained_.notify_all ();
  }

  if (ask_keyframe) {
    GST_DEBUG_OBJECT (pad_, "lost an encoded frame: asking for a keyframe");
    gst_pad_send_event (pad_, gst_video_event_new_upstream_force_key_unit (
                                  GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  if (!item)
    return;

  GstFlowReturn ret = GST_FLOW_OK;
  if (GST_IS_BUFFER (item)) {
    ret = push_buffer_ (GST_BUFFER_CAST (item));
  } else if (GST_IS_BUFFER_LIST (item)) {
    ret = gst_pad_push_list (pad_, GST_BUFFER_LIST_CAST (item));
  } else {
    gst_pad_push_event (pad_, GST_EVENT_CAST (item));
  }

  std::lock_guard<std::mutex> guard (lock_);
  busy_ = false;
  if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED
      && ret != GST_FLOW_FLUSHING && running_)
    fatal_ = ret;
  if (ret != GST_FLOW_OK)
    GST_LOG_OBJECT (pad_, "push: %s", gst_flow_get_name (ret));
  if (items_.empty ())
    drained_.notify_all ();
}
