/* gst-rooms: a source pad's own streaming thread behind a short queue.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "outputpusher.h"

#include <gst/video/video.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (output_pusher_debug);
#define GST_CAT_DEFAULT output_pusher_debug

/* Queued buffers per output before the oldest is dropped (live) or the
 * producer waits (not live).  Raw frames are big and only the newest
 * matters; encoded frames and RTP packets are small and each loss breaks
 * decoding until a keyframe, so those queues only guard against an output
 * that stopped taking data. */
#define RAW_VIDEO_BUFFERS 4
#define RAW_AUDIO_BUFFERS 16
#define ENCODED_BUFFERS 30
#define RTP_BUFFERS 500
#define OTHER_BUFFERS 30

/* How long stop_without_waiting () waits for a push under way. */
#define ABANDON_AFTER std::chrono::milliseconds (100)

namespace {

/* A FIFO of mini objects in a ring that doubles when full: in the steady
 * state no item costs an allocation. */
class ItemRing {
public:
  ItemRing () : slots_ (64) {}

  bool empty () const { return count_ == 0; }
  size_t size () const { return count_; }
  GstMiniObject *&at (size_t i)
  {
    return slots_[(head_ + i) & (slots_.size () - 1)];
  }

  void push_back (GstMiniObject *item)
  {
    if (count_ == slots_.size ())
      grow ();
    at (count_) = item;
    count_++;
  }
  void push_front (GstMiniObject *item)
  {
    if (count_ == slots_.size ())
      grow ();
    head_ = (head_ + slots_.size () - 1) & (slots_.size () - 1);
    slots_[head_] = item;
    count_++;
  }
  GstMiniObject *pop_front ()
  {
    GstMiniObject *item = slots_[head_];
    head_ = (head_ + 1) & (slots_.size () - 1);
    count_--;
    return item;
  }
  /* Removes, in order, the items @remove says so of (it is called once per
   * item, oldest first, and takes the item when it returns true). */
  template <typename F> void remove_if (F remove)
  {
    size_t kept = 0;
    for (size_t i = 0; i < count_; i++) {
      GstMiniObject *item = at (i);
      if (!remove (item))
        at (kept++) = item;
    }
    count_ = kept;
  }

private:
  void grow ()
  {
    std::vector<GstMiniObject *> bigger (slots_.size () * 2);
    for (size_t i = 0; i < count_; i++)
      bigger[i] = at (i);
    slots_.swap (bigger);
    head_ = 0;
  }

  std::vector<GstMiniObject *> slots_; /* size a power of two */
  size_t head_ = 0;
  size_t count_ = 0;
};

guint
data_size (GstMiniObject *item)
{
  if (GST_IS_BUFFER (item))
    return 1;
  if (GST_IS_BUFFER_LIST (item))
    return gst_buffer_list_length (GST_BUFFER_LIST_CAST (item));
  return 0;
}

/* Whether a flush leaves @item queued: sticky events that still hold after
 * it (EOS does not). */
bool
survives_flush (GstMiniObject *item)
{
  if (!GST_IS_EVENT (item))
    return false;
  GstEvent *ev = GST_EVENT_CAST (item);
  return GST_EVENT_IS_STICKY (ev) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS;
}

} // namespace

struct OutputPusher::Shared {
  GstPad *pad; /* a reference, constant */
  std::function<GstFlowReturn (GstBuffer *)> push_buffer; /* see start () */

  std::mutex lock;
  std::condition_variable wake; /* the thread: items, flush end or stop */
  std::condition_variable room; /* producers waiting for room */
  std::condition_variable idle; /* the queue went empty or a push ended */

  /* All under lock. */
  ItemRing items;
  guint buffers = 0; /* buffers among items */
  guint max_buffers = OTHER_BUFFERS;
  guint generation = 0; /* of the running thread; +1 at each stop */
  bool running = false;
  bool flushing = false;
  bool busy = false;     /* the thread pushes what it took */
  bool sleeping = false; /* the thread waits on wake */
  guint room_waiters = 0;
  guint idle_waiters = 0;
  bool encoded_video = false;    /* frames depend on others */
  bool wait_keyframe = false;    /* a frame was lost */
  bool request_keyframe = false; /* ask upstream once */
  GstFlowReturn fatal = GST_FLOW_OK;
  guint64 dropped = 0;

  /* Flushing or stopped: read by the thread between pushes, without the
   * lock. */
  std::atomic<bool> flushing_now{false};

  explicit Shared (GstPad *p) : pad (GST_PAD (gst_object_ref (p)))
  {
    push_buffer = [p] (GstBuffer *buf) { return gst_pad_push (p, buf); };
  }
  ~Shared ()
  {
    while (!items.empty ())
      gst_mini_object_unref (items.pop_front ());
    gst_object_unref (pad);
  }

  void set_limit_from_caps (GstEvent *caps);
  void drop_oldest (guint room_for);
  void take_batch (std::vector<GstMiniObject *> &batch);
  void put_back (std::vector<GstMiniObject *> &batch, size_t from);
  void run (guint my_generation);
};

/* Called with lock. */
void
OutputPusher::Shared::set_limit_from_caps (GstEvent *event)
{
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  encoded_video = false;
  if (g_str_equal (name, "video/x-raw"))
    max_buffers = RAW_VIDEO_BUFFERS;
  else if (g_str_equal (name, "audio/x-raw"))
    max_buffers = RAW_AUDIO_BUFFERS;
  else if (g_str_equal (name, "application/x-rtp"))
    max_buffers = RTP_BUFFERS;
  else if (g_str_has_prefix (name, "video/")
           || g_str_has_prefix (name, "image/")) {
    max_buffers = ENCODED_BUFFERS;
    encoded_video = true;
  } else
    max_buffers = ENCODED_BUFFERS;
}

/* Drops the oldest buffers or lists until @room_for more fit (or none is
 * left).  Called with lock. */
void
OutputPusher::Shared::drop_oldest (guint room_for)
{
  items.remove_if ([this, room_for] (GstMiniObject *item) {
    const guint size = data_size (item);
    if (size == 0 || buffers == 0 || buffers + room_for <= max_buffers)
      return false;
    gst_mini_object_unref (item);
    buffers -= size;
    dropped += size;
    if (encoded_video && !wait_keyframe) {
      wait_keyframe = true;
      request_keyframe = true;
    }
    GST_LOG_OBJECT (pad, "output behind: dropped %u buffer(s)", size);
    return true;
  });
}

/* Moves everything queued to @batch; after a lost encoded frame, delta
 * frames up to the next keyframe are dropped on the way.  Called with
 * lock. */
void
OutputPusher::Shared::take_batch (std::vector<GstMiniObject *> &batch)
{
  while (!items.empty ()) {
    GstMiniObject *item = items.pop_front ();
    const guint size = data_size (item);
    if (size > 0 && wait_keyframe) {
      GstBuffer *first =
          GST_IS_BUFFER (item)
              ? GST_BUFFER_CAST (item)
              : gst_buffer_list_get (GST_BUFFER_LIST_CAST (item), 0);
      if (GST_BUFFER_FLAG_IS_SET (first, GST_BUFFER_FLAG_DELTA_UNIT)) {
        gst_mini_object_unref (item);
        dropped += size;
        continue;
      }
      wait_keyframe = false;
      if (GST_IS_BUFFER (item)) {
        item = GST_MINI_OBJECT_CAST (
            gst_buffer_make_writable (GST_BUFFER_CAST (item)));
        GST_BUFFER_FLAG_SET (GST_BUFFER_CAST (item), GST_BUFFER_FLAG_DISCONT);
      }
    }
    batch.push_back (item);
  }
  buffers = 0;
}

/* A flush began while the thread pushed @batch: what it had not pushed yet
 * goes back to the queue if it outlives the flush.  Called with lock. */
void
OutputPusher::Shared::put_back (
    std::vector<GstMiniObject *> &batch, size_t from)
{
  for (size_t i = batch.size (); i > from; i--) {
    GstMiniObject *item = batch[i - 1];
    if (survives_flush (item))
      items.push_front (item);
    else
      gst_mini_object_unref (item);
  }
}

/* The output's thread. */
void
OutputPusher::Shared::run (guint my_generation)
{
  {
    gchar *name = g_strdup_printf ("%s-out", GST_PAD_NAME (pad));
    name[MIN (strlen (name), 15)] = '\0'; /* the kernel's limit */
    pthread_setname_np (pthread_self (), name);
    g_free (name);
  }
  std::vector<GstMiniObject *> batch;
  batch.reserve (64);

  std::unique_lock<std::mutex> lk (lock);
  for (;;) {
    while (running && generation == my_generation
           && (items.empty () || flushing)) {
      sleeping = true;
      wake.wait (lk);
    }
    sleeping = false;
    if (!running || generation != my_generation)
      break;

    take_batch (batch);
    const bool ask_keyframe = request_keyframe;
    request_keyframe = false;
    const bool wake_producers = room_waiters > 0;
    busy = true;
    lk.unlock ();

    if (wake_producers)
      room.notify_all ();
    if (ask_keyframe) {
      GST_DEBUG_OBJECT (pad, "lost an encoded frame: asking for a keyframe");
      gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (
                                   GST_CLOCK_TIME_NONE, TRUE, 0));
    }
    GstFlowReturn fatal_ret = GST_FLOW_OK;
    size_t pushed = 0;
    for (; pushed < batch.size (); pushed++) {
      if (flushing_now.load (std::memory_order_relaxed))
        break;
      GstMiniObject *item = batch[pushed];
      GstFlowReturn ret = GST_FLOW_OK;
      if (GST_IS_BUFFER (item))
        ret = push_buffer (GST_BUFFER_CAST (item));
      else if (GST_IS_BUFFER_LIST (item))
        ret = gst_pad_push_list (pad, GST_BUFFER_LIST_CAST (item));
      else
        gst_pad_push_event (pad, GST_EVENT_CAST (item));
      if (G_UNLIKELY (ret != GST_FLOW_OK)) {
        GST_LOG_OBJECT (pad, "push: %s", gst_flow_get_name (ret));
        if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED)
          fatal_ret = ret;
      }
    }

    lk.lock ();
    if (generation != my_generation) {
      /* Stopped without waiting for this push: another thread may own the
       * state now.  What is left here is ours to drop. */
      for (size_t i = pushed; i < batch.size (); i++)
        gst_mini_object_unref (batch[i]);
      break;
    }
    if (running) {
      put_back (batch, pushed);
    } else {
      for (size_t i = pushed; i < batch.size (); i++)
        gst_mini_object_unref (batch[i]);
    }
    batch.clear ();
    busy = false;
    if (fatal_ret != GST_FLOW_OK && running)
      fatal = fatal_ret;
    if (idle_waiters > 0)
      idle.notify_all ();
  }
}

OutputPusher::OutputPusher (GstPad *pad)
    : shared_ (std::make_shared<Shared> (pad))
{
  static gsize debug_init = 0;
  if (g_once_init_enter (&debug_init)) {
    GST_DEBUG_CATEGORY_INIT (output_pusher_debug, "outputpusher", 0,
        "per-output streaming threads of the roomhub elements");
    g_once_init_leave (&debug_init, 1);
  }
}

OutputPusher::~OutputPusher ()
{
  stop ();
}

void
OutputPusher::set_push_buffer (std::function<GstFlowReturn (GstBuffer *)> fn)
{
  std::lock_guard<std::mutex> guard (shared_->lock);
  shared_->push_buffer = std::move (fn);
}

void
OutputPusher::start ()
{
  std::lock_guard<std::mutex> control (control_);
  Shared *s = shared_.get ();
  guint generation;
  {
    std::lock_guard<std::mutex> guard (s->lock);
    if (s->running)
      return;
    s->running = true;
    s->flushing = false;
    s->flushing_now.store (false);
    s->busy = false;
    s->fatal = GST_FLOW_OK;
    s->wait_keyframe = s->request_keyframe = false;
    generation = s->generation;
  }
  std::shared_ptr<Shared> keep = shared_;
  try {
    thread_ = std::thread ([keep, generation] { keep->run (generation); });
  } catch (const std::system_error &e) {
    /* Out of threads: the output takes nothing rather than queue forever. */
    GST_ERROR_OBJECT (s->pad, "no thread for the output: %s", e.what ());
    std::lock_guard<std::mutex> guard (s->lock);
    s->running = false;
  }
}

void
OutputPusher::stop ()
{
  stop_thread (true);
}

void
OutputPusher::stop_without_waiting ()
{
  stop_thread (false);
}

void
OutputPusher::stop_thread (bool wait_for_push)
{
  std::lock_guard<std::mutex> control (control_);
  Shared *s = shared_.get ();
  bool abandon = false;
  {
    std::unique_lock<std::mutex> lk (s->lock);
    s->running = false;
    s->flushing_now.store (true); /* the thread stops between items */
    while (!s->items.empty ())
      gst_mini_object_unref (s->items.pop_front ());
    s->buffers = 0;
    s->wake.notify_all ();
    s->room.notify_all ();
    s->idle.notify_all ();
    if (!wait_for_push && thread_.joinable () && s->busy) {
      s->idle_waiters++;
      abandon = !s->idle.wait_for (lk, ABANDON_AFTER, [s] { return !s->busy; });
      s->idle_waiters--;
    }
    /* A thread left behind sees a new generation and ends after its push
     * without touching the state any more. */
    s->generation++;
  }
  if (!thread_.joinable ())
    return;
  if (abandon) {
    GST_WARNING_OBJECT (s->pad, "a push downstream does not return: the "
                                "output's thread ends when it does");
    thread_.detach ();
  } else {
    thread_.join ();
  }
}

void
OutputPusher::push (GstMiniObject *item, bool live)
{
  Shared *s = shared_.get ();
  const guint size = data_size (item);
  bool wake = false;
  {
    std::unique_lock<std::mutex> lk (s->lock);
    if (size > 0 && !live && s->buffers > 0
        && s->buffers + size > s->max_buffers) {
      /* Not live: wait for room rather than lose data. */
      s->room_waiters++;
      s->room.wait (lk, [s, size] {
        return !s->running || s->flushing || s->buffers == 0
               || s->buffers + size <= s->max_buffers;
      });
      s->room_waiters--;
    }
    if (G_LIKELY (s->running && !(size > 0 && s->flushing))) {
      if (size > 0) {
        if (s->buffers + size > s->max_buffers)
          s->drop_oldest (size);
        s->buffers += size;
      } else if (GST_IS_EVENT (item)
                 && GST_EVENT_TYPE (item) == GST_EVENT_CAPS) {
        s->set_limit_from_caps (GST_EVENT_CAST (item));
      }
      s->items.push_back (item);
      item = nullptr;
      /* Only a sleeping thread needs waking (and only once). */
      wake = s->sleeping && !s->flushing;
      if (wake)
        s->sleeping = false;
    }
  }
  if (wake)
    s->wake.notify_one ();
  if (item)
    gst_mini_object_unref (item);
}

void
OutputPusher::drop_buffers ()
{
  Shared *s = shared_.get ();
  std::lock_guard<std::mutex> guard (s->lock);
  s->items.remove_if ([] (GstMiniObject *item) {
    if (data_size (item) == 0)
      return false;
    gst_mini_object_unref (item);
    return true;
  });
  s->buffers = 0;
  s->room.notify_all ();
  if (s->idle_waiters > 0)
    s->idle.notify_all ();
}

void
OutputPusher::flush_start (GstEvent *event)
{
  Shared *s = shared_.get ();
  {
    std::lock_guard<std::mutex> guard (s->lock);
    s->flushing = true;
    s->flushing_now.store (true);
    s->items.remove_if ([] (GstMiniObject *item) {
      if (survives_flush (item))
        return false;
      gst_mini_object_unref (item);
      return true;
    });
    s->buffers = 0;
    s->room.notify_all ();
  }
  /* Unblocks a push under way; the thread then stops between items. */
  gst_pad_push_event (s->pad, event);
}

void
OutputPusher::flush_stop (GstEvent *event)
{
  Shared *s = shared_.get ();
  {
    std::unique_lock<std::mutex> lk (s->lock);
    if (!s->flushing && s->running) {
      /* No flush-start came first: in order, like any serialized event. */
      lk.unlock ();
      push (GST_MINI_OBJECT_CAST (event));
      return;
    }
    s->idle_waiters++;
    s->idle.wait (lk, [s] { return !s->running || !s->busy; });
    s->idle_waiters--;
  }
  /* The thread takes nothing while flushing: this goes out before what was
   * kept. */
  gst_pad_push_event (s->pad, event);
  bool wake;
  {
    std::lock_guard<std::mutex> guard (s->lock);
    s->flushing = false;
    s->flushing_now.store (false);
    wake = s->sleeping && !s->items.empty ();
    if (wake)
      s->sleeping = false;
  }
  if (wake)
    s->wake.notify_one ();
}

bool
OutputPusher::wait_drained ()
{
  Shared *s = shared_.get ();
  std::unique_lock<std::mutex> lk (s->lock);
  s->idle_waiters++;
  s->idle.wait (
      lk, [s] { return !s->running || (s->items.empty () && !s->busy); });
  s->idle_waiters--;
  return s->running;
}

GstFlowReturn
OutputPusher::fatal_flow () const
{
  std::lock_guard<std::mutex> guard (shared_->lock);
  return shared_->fatal;
}

guint64
OutputPusher::dropped () const
{
  std::lock_guard<std::mutex> guard (shared_->lock);
  return shared_->dropped;
}
