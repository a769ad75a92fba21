/* gst-rooms: hubport, a participant's connection to a hub.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-hubport
 * @title: hubport
 *
 * Connects one participant to a hub element (`mcucompositor` or `dispatcher`)
 * that lives in the same pipeline or in another pipeline of the same process,
 * found by its element name (property #GstHubPort:hub).  A room can so run
 * every participant in a pipeline of its own: a participant that fails or
 * leaves never stops the hub's pipeline.
 *
 * What enters `sink` (video) and `audio_sink` (audio) goes into the hub port
 * `sink_N` / `audio_sink_N` of the hub; `src` and `audio_src` give what the
 * hub sends back to the port: the composite (`src`, shared by all ports) and
 * the mix-minus `audio_src_N` of an `mcucompositor`, or `src_N` /
 * `audio_src_N` of a `dispatcher` (whatever is routed to the port).  The hub
 * assigns the port number N when the hubport attaches, and the read-only
 * property #GstHubPort:port tells it, so `routes`/`source` can name it.
 *
 * The hubport attaches when it goes from READY to PAUSED and requests the
 * hub's video input pad at once; it requests the audio input pad only when
 * audio arrives, and an output pad only when the matching source pad of the
 * hubport is linked, so unused pads never hold the hub up.  Going to READY or
 * NULL, being removed from its bin or being disposed releases every pad it
 * requested, so the hub re-lays out at once.  A hub that is disposed while a
 * port is attached detaches the port with a warning.  A hub that does not
 * exist is an error (RESOURCE / NOT_FOUND), unless #GstHubPort:wait-for-hub is
 * set: the port then attaches as soon as a hub of that name is created or
 * renamed.
 *
 * No media is copied: buffers cross over by reference (re-timed ones as
 * shallow copies), and a buffer keeps its clock time: its running time plus
 * base time is the same in the hub's pipeline and in the participant's, so a
 * participant that joins long after the hub started sees the hub's media at
 * its own running time.  What the participant sends goes in with a pad offset
 * computed from the two pipelines' base times.  What the hub sends comes out
 * in a TIME segment of the hubport's own, starting at 0, each buffer stamped
 * with the participant's running time; a buffer that would fall before that
 * segment's start is dropped.  Encoded video (`video/` caps other than raw)
 * starts at a keyframe: delta units are dropped until one comes (at the start,
 * and when the queue below had to drop some) and a force-key-unit event
 * (all-headers) goes upstream to the hub's port output at once, again every
 * second of the hub's running time while none comes.  The pipelines are
 * expected to share one clock (the hubport offers the hub pipeline's clock to
 * its own pipeline, and the room tool gives every pipeline the system clock).
 * If the clocks differ the difference is measured once on both clocks and a
 * warning says that clock drift is not compensated.
 *
 * For the participant pipeline the hubport is a live element: it does not
 * preroll (PAUSED gives NO_PREROLL) and only pushes what the hub sends while
 * PLAYING, from a thread of its own behind a short leaky queue (a few raw
 * frames; about a second of encoded frames or RTP packets, whose loss would
 * break decoding), so a slow or paused participant never stalls the hub.  An
 * input's EOS releases its hub pad when the hub is in another pipeline (the
 * room outlives its participants) and goes to the hub when it is in the same
 * pipeline (which then ends as a whole).  When every input that carried data
 * has reached EOS, the hubport sends EOS on its source pads and posts EOS like
 * a sink.
 *
 * ## Messages
 *
 * The hubport posts no element messages of its own.  It posts
 * an error `RESOURCE / NOT_FOUND` "no hub named 'X' in this process" (or
 * "property 'hub' is not set") when attaching fails, a warning
 * `RESOURCE / NOT_FOUND` "hub 'X' went away; port N detached" when the hub is
 * disposed while attached, and a warning `CORE / CLOCK` when its pipeline and
 * the hub's pipeline use different clocks.  It posts `EOS` when all its used
 * inputs reached EOS.
 *
 * A hubport whose input comes, within its own pipeline, from the hub it
 * attaches to (`mcucompositor name=m ! hubport hub=m`, or a dispatcher's
 * output through other elements into a hubport on that dispatcher) would feed
 * the hub what the hub sends it: attaching is refused with the error
 * `CORE / PAD` "hubport is fed by its own hub 'X' (PATH): a loop, refused"
 * and the state change fails.  A loop made after the port attached is not
 * refused, but a query, event or buffer that comes back round it to the pad
 * passing it on is dropped (a query is left unanswered, a latency query
 * answered as live without latency) instead of recursing.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 mcucompositor name=m width=320 height=240 ! videoconvert ! \
 *     fakesink \
 *   videotestsrc is-live=true num-buffers=60 ! \
 *     video/x-raw,width=160,height=120 ! hubport hub=m \
 *   videotestsrc is-live=true num-buffers=60 pattern=ball ! \
 *     video/x-raw,width=160,height=120 ! \
 *     hubport hub=m name=p p.src ! videoconvert ! fakesink \
 *   audiotestsrc is-live=true num-buffers=50 ! p.audio_sink \
 *     p.audio_src ! fakesink
 * ]| Two participants in the pipeline of the hub itself; the second one also
 * receives the composite and the mix-minus of its port.  The room tool puts
 * each hubport in a pipeline of its own instead.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthubport.h"
#include "hubregistry.h"

#include <gst/video/video.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_hub_port_debug);
#define GST_CAT_DEFAULT gst_hub_port_debug

/* Lock order: link_lock, then an output queue's lock, then the object lock
 * of any pad or element; timing_lock is taken alone.  The hub's streaming
 * threads only ever take queue locks of ours; a reference to the hub is never
 * dropped while link_lock is held (dropping the last one would re-enter us from
 * the hub's dispose). */

enum {
  PROP_0,
  PROP_HUB,
  PROP_PORT,
  PROP_WAIT_FOR_HUB,
};

#define DEFAULT_HUB NULL
#define DEFAULT_PORT -1
#define DEFAULT_WAIT_FOR_HUB FALSE

/* How many buffers wait for the participant pipeline before the oldest is
 * dropped: a frame or two of raw video, ~100-200 ms of raw audio.  Dropping
 * any encoded frame or RTP packet breaks decoding until the next keyframe, so
 * those queues only guard against a participant that stopped taking them:
 * about a second of encoded frames, or of RTP packets of a few Mbit/s (a
 * keyframe arrives as a burst of packets). */
#define VIDEO_QUEUE_BUFFERS 3
#define AUDIO_QUEUE_BUFFERS 10
#define ENCODED_QUEUE_BUFFERS 30
#define RTP_QUEUE_BUFFERS 500
/* At most this many queued buffers are pushed on as one list. */
#define MAX_PUSH_LIST 64

/* Media types rather than ANY, so that launch syntax links audio to
 * `audio_sink` and video to `sink`.  A dispatcher forwards encoded media,
 * hence the common encoded formats. */
#define HUB_PORT_VIDEO_CAPS                                                    \
  "video/x-raw(ANY); image/jpeg; video/x-h264; video/x-h265; video/x-vp8; "    \
  "video/x-vp9; video/x-av1; application/x-rtp, media=(string)video"
#define HUB_PORT_AUDIO_CAPS                                                    \
  "audio/x-raw(ANY); audio/x-opus; audio/mpeg; audio/x-alaw; audio/x-mulaw; "  \
  "audio/x-ac3; application/x-rtp, media=(string)audio"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (HUB_PORT_VIDEO_CAPS));
static GstStaticPadTemplate audio_sink_template =
    GST_STATIC_PAD_TEMPLATE ("audio_sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (HUB_PORT_AUDIO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (HUB_PORT_VIDEO_CAPS));
static GstStaticPadTemplate audio_src_template =
    GST_STATIC_PAD_TEMPLATE ("audio_src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (HUB_PORT_AUDIO_CAPS));

namespace {

/* What the hub sends towards the participant, waiting for the hubport's
 * source pad task.  Shared with the probe on a hub's shared pad, which may
 * outlive the hubport by one call. */
struct OutputQueue {
  std::mutex lock;
  std::condition_variable cond;
  std::deque<GstMiniObject *> items; /* lock */
  guint buffers = 0;                 /* lock: buffers among items */
  guint max_buffers = 0;             /* lock: set by the caps */
  guint raw_max_buffers = 0;         /* constant: for raw media */
  bool flushing = true;              /* lock: the source pad is inactive */
  bool ended = false;                /* lock: EOS was queued, drop the rest */
  bool lost = false; /* lock: data was dropped since the task last looked */

  ~OutputQueue () { clear (); }

  void clear ()
  {
    for (GstMiniObject *item : items)
      gst_mini_object_unref (item);
    items.clear ();
    buffers = 0;
  }

  /* Takes @item.  Buffers beyond max_buffers push out the oldest buffer;
   * events are never dropped (they carry caps and segments). */
  void push (GstMiniObject *item)
  {
    std::lock_guard<std::mutex> guard (lock);
    push_locked (item);
    cond.notify_one ();
  }

  /* @list itself (a ref taken), as one item and one wake-up of the source
   * pad's task: a frame's RTP packets cost one hand-over, and the same list
   * goes on to the participant. */
  void push_list (GstBufferList *list)
  {
    std::lock_guard<std::mutex> guard (lock);
    push_locked (GST_MINI_OBJECT_CAST (gst_buffer_list_ref (list)));
    cond.notify_one ();
  }

  /* How many buffers @item holds: 1 for a buffer, its length for a list, 0
   * for an event. */
  static guint data_size (GstMiniObject *item)
  {
    if (GST_IS_BUFFER (item))
      return 1;
    if (GST_IS_BUFFER_LIST (item))
      return gst_buffer_list_length (GST_BUFFER_LIST_CAST (item));
    return 0;
  }

  void push_locked (GstMiniObject *item)
  {
    /* Events are kept while the source pad is not active yet (the port
     * attaches just before it activates): they carry the stream-start and
     * caps the pad needs first.  Deactivating clears them. */
    guint size = data_size (item);
    if (ended || (flushing && size > 0)) {
      gst_mini_object_unref (item);
      return;
    }
    if (size > 0) {
      /* Make room by dropping the oldest buffers or lists. */
      for (auto it = items.begin ();
           buffers > 0 && buffers + size > max_buffers && it != items.end ();) {
        guint old = data_size (*it);
        if (old == 0) {
          ++it;
          continue;
        }
        gst_mini_object_unref (*it);
        it = items.erase (it);
        buffers -= old;
        lost = true;
      }
      buffers += size;
    } else if (GST_EVENT_TYPE (item) == GST_EVENT_EOS) {
      ended = true;
    } else if (GST_EVENT_TYPE (item) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (GST_EVENT_CAST (item), &caps);
      const gchar *name =
          gst_structure_get_name (gst_caps_get_structure (caps, 0));
      if (g_str_has_suffix (name, "/x-raw"))
        max_buffers = raw_max_buffers;
      else if (g_str_equal (name, "application/x-rtp"))
        max_buffers = RTP_QUEUE_BUFFERS;
      else
        max_buffers = ENCODED_QUEUE_BUFFERS;
    }
    items.push_back (item);
  }

  void drop_buffers ()
  {
    std::lock_guard<std::mutex> guard (lock);
    for (auto it = items.begin (); it != items.end ();) {
      if (data_size (*it) > 0) {
        gst_mini_object_unref (*it);
        it = items.erase (it);
        lost = true;
      } else {
        ++it;
      }
    }
    buffers = 0;
  }
};

/* Participant -> hub: the hubport's sink pad feeds an internal source pad
 * that is linked to the hub's request pad while attached. */
struct HubPortInput {
  const char *hub_template = nullptr; /* "sink_%u" or "audio_sink_%u" */
  GstPad *sinkpad = nullptr;          /* the element's pad */
  GstPad *feedpad = nullptr;          /* internal, parented to the element */
  GstPad *hubpad = nullptr;           /* link_lock: the hub's pad, a ref */
  bool unsupported = false;           /* link_lock: hub has no such pad */
  std::atomic<bool> linked{false};    /* hubpad != NULL, read lock-free */
  std::atomic<bool> started{false};   /* stream-start or data seen */
  std::atomic<bool> eos{false};       /* EOS seen */
  /* The feed pad must start afresh from the sink pad's sticky events before
   * it pushes again (set when it is linked to a new hub pad).  Only the
   * participant's streaming thread touches the feed pad's events, so they
   * can never be reordered by an attach or detach in another thread. */
  std::atomic<bool> resync{true};
};

/* Hub -> participant: the hub's pad (requested, or the shared composite
 * pad watched by a probe) fills a queue that the hubport's source pad task
 * empties into the participant pipeline. */
struct HubPortOutput {
  const char *hub_template = nullptr; /* "src_%u" or "audio_src_%u" */
  const char *hub_shared = nullptr;   /* "src" or "audio_src" */
  GstPad *srcpad = nullptr;           /* the element's pad */
  GstPad *tappad = nullptr; /* internal sink pad, linked to a requested pad */
  std::shared_ptr<OutputQueue> queue; /* constant */
  GstPad *hubpad = nullptr;           /* link_lock: the hub's pad, a ref */
  gulong probe_id = 0;                /* link_lock: probe on a shared pad */

  /* The timeline rule, only touched by the source pad's task (and reset by
   * activation, before the task starts): */
  GstSegment hub_segment;      /* the hub's segment of what is queued */
  bool segment_sent = false;   /* our own segment, since the stream start */
  bool encoded = false;        /* encoded video: it starts at a keyframe */
  bool need_keyframe = true;   /* encoded delta units are dropped */
  bool keyframe_asked = false; /* since need_keyframe was set */
  GstClockTime keyframe_asked_at = GST_CLOCK_TIME_NONE; /* hub running time */
  guint keyframe_requests = 0;
  bool discont = false; /* something was dropped before the next buffer */

  void reset_timeline ()
  {
    gst_segment_init (&hub_segment, GST_FORMAT_TIME);
    segment_sent = false;
    encoded = false;
    need_keyframe = true;
    keyframe_asked = false;
    keyframe_asked_at = GST_CLOCK_TIME_NONE;
    discont = false;
  }

  /* Drop delta units until a keyframe, asking for one at once. */
  void wait_for_keyframe ()
  {
    if (!need_keyframe)
      keyframe_asked = false;
    need_keyframe = true;
  }
};

/* Data of the weak reference on an attached hub. */
struct HubGoneWatch {
  GWeakRef self;
  guint generation;
};

} // namespace

struct GstHubPortPrivate {
  std::mutex link_lock;
  std::string hub_name;      /* link_lock */
  bool wait_for_hub = false; /* link_lock */
  GWeakRef hub;              /* link_lock for writes: the attached hub */
  bool attached = false;     /* link_lock */
  bool waiting = false;      /* link_lock: attach when the hub appears */
  gint port = -1;            /* link_lock */
  guint generation = 0;      /* link_lock: counts attachments */
  HubGoneWatch *gone_watch = nullptr; /* link_lock: weak-ref data on hub */
  guint registry_watch = 0;           /* constant after init */

  HubPortInput inputs[2];   /* 0 video, 1 audio */
  HubPortOutput outputs[2]; /* 0 video, 1 audio */

  std::atomic<bool> playing{false};
  std::atomic<bool> eos_posted{false};

  std::mutex timing_lock;
  bool delta_valid = false;            /* timing_lock */
  GstClockTime last_base_self = 0;     /* timing_lock */
  GstClockTime last_base_hub = 0;      /* timing_lock */
  GstClock *last_clock_self = nullptr; /* timing_lock, a ref */
  GstClock *last_clock_hub = nullptr;  /* timing_lock, a ref */
  GstClockTimeDiff delta = 0;          /* timing_lock: hub rt - our rt */
  bool clocks_warned = false;          /* timing_lock */
};

struct _GstHubPort {
  GstElement parent;
  GstHubPortPrivate *priv;
};

#define gst_hub_port_parent_class parent_class
G_DEFINE_TYPE (GstHubPort, gst_hub_port, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (hubport, "hubport", GST_RANK_NONE,
    GST_TYPE_HUB_PORT,
    GST_DEBUG_CATEGORY_INIT (
        gst_hub_port_debug, "hubport", 0, "participant port of a hub"));

static void gst_hub_port_detach (GstHubPort *self);

/* ---------------------------------------------------------------------- */
/* Helpers */

static std::string
hub_pad_name (const char *templ, gint port)
{
  std::string name (templ);
  size_t at = name.find ("%u");
  if (at != std::string::npos)
    name.replace (at, 2, std::to_string (port));
  return name;
}

static gint
port_of_pad (GstPad *pad)
{
  gchar *name = gst_pad_get_name (pad);
  const gchar *underscore = strrchr (name, '_');
  gint port = -1;
  if (underscore && g_ascii_isdigit (underscore[1]))
    port = (gint)g_ascii_strtoll (underscore + 1, NULL, 10);
  g_free (name);
  return port;
}

static GstPadTemplate *
hub_request_template (GstElement *hub, const char *templ)
{
  GstPadTemplate *t =
      gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (hub), templ);
  if (t && GST_PAD_TEMPLATE_PRESENCE (t) == GST_PAD_REQUEST)
    return t;
  return NULL;
}

/* Requests @templ of @hub, named after @port when @port >= 0. */
static GstPad *
request_hub_pad (GstElement *hub, const char *templ, gint port)
{
  GstPadTemplate *t = hub_request_template (hub, templ);
  if (t == NULL)
    return NULL;
  if (port < 0)
    return gst_element_request_pad (hub, t, NULL, NULL);
  std::string name = hub_pad_name (templ, port);
  return gst_element_request_pad (hub, t, name.c_str (), NULL);
}

static GstElement *
toplevel_of (GstElement *element)
{
  GstObject *top = GST_OBJECT (gst_object_ref (element));
  GstObject *parent;
  while ((parent = gst_object_get_parent (top)) != NULL) {
    gst_object_unref (top);
    top = parent;
  }
  return GST_ELEMENT (top);
}

/* ---------------------------------------------------------------------- */
/* Loops: a hubport fed by the hub it feeds */

/* A hubport joins two pads that GStreamer sees as unrelated (the participant's
 * and the hub's), so the graph may form a loop GStreamer cannot see: the hub's
 * output back into our sink pad.  Queries and upstream events we forward would
 * then come back to the same pad of ours, in the same thread, until the stack
 * overflows; buffers pushed into a hub that pushes them straight back would do
 * the same.  Each pad of ours is remembered on the calling thread while it
 * forwards something; coming back to it is refused.  The depth is bounded too:
 * forwarding across more hubports than this in one thread is a loop as well. */
#define MAX_FORWARD_DEPTH 16

namespace {

thread_local GstPad *forwarding_pads[MAX_FORWARD_DEPTH];
thread_local int forwarding_depth = 0;

class ForwardGuard {
public:
  explicit ForwardGuard (GstPad *pad)
  {
    for (int i = 0; i < forwarding_depth; i++) {
      if (forwarding_pads[i] == pad) {
        GST_WARNING_OBJECT (pad, "came back to this pad in a loop; refused");
        return;
      }
    }
    if (forwarding_depth == MAX_FORWARD_DEPTH) {
      GST_WARNING_OBJECT (pad, "forwarding nested too deep; refused");
      return;
    }
    forwarding_pads[forwarding_depth++] = pad;
    entered_ = true;
  }
  ~ForwardGuard ()
  {
    if (entered_)
      forwarding_depth--;
  }
  ForwardGuard (const ForwardGuard &) = delete;
  ForwardGuard &operator= (const ForwardGuard &) = delete;

  /* False: this pad is already forwarding in this thread (a loop). */
  bool entered () const { return entered_; }

private:
  bool entered_ = false;
};

} // namespace

/* The answer to a query that came back in a loop: a loop adds no latency that
 * could be measured, anything else is unanswered. */
static gboolean
answer_looped_query (GstQuery *query)
{
  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return FALSE;
  gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
  return TRUE;
}

/* "element:pad", or "" for pads that are no element's (the inner side of a
 * ghost pad, the pads a hubport links to its hub). */
static std::string
pad_label (GstPad *pad)
{
  std::string label;
  GstObject *parent = gst_pad_get_parent (pad);
  if (parent && GST_IS_ELEMENT (parent)) {
    gchar *element = gst_object_get_name (parent);
    gchar *name = gst_object_get_name (GST_OBJECT (pad));
    label = std::string (element) + ":" + name;
    g_free (element);
    g_free (name);
  }
  if (parent)
    gst_object_unref (parent);
  return label;
}

/* The sink pads upstream of @src within its element: its internal links (the
 * element knows best), or else every sink pad of the element.  Each is added
 * to @out with a ref. */
static void
sink_pads_feeding (GstPad *src, GstElement *element, std::vector<GstPad *> &out)
{
  GstIterator *it = gst_pad_iterate_internal_links (src);
  if (it) {
    GValue item = G_VALUE_INIT;
    bool done = false;
    while (!done) {
      switch (gst_iterator_next (it, &item)) {
        case GST_ITERATOR_OK: {
          GstPad *pad = GST_PAD (g_value_get_object (&item));
          if (GST_PAD_IS_SINK (pad))
            out.push_back (GST_PAD (gst_object_ref (pad)));
          g_value_reset (&item);
          break;
        }
        case GST_ITERATOR_RESYNC:
          gst_iterator_resync (it); /* duplicates are skipped by the caller */
          break;
        default:
          done = true;
          break;
      }
    }
    g_value_unset (&item);
    gst_iterator_free (it);
    return;
  }
  GST_OBJECT_LOCK (element);
  for (GList *l = element->sinkpads; l; l = l->next)
    out.push_back (GST_PAD (gst_object_ref (l->data)));
  GST_OBJECT_UNLOCK (element);
}

/* How many pads a loop search looks at, at most: a pipeline is far smaller. */
#define MAX_LOOP_SEARCH 4096

/* Whether what enters our sink pads comes, through elements of our own
 * pipeline, out of @hub: then every buffer, query and event we hand to the hub
 * comes straight back to us (a stack overflow), and EOS waits on itself (a
 * hang).  Walks upstream from our sink pads, through each element's internal
 * links, into bins through ghost pads, and from a hubport's source pads to its
 * hub (our own source pads carry what @hub sends).  On a loop @path tells the
 * way from the hub to us. */
static bool
gst_hub_port_find_loop (GstHubPort *self, GstElement *hub, std::string &path)
{
  GstElement *our_top = toplevel_of (GST_ELEMENT (self));
  std::vector<GstPad *> work;              /* sink pads to look upstream of */
  std::map<GstPad *, GstPad *> downstream; /* where the walk came from */
  std::vector<GstPad *> held;              /* a ref on every pad seen */
  GstPad *found = NULL;                    /* the pad of @hub feeding us */

  /* Takes @pad (a ref); false when it was seen before. */
  auto visit = [&] (GstPad *pad, GstPad *from) {
    if (downstream.count (pad)) {
      gst_object_unref (pad);
      return false;
    }
    downstream[pad] = from;
    held.push_back (pad);
    return true;
  };
  auto visit_sinks = [&] (std::vector<GstPad *> &pads, GstPad *from) {
    for (GstPad *pad : pads)
      if (visit (pad, from))
        work.push_back (pad);
    pads.clear ();
  };

  std::vector<GstPad *> start;
  for (HubPortInput &input : self->priv->inputs)
    start.push_back (GST_PAD (gst_object_ref (input.sinkpad)));
  visit_sinks (start, NULL);

  while (!work.empty () && !found && held.size () < MAX_LOOP_SEARCH) {
    GstPad *sink = work.back ();
    work.pop_back ();
    GstPad *src = gst_pad_get_peer (sink);
    if (src == NULL || !visit (src, sink))
      continue;
    GstObject *parent = gst_pad_get_parent (src);
    if (parent == NULL)
      continue; /* a hubport's own pad into a hub: not followed */
    if (GST_IS_PAD (parent)) {
      /* The inner side of a ghost sink pad: on upstream of the ghost pad. */
      if (visit (GST_PAD (parent), src))
        work.push_back (GST_PAD (parent));
      continue;
    }
    GstElement *element = GST_ELEMENT (parent);
    GstElement *element_top = toplevel_of (element);
    bool in_our_pipeline = element_top == our_top;
    gst_object_unref (element_top);
    std::vector<GstPad *> next;
    if (!in_our_pipeline) {
      /* Another pipeline: not this hubport's business. */
    } else if (element == hub || element == GST_ELEMENT (self)) {
      found = src;
    } else if (GST_IS_HUB_PORT (element)) {
      /* Another hubport's source pads carry what its hub sends. */
      gchar *name = NULL;
      g_object_get (element, "hub", &name, NULL);
      GstElement *its_hub = name ? gst_room_hub_registry_lookup (name) : NULL;
      g_free (name);
      if (its_hub == hub) {
        found = src;
      } else if (its_hub) {
        GST_OBJECT_LOCK (its_hub);
        for (GList *l = its_hub->sinkpads; l; l = l->next)
          next.push_back (GST_PAD (gst_object_ref (l->data)));
        GST_OBJECT_UNLOCK (its_hub);
      }
      if (its_hub)
        gst_object_unref (its_hub);
    } else {
      sink_pads_feeding (src, element, next);
    }
    gst_object_unref (element);
    visit_sinks (next, src);
  }

  if (found) {
    /* From the hub's pad down to ours, naming element pads only. */
    for (GstPad *pad = found; pad; pad = downstream[pad]) {
      std::string label = pad_label (pad);
      if (label.empty ())
        continue;
      if (!path.empty ())
        path += " -> ";
      path += label;
    }
  }
  for (GstPad *pad : held)
    gst_object_unref (pad);
  gst_object_unref (our_top);
  return found != NULL;
}

static gboolean
copy_sticky_to_feed (GstPad *pad, GstEvent **event, gpointer user_data)
{
  GstPad *feedpad = GST_PAD (user_data);
  if (GST_EVENT_TYPE (*event) != GST_EVENT_EOS)
    gst_pad_store_sticky_event (feedpad, *event);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Re-timing between the two pipelines */

/* The difference between the hub pipeline's running time and ours at the
 * same instant.  With one clock this is exactly the difference of the base
 * times; with two clocks both are sampled once (drift is not followed). */
static GstClockTimeDiff
gst_hub_port_running_time_delta (GstHubPort *self, GstElement *hub)
{
  GstHubPortPrivate *priv = self->priv;
  GstClockTime base_self = gst_element_get_base_time (GST_ELEMENT (self));
  GstClockTime base_hub = gst_element_get_base_time (hub);
  GstClock *clock_self = gst_element_get_clock (GST_ELEMENT (self));
  GstClock *clock_hub = gst_element_get_clock (hub);
  bool warn = false;
  GstClockTimeDiff delta;

  {
    std::lock_guard<std::mutex> guard (priv->timing_lock);
    if (!priv->delta_valid || base_self != priv->last_base_self
        || base_hub != priv->last_base_hub
        || clock_self != priv->last_clock_self
        || clock_hub != priv->last_clock_hub) {
      if (clock_self && clock_hub && clock_self != clock_hub) {
        GstClockTime now_self = gst_clock_get_time (clock_self);
        GstClockTime now_hub = gst_clock_get_time (clock_hub);
        priv->delta = GST_CLOCK_DIFF (now_self, base_self)
                      + GST_CLOCK_DIFF (base_hub, now_hub);
        warn = !priv->clocks_warned;
        priv->clocks_warned = true;
      } else {
        priv->delta = GST_CLOCK_DIFF (base_hub, base_self);
      }
      priv->delta_valid = true;
      priv->last_base_self = base_self;
      priv->last_base_hub = base_hub;
      gst_object_replace (
          (GstObject **)&priv->last_clock_self, GST_OBJECT_CAST (clock_self));
      gst_object_replace (
          (GstObject **)&priv->last_clock_hub, GST_OBJECT_CAST (clock_hub));
      GST_DEBUG_OBJECT (self,
          "running-time delta to the hub %" GST_STIME_FORMAT,
          GST_STIME_ARGS (priv->delta));
    }
    delta = priv->delta;
  }
  if (clock_self)
    gst_object_unref (clock_self);
  if (clock_hub)
    gst_object_unref (clock_hub);
  if (warn)
    GST_ELEMENT_WARNING (self, CORE, CLOCK,
        ("The pipeline of hubport and the pipeline of its hub use different "
         "clocks; clock drift between them is not compensated."),
        (NULL));
  return delta;
}

/* What the participant sends keeps its clock time in the hub's pipeline
 * through an offset on the feed pad (what the hub sends back is re-timed by
 * the source pads' task, see the timeline rule below). */
static void
gst_hub_port_retime_feed (GstHubPort *self, GstPad *feedpad)
{
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&self->priv->hub));
  if (hub == NULL)
    return;
  GstClockTimeDiff delta = gst_hub_port_running_time_delta (self, hub);
  gst_object_unref (hub);
  if (gst_pad_get_offset (feedpad) != delta)
    gst_pad_set_offset (feedpad, delta);
}

/* ---------------------------------------------------------------------- */
/* Participant -> hub */

static HubPortInput *
input_of (GstPad *pad)
{
  return (HubPortInput *)GST_PAD_ELEMENT_PRIVATE (pad);
}

/* With link_lock held: requests and links the hub pad of @input. */
static void
gst_hub_port_link_input_locked (
    GstHubPort *self, GstElement *hub, HubPortInput *input)
{
  GstHubPortPrivate *priv = self->priv;
  if (input->hubpad || input->unsupported)
    return;
  GstPad *hubpad = request_hub_pad (hub, input->hub_template, priv->port);
  if (hubpad == NULL) {
    input->unsupported = true;
    GST_WARNING_OBJECT (self, "hub %s gives no pad %s for port %d",
        GST_OBJECT_NAME (hub), input->hub_template, priv->port);
    return;
  }
  if (priv->port < 0)
    priv->port = port_of_pad (hubpad);
  input->resync = true;
  GstPadLinkReturn ret =
      gst_pad_link_full (input->feedpad, hubpad, GST_PAD_LINK_CHECK_NOTHING);
  if (ret != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (self, "could not link to %" GST_PTR_FORMAT ": %s",
        hubpad, gst_pad_link_get_name (ret));
  input->hubpad = hubpad;
  input->linked = true;
  GST_INFO_OBJECT (self, "feeding %" GST_PTR_FORMAT, hubpad);
}

/* Lazily requests the hub pad of an input that starts carrying data. */
static void
gst_hub_port_ensure_input (GstHubPort *self, HubPortInput *input)
{
  if (input->linked)
    return;
  GstHubPortPrivate *priv = self->priv;
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&priv->hub));
  if (hub == NULL)
    return;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (priv->attached)
      gst_hub_port_link_input_locked (self, hub, input);
  }
  gst_object_unref (hub);
}

/* Something else unlinked us from the hub's pad while the port holds it
 * (gst_parse links a hub created after us with "any pad" logic that can
 * do so): link again, the next buffer starts the stream afresh. */
static void
gst_hub_port_relink_input (GstHubPort *self, HubPortInput *input)
{
  GstObject *hub = NULL;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    GstPad *hubpad = input->hubpad;
    if (hubpad == NULL || gst_pad_is_linked (input->feedpad)
        || gst_pad_is_linked (hubpad))
      return;
    hub = gst_pad_get_parent (hubpad);
    if (hub == NULL)
      return; /* released by a hub that is going away */
    GST_INFO_OBJECT (self, "linking to %" GST_PTR_FORMAT " again", hubpad);
    input->resync = true;
    gst_pad_link_full (input->feedpad, hubpad, GST_PAD_LINK_CHECK_NOTHING);
  }
  gst_object_unref (hub);
}

/* From the participant's streaming thread only: see HubPortInput::resync. */
static void
gst_hub_port_resync_feed (HubPortInput *input)
{
  if (!input->resync.exchange (false))
    return;
  /* Deactivating drops the old sticky events, including a stored EOS. */
  gst_pad_set_active (input->feedpad, FALSE);
  gst_pad_set_active (input->feedpad, TRUE);
  gst_pad_sticky_events_foreach (
      input->sinkpad, copy_sticky_to_feed, input->feedpad);
}

/* Whether the attached hub is in the same top-level pipeline as we are. */
static bool
gst_hub_port_hub_in_our_pipeline (GstHubPort *self)
{
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&self->priv->hub));
  if (hub == NULL)
    return false;
  GstElement *our_top = toplevel_of (GST_ELEMENT (self));
  GstElement *hub_top = toplevel_of (hub);
  bool same = our_top == hub_top;
  gst_object_unref (our_top);
  gst_object_unref (hub_top);
  gst_object_unref (hub);
  return same;
}

/* An input of a participant in a pipeline of its own ended: its hub pad is
 * released rather than sent EOS, which would end a hub whose every input is
 * EOS — the room outlives its participants.  The pad is requested again if
 * the input starts a new stream. */
static void
gst_hub_port_release_input (GstHubPort *self, HubPortInput *input)
{
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&self->priv->hub));
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    if (input->hubpad) {
      if (hub)
        gst_element_release_request_pad (hub, input->hubpad);
      gst_pad_unlink (input->feedpad, input->hubpad);
      gst_object_unref (input->hubpad);
      input->hubpad = NULL;
      input->linked = false;
    }
  }
  if (hub)
    gst_object_unref (hub);
}

static void
gst_hub_port_check_all_eos (GstHubPort *self, guint32 seqnum)
{
  GstHubPortPrivate *priv = self->priv;
  bool any_started = false;
  for (HubPortInput &input : priv->inputs) {
    if (input.started) {
      any_started = true;
      if (!input.eos)
        return;
    }
  }
  if (!any_started || priv->eos_posted.exchange (true))
    return;

  GST_INFO_OBJECT (self, "every input reached EOS");
  if (!gst_hub_port_hub_in_our_pipeline (self))
    gst_hub_port_detach (self);
  for (HubPortOutput &output : priv->outputs) {
    GstEvent *eos = gst_event_new_eos ();
    gst_event_set_seqnum (eos, seqnum);
    output.queue->push (GST_MINI_OBJECT_CAST (eos));
  }
  GstMessage *msg = gst_message_new_eos (GST_OBJECT (self));
  gst_message_set_seqnum (msg, seqnum);
  gst_element_post_message (GST_ELEMENT (self), msg);
}

static GstFlowReturn
gst_hub_port_sink_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstHubPort *self = GST_HUB_PORT (parent);
  HubPortInput *input = input_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ()) {
    gst_buffer_unref (buffer); /* it went round a loop */
    return GST_FLOW_OK;
  }

  input->started = true;
  gst_hub_port_ensure_input (self, input);
  gst_hub_port_resync_feed (input);
  if (!input->linked) {
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  gst_hub_port_retime_feed (self, input->feedpad);
  GstFlowReturn ret = gst_pad_push (input->feedpad, buffer);
  if (ret == GST_FLOW_NOT_LINKED)
    gst_hub_port_relink_input (self, input);
  switch (ret) {
    case GST_FLOW_NOT_LINKED: /* detached meanwhile */
    case GST_FLOW_FLUSHING:   /* the hub's pad is flushing or released */
    case GST_FLOW_EOS:        /* the hub no longer wants this port's data */
      return GST_FLOW_OK;
    default:
      return ret;
  }
}

static gboolean
gst_hub_port_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstHubPort *self = GST_HUB_PORT (parent);
  HubPortInput *input = input_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ()) {
    gst_event_unref (event); /* this pad is passing it on already */
    return TRUE;
  }

  if (GST_EVENT_IS_SERIALIZED (event))
    gst_hub_port_resync_feed (input);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      input->started = true;
      input->eos = false;
      self->priv->eos_posted = false;
      gst_hub_port_ensure_input (self, input);
      gst_hub_port_resync_feed (input);
      break;
    case GST_EVENT_FLUSH_STOP:
      input->eos = false;
      self->priv->eos_posted = false;
      break;
    case GST_EVENT_EOS: {
      guint32 seqnum = gst_event_get_seqnum (event);
      input->eos = true;
      if (gst_hub_port_hub_in_our_pipeline (self)) {
        /* One pipeline: it ends as a whole, hub included. */
        gst_pad_push_event (input->feedpad, event);
      } else {
        gst_event_unref (event);
        gst_hub_port_release_input (self, input);
      }
      gst_hub_port_check_all_eos (self, seqnum);
      return TRUE;
    }
    default:
      break;
  }
  /* Sticky events are kept on the feed pad even while it is not linked and
   * reach the hub with the next buffer; the result does not matter to the
   * participant (returning FALSE would make it think the caps are wrong
   * while no hub is attached). */
  gst_pad_push_event (input->feedpad, event);
  return TRUE;
}

static gboolean
gst_hub_port_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  HubPortInput *input = input_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ())
    return answer_looped_query (query);

  if (GST_QUERY_IS_SERIALIZED (query))
    gst_hub_port_resync_feed (input);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      if (input->linked && gst_pad_peer_query (input->feedpad, query)) {
        /* What the hub takes, within what a hubport pad carries. */
        GstCaps *hub_caps, *templ = gst_pad_get_pad_template_caps (pad);
        gst_query_parse_caps_result (query, &hub_caps);
        GstCaps *caps =
            gst_caps_intersect_full (hub_caps, templ, GST_CAPS_INTERSECT_FIRST);
        gst_query_set_caps_result (query, caps);
        gst_caps_unref (caps);
        gst_caps_unref (templ);
        return TRUE;
      }
      break;
    case GST_QUERY_ACCEPT_CAPS:
      if (input->linked)
        return gst_pad_peer_query (input->feedpad, query);
      gst_query_set_accept_caps_result (query, TRUE);
      return TRUE;
    case GST_QUERY_ALLOCATION:
      /* The hub may propose a pool or metas; without a hub any plain
       * system-memory buffer will do. */
      if (input->linked)
        gst_pad_peer_query (input->feedpad, query);
      return TRUE;
    default:
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* Upstream events from the hub go on to the participant, except seeks: the
 * hub's timeline is not the participant's. */
static gboolean
gst_hub_port_feed_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  HubPortInput *input = input_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ()) {
    gst_event_unref (event); /* this pad is passing it on already */
    return TRUE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    gst_event_unref (event);
    return FALSE;
  }
  return gst_pad_push_event (input->sinkpad, event);
}

/* Queries from the hub (caps, latency) are answered by the participant. */
static gboolean
gst_hub_port_feed_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  HubPortInput *input = input_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ())
    return answer_looped_query (query);
  if (gst_pad_peer_query (input->sinkpad, query))
    return TRUE;
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* Nothing upstream answers (not linked, or not started yet): we are a
     * live input without latency of our own. */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Hub -> participant */

static HubPortOutput *
output_of (GstPad *pad)
{
  return (HubPortOutput *)GST_PAD_ELEMENT_PRIVATE (pad);
}

static void
queue_hub_event (OutputQueue &queue, GstEvent *event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* The hub restarts its stream; the participant's stream goes on. */
      queue.drop_buffers ();
      gst_event_unref (event);
      break;
    case GST_EVENT_FLUSH_STOP:
      gst_event_unref (event);
      break;
    default:
      if (GST_EVENT_IS_SERIALIZED (event))
        queue.push (GST_MINI_OBJECT_CAST (event));
      else
        gst_event_unref (event);
      break;
  }
}

static GstFlowReturn
gst_hub_port_tap_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  output_of (pad)->queue->push (GST_MINI_OBJECT_CAST (buffer));
  /* Never tell the hub about our state: a participant must not stop it. */
  return GST_FLOW_OK;
}

/* A list (a frame's RTP packets) is queued whole: one wake-up for all. */
static GstFlowReturn
gst_hub_port_tap_chain_list (
    GstPad *pad, GstObject *parent, GstBufferList *list)
{
  output_of (pad)->queue->push_list (list);
  gst_buffer_list_unref (list);
  return GST_FLOW_OK;
}

static gboolean
gst_hub_port_tap_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  queue_hub_event (*output_of (pad)->queue, event);
  return TRUE;
}

static gboolean
gst_hub_port_tap_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  HubPortOutput *output = output_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ())
    return answer_looped_query (query);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
    case GST_QUERY_ACCEPT_CAPS:
      if (gst_pad_peer_query (output->srcpad, query))
        return TRUE;
      if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
        gst_query_set_accept_caps_result (query, TRUE);
      } else {
        GstCaps *filter;
        gst_query_parse_caps (query, &filter);
        gst_query_set_caps_result (query, filter ? filter : GST_CAPS_ANY);
      }
      return TRUE;
    case GST_QUERY_ALLOCATION:
      /* No pool from the participant: its elements may go away any time. */
      return TRUE;
    default:
      return FALSE;
  }
}

static GstPadProbeReturn
gst_hub_port_shared_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  OutputQueue &queue = **(std::shared_ptr<OutputQueue> *)data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    queue.push (GST_MINI_OBJECT_CAST (
        gst_buffer_ref (GST_PAD_PROBE_INFO_BUFFER (info))));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    queue.push_list (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    queue_hub_event (queue, gst_event_ref (GST_PAD_PROBE_INFO_EVENT (info)));
  }
  return GST_PAD_PROBE_OK;
}

static void
free_queue_ref (gpointer data)
{
  delete (std::shared_ptr<OutputQueue> *)data;
}

static gboolean
queue_sticky_event (GstPad *pad, GstEvent **event, gpointer user_data)
{
  OutputQueue *queue = (OutputQueue *)user_data;
  /* Called with the queue lock held, see link_output_locked. */
  if (GST_EVENT_TYPE (*event) != GST_EVENT_EOS)
    queue->items.push_back (GST_MINI_OBJECT_CAST (gst_event_ref (*event)));
  return TRUE;
}

/* With link_lock held: connects @output to what the hub sends this port. */
static void
gst_hub_port_link_output_locked (
    GstHubPort *self, GstElement *hub, HubPortOutput *output)
{
  GstHubPortPrivate *priv = self->priv;
  if (output->hubpad)
    return;

  GstPad *hubpad = NULL;
  if (hub_request_template (hub, output->hub_template)) {
    hubpad = request_hub_pad (hub, output->hub_template, priv->port);
    if (hubpad == NULL) {
      GST_WARNING_OBJECT (self, "hub %s refused %s for port %d",
          GST_OBJECT_NAME (hub), output->hub_template, priv->port);
      return;
    }
    gst_pad_link_full (hubpad, output->tappad, GST_PAD_LINK_CHECK_NOTHING);
    output->hubpad = hubpad;
    GST_INFO_OBJECT (self, "receiving from %" GST_PTR_FORMAT, hubpad);
    return;
  }

  /* A shared output (the composite): watch it, without taking it from the
   * hub's own pipeline or from the other ports. */
  hubpad = gst_element_get_static_pad (hub, output->hub_shared);
  if (hubpad == NULL) {
    GST_WARNING_OBJECT (self, "hub %s has neither %s nor %s",
        GST_OBJECT_NAME (hub), output->hub_template, output->hub_shared);
    return;
  }
  OutputQueue &queue = *output->queue;
  std::lock_guard<std::mutex> guard (queue.lock);
  /* The probe waits for the queue lock, so the current sticky events are
   * queued before anything the probe sees. */
  output->probe_id = gst_pad_add_probe (hubpad,
      (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER
                        | GST_PAD_PROBE_TYPE_BUFFER_LIST
                        | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      gst_hub_port_shared_probe,
      new std::shared_ptr<OutputQueue> (output->queue), free_queue_ref);
  gst_pad_sticky_events_foreach (hubpad, queue_sticky_event, &queue);
  queue.cond.notify_one ();
  output->hubpad = hubpad;
  GST_INFO_OBJECT (self, "watching %" GST_PTR_FORMAT, hubpad);
}

static void
gst_hub_port_ensure_output (GstHubPort *self, HubPortOutput *output)
{
  GstHubPortPrivate *priv = self->priv;
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&priv->hub));
  if (hub == NULL)
    return;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (priv->attached)
      gst_hub_port_link_output_locked (self, hub, output);
  }
  gst_object_unref (hub);
}

static void gst_hub_port_src_loop (GstPad *pad);

static GstPadLinkReturn
gst_hub_port_src_link (GstPad *pad, GstObject *parent, GstPad *peer)
{
  gst_hub_port_ensure_output (GST_HUB_PORT (parent), output_of (pad));
  /* An unlinked source pad has no task (see activate_mode): start it now
   * if the pad is already active. */
  if (GST_PAD_MODE (pad) == GST_PAD_MODE_PUSH)
    gst_pad_start_task (pad, (GstTaskFunction)gst_hub_port_src_loop, pad, NULL);
  return GST_PAD_LINK_OK;
}

/* Like gst_hub_port_relink_input, for a requested output pad. */
static void
gst_hub_port_relink_output (GstHubPort *self, HubPortOutput *output)
{
  GstObject *hub = NULL;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    GstPad *hubpad = output->hubpad;
    if (hubpad == NULL || output->probe_id != 0
        || gst_pad_is_linked (output->tappad) || gst_pad_is_linked (hubpad))
      return;
    hub = gst_pad_get_parent (hubpad);
    if (hub == NULL)
      return;
    GST_INFO_OBJECT (self, "linking to %" GST_PTR_FORMAT " again", hubpad);
    gst_pad_link_full (hubpad, output->tappad, GST_PAD_LINK_CHECK_NOTHING);
  }
  gst_object_unref (hub);
}

/* ---------------------------------------------------------------------- */
/* The timeline rule, for what the hub sends to the participant
 *
 * A buffer keeps its clock time: its running time in the participant's
 * pipeline is its running time in the hub's minus the difference of the two
 * pipelines' running times (the base times' difference on one clock).  The
 * participant gets a segment of its own, TIME from 0, and buffers stamped
 * with that running time, whatever segment the hub uses and however long
 * before the participant it started; a buffer that would fall before the
 * segment start (running time 0) is dropped.  Encoded video starts at a
 * keyframe: delta units are dropped until one comes (also after the queue
 * dropped some), and a force-key-unit event asks the hub for one at once, and
 * again every KEYFRAME_RETRY of the hub's running time while none comes. */

#define KEYFRAME_RETRY GST_SECOND

/* The hub's running time minus ours, false when detached. */
static bool
gst_hub_port_current_delta (GstHubPort *self, GstClockTimeDiff *delta)
{
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&self->priv->hub));
  if (hub == NULL)
    return false;
  *delta = gst_hub_port_running_time_delta (self, hub);
  gst_object_unref (hub);
  return true;
}

/* @time (of the hub's segment) as the participant's running time.  Returns
 * false when it falls before the participant's segment start; NONE stays
 * NONE. */
static bool
to_participant_time (const GstSegment *hub_segment, GstClockTime time,
    GstClockTimeDiff delta, GstClockTime *result)
{
  *result = GST_CLOCK_TIME_NONE;
  if (!GST_CLOCK_TIME_IS_VALID (time))
    return true;
  guint64 running_time;
  int sign = gst_segment_to_running_time_full (
      hub_segment, GST_FORMAT_TIME, time, &running_time);
  if (sign == 0)
    return false;
  gint64 hub_rt = sign > 0 ? (gint64)running_time : -(gint64)running_time;
  gint64 ours = hub_rt - delta;
  if (ours < 0)
    return false;
  *result = (GstClockTime)ours;
  return true;
}

/* Pushes our own segment before the first data after a stream start. */
static void
gst_hub_port_send_segment (HubPortOutput *output)
{
  if (output->segment_sent)
    return;
  output->segment_sent = true;
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (output->srcpad, gst_event_new_segment (&segment));
}

static bool
is_encoded_video (GstCaps *caps)
{
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return false;
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  return g_str_has_prefix (name, "video/")
         && !g_str_equal (name, "video/x-raw");
}

/* An event from the hub, as the participant's stream needs it. */
static void
gst_hub_port_push_hub_event (
    GstHubPort *self, HubPortOutput *output, GstEvent *event)
{
  GstPad *pad = output->srcpad;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      output->segment_sent = false;
      output->wait_for_keyframe ();
      break;
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      bool encoded = is_encoded_video (caps);
      GstCaps *current = gst_pad_get_current_caps (pad);
      /* A new format is decoded from its first keyframe. */
      if (encoded && (!current || !gst_caps_is_equal (current, caps)))
        output->wait_for_keyframe ();
      output->encoded = encoded;
      if (current)
        gst_caps_unref (current);
      break;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      if (segment->format == GST_FORMAT_TIME) {
        /* Ours stands instead; the hub's maps its buffers onto it. */
        if (output->hub_segment.format != GST_FORMAT_TIME)
          output->segment_sent = false;
        gst_segment_copy_into (segment, &output->hub_segment);
        gst_event_unref (event);
        return;
      }
      GST_WARNING_OBJECT (self, "the hub sends a %s segment: not re-timed",
          gst_format_get_name (segment->format));
      gst_segment_init (&output->hub_segment, GST_FORMAT_UNDEFINED);
      output->segment_sent = true;
      break;
    }
    case GST_EVENT_GAP: {
      GstClockTime timestamp, duration, ours;
      GstClockTimeDiff delta;
      if (output->hub_segment.format != GST_FORMAT_TIME)
        break;
      gst_event_parse_gap (event, &timestamp, &duration);
      bool keep =
          self->priv->playing && gst_hub_port_current_delta (self, &delta)
          && to_participant_time (&output->hub_segment, timestamp, delta, &ours)
          && GST_CLOCK_TIME_IS_VALID (ours);
      gst_event_unref (event);
      if (!keep)
        return;
      event = gst_event_new_gap (ours, duration);
      gst_hub_port_send_segment (output);
      break;
    }
    default:
      break;
  }
  gst_pad_push_event (pad, event);
}

struct Retiming {
  GstHubPort *self;
  HubPortOutput *output;
  GstClockTimeDiff delta;
  bool ask_keyframe; /* a delta unit was dropped waiting for a keyframe */
};

/* Takes @buffer; returns it re-timed for the participant, or NULL when it is
 * dropped. */
static GstBuffer *
gst_hub_port_retime_buffer (Retiming *r, GstBuffer *buffer)
{
  HubPortOutput *output = r->output;
  GstClockTime pts = GST_BUFFER_PTS (buffer), dts = GST_BUFFER_DTS (buffer);
  bool delta_unit = GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);

  if (output->hub_segment.format == GST_FORMAT_TIME
      && (!to_participant_time (&output->hub_segment, pts, r->delta, &pts)
          || !to_participant_time (
              &output->hub_segment, dts, r->delta, &dts))) {
    GST_LOG_OBJECT (output->srcpad,
        "dropping %" GST_PTR_FORMAT ": before our segment start", buffer);
    gst_buffer_unref (buffer);
    output->discont = true;
    return NULL;
  }
  if (output->encoded && output->need_keyframe) {
    if (delta_unit) {
      GstClockTime hub_rt = gst_segment_to_running_time (
          &output->hub_segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
      if (!output->keyframe_asked
          || (GST_CLOCK_TIME_IS_VALID (hub_rt)
              && GST_CLOCK_TIME_IS_VALID (output->keyframe_asked_at)
              && hub_rt >= output->keyframe_asked_at + KEYFRAME_RETRY)) {
        r->ask_keyframe = true;
        output->keyframe_asked = true;
        output->keyframe_asked_at = hub_rt;
      }
      GST_LOG_OBJECT (output->srcpad,
          "dropping %" GST_PTR_FORMAT ": waiting for a keyframe", buffer);
      gst_buffer_unref (buffer);
      output->discont = true;
      return NULL;
    }
    GST_DEBUG_OBJECT (output->srcpad, "starting at a keyframe");
    output->need_keyframe = false;
    output->keyframe_asked = false;
  }

  if (output->hub_segment.format == GST_FORMAT_TIME
      && (pts != GST_BUFFER_PTS (buffer) || dts != GST_BUFFER_DTS (buffer)
          || (output->discont
              && !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT)))) {
    /* A shallow copy when shared: the media itself is never copied. */
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_PTS (buffer) = pts;
    GST_BUFFER_DTS (buffer) = dts;
    if (output->discont)
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  }
  output->discont = false;
  return buffer;
}

static gboolean
retime_list_item (GstBuffer **buffer, guint idx, gpointer user_data)
{
  *buffer = gst_hub_port_retime_buffer ((Retiming *)user_data, *buffer);
  return TRUE;
}

/* Asks the hub for a keyframe on this port's own output pad (a shared
 * output is not ours to steer). */
static void
gst_hub_port_request_keyframe (GstHubPort *self, HubPortOutput *output)
{
  bool requested;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    requested = output->hubpad != NULL && output->probe_id == 0;
  }
  if (!requested)
    return;
  GST_DEBUG_OBJECT (output->srcpad, "asking the hub for a keyframe");
  gst_pad_push_event (output->tappad,
      gst_video_event_new_upstream_force_key_unit (
          GST_CLOCK_TIME_NONE, TRUE, ++output->keyframe_requests));
}

static void
gst_hub_port_src_loop (GstPad *pad)
{
  GstHubPort *self = GST_HUB_PORT (GST_PAD_PARENT (pad));
  HubPortOutput *output = output_of (pad);
  OutputQueue &queue = *output->queue;
  GstMiniObject *item;
  GstBufferList *list = NULL;
  bool lost;

  {
    std::unique_lock<std::mutex> lock (queue.lock);
    if (!queue.cond.wait_for (lock, std::chrono::milliseconds (500),
            [&queue] { return queue.flushing || !queue.items.empty (); })) {
      /* Quiet: maybe something unlinked us from the hub (see relink). */
      lock.unlock ();
      gst_hub_port_relink_output (self, output);
      return;
    }
    if (queue.flushing) {
      lock.unlock ();
      gst_pad_pause_task (pad);
      return;
    }
    item = queue.items.front ();
    queue.items.pop_front ();
    lost = queue.lost;
    queue.lost = false;
    if (GST_IS_BUFFER_LIST (item)) {
      queue.buffers -= gst_buffer_list_length (GST_BUFFER_LIST_CAST (item));
      list = GST_BUFFER_LIST_CAST (item);
      item = NULL;
    } else if (GST_IS_BUFFER (item)) {
      queue.buffers--;
      /* Buffers that queued up together (a frame's RTP packets) leave
       * together, as one list: one push through the participant's chain. */
      if (!queue.items.empty () && GST_IS_BUFFER (queue.items.front ())) {
        list = gst_buffer_list_new ();
        gst_buffer_list_add (list, GST_BUFFER_CAST (item));
        item = NULL;
        while (!queue.items.empty () && GST_IS_BUFFER (queue.items.front ())
               && gst_buffer_list_length (list) < MAX_PUSH_LIST) {
          gst_buffer_list_add (list, GST_BUFFER_CAST (queue.items.front ()));
          queue.items.pop_front ();
          queue.buffers--;
        }
      }
    }
  }

  if (item && GST_IS_EVENT (item)) {
    gst_hub_port_push_hub_event (self, output, GST_EVENT_CAST (item));
    return;
  }
  GstClockTimeDiff delta = 0;
  if (!self->priv->playing || !gst_hub_port_current_delta (self, &delta)) {
    /* Live: what the hub sent while we were paused is gone. */
    if (item)
      gst_mini_object_unref (item);
    if (list)
      gst_buffer_list_unref (list);
    output->discont = true;
    return;
  }
  if (lost && output->encoded)
    output->wait_for_keyframe ();
  if (lost)
    output->discont = true;

  Retiming retiming = {self, output, delta, false};
  if (list) {
    list = gst_buffer_list_make_writable (list);
    gst_buffer_list_foreach (list, retime_list_item, &retiming);
    if (gst_buffer_list_length (list) == 0) {
      gst_buffer_list_unref (list);
      list = NULL;
    }
  } else {
    item = GST_MINI_OBJECT_CAST (
        gst_hub_port_retime_buffer (&retiming, GST_BUFFER_CAST (item)));
  }
  if (retiming.ask_keyframe)
    gst_hub_port_request_keyframe (self, output);
  if (list == NULL && item == NULL)
    return;
  gst_hub_port_send_segment (output);
  GstFlowReturn ret = list ? gst_pad_push_list (pad, list)
                           : gst_pad_push (pad, GST_BUFFER_CAST (item));
  if (ret == GST_FLOW_OK || ret == GST_FLOW_NOT_LINKED || ret == GST_FLOW_EOS
      || ret == GST_FLOW_FLUSHING)
    return;
  GST_ELEMENT_FLOW_ERROR (self, ret);
  gst_pad_pause_task (pad);
}

static gboolean
gst_hub_port_src_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  OutputQueue &queue = *output_of (pad)->queue;
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    {
      std::lock_guard<std::mutex> guard (queue.lock);
      queue.flushing = false;
      queue.ended = false;
      queue.lost = false;
    }
    /* The task is not running: its state is ours to reset. */
    output_of (pad)->reset_timeline ();
    /* A thread per linked pad only: a viewer that takes video alone has no
     * audio thread. */
    if (!gst_pad_is_linked (pad))
      return TRUE;
    return gst_pad_start_task (
        pad, (GstTaskFunction)gst_hub_port_src_loop, pad, NULL);
  }
  {
    std::lock_guard<std::mutex> guard (queue.lock);
    queue.flushing = true;
    queue.clear ();
    queue.cond.notify_all ();
  }
  return gst_pad_stop_task (pad);
}

static gboolean
gst_hub_port_src_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstHubPort *self = GST_HUB_PORT (parent);
  HubPortOutput *output = output_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ()) {
    gst_event_unref (event); /* this pad is passing it on already */
    return TRUE;
  }
  bool requested;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    requested = output->hubpad != NULL && output->probe_id == 0;
  }
  /* Upstream events (QoS, key-unit requests) reach a pad of our own; the
   * shared composite is not ours to steer. */
  bool is_seek = GST_EVENT_TYPE (event) == GST_EVENT_SEEK;
  if (requested && !is_seek)
    return gst_pad_push_event (output->tappad, event);
  gst_event_unref (event);
  return !is_seek;
}

static gboolean
gst_hub_port_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstHubPort *self = GST_HUB_PORT (parent);
  HubPortOutput *output = output_of (pad);
  ForwardGuard guard (pad);
  if (!guard.entered ())
    return answer_looped_query (query);
  GstPad *hubpad = NULL;
  bool requested = false;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    if (output->hubpad) {
      hubpad = GST_PAD (gst_object_ref (output->hubpad));
      requested = output->probe_id == 0;
    }
  }

  gboolean handled = FALSE;
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY: {
      /* Live, behind whatever latency the hub's output has. */
      gboolean live = TRUE;
      GstClockTime min = 0, max = GST_CLOCK_TIME_NONE;
      if (hubpad && gst_pad_query (hubpad, query))
        gst_query_parse_latency (query, NULL, &min, &max);
      gst_query_set_latency (query, live, min, max);
      handled = TRUE;
      break;
    }
    case GST_QUERY_CAPS: {
      GstCaps *filter,
          *caps = hubpad ? gst_pad_get_current_caps (hubpad) : NULL;
      gst_query_parse_caps (query, &filter);
      if (caps == NULL && hubpad && requested)
        caps = gst_pad_query_caps (hubpad, filter);
      if (caps == NULL)
        caps = gst_pad_get_pad_template_caps (pad);
      if (filter) {
        GstCaps *both =
            gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = both;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      handled = TRUE;
      break;
    }
    default:
      handled = gst_pad_query_default (pad, parent, query);
      break;
  }
  if (hubpad)
    gst_object_unref (hubpad);
  return handled;
}

/* ---------------------------------------------------------------------- */
/* Attaching and detaching */

static void
gst_hub_port_hub_gone (gpointer data, GObject *where_the_hub_was)
{
  HubGoneWatch *watch = (HubGoneWatch *)data;
  GstHubPort *self = GST_HUB_PORT (g_weak_ref_get (&watch->self));
  guint generation = watch->generation;
  g_weak_ref_clear (&watch->self);
  delete watch;
  if (self == NULL)
    return;

  GstHubPortPrivate *priv = self->priv;
  std::string name;
  gint port;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (!priv->attached || priv->generation != generation) {
      port = -2;
    } else {
      priv->gone_watch = NULL; /* freed above */
      name = priv->hub_name;
      port = priv->port;
    }
  }
  if (port != -2) {
    /* The hub removed its pads already; detach drops our side. */
    gst_hub_port_detach (self);
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("hub '%s' went away; port %d detached", name.c_str (), port), (NULL));
    /* With wait-for-hub a new hub of that name takes the port back. */
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (priv->wait_for_hub && GST_STATE (self) >= GST_STATE_PAUSED)
      priv->waiting = true;
  }
  gst_object_unref (self);
}

enum class AttachResult {
  ATTACHED,
  NO_HUB,  /* no hub of that name (yet): see wait-for-hub */
  REFUSED, /* an element error was posted */
};

/* Looks the hub up and connects the port.  Says why in @error when there is
 * no such hub; posts an error when the hub feeds the hubport (a loop). */
static AttachResult
gst_hub_port_attach (GstHubPort *self, std::string &error)
{
  GstHubPortPrivate *priv = self->priv;
  std::string name;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (priv->attached)
      return AttachResult::ATTACHED;
    name = priv->hub_name;
  }
  if (name.empty ()) {
    error = "property 'hub' is not set";
    return AttachResult::NO_HUB;
  }
  GstElement *hub = gst_room_hub_registry_lookup (name.c_str ());
  if (hub == NULL) {
    error = "no hub named '" + name + "' in this process";
    return AttachResult::NO_HUB;
  }
  if (hub_request_template (hub, "sink_%u") == NULL) {
    error = "element '" + name + "' is not a hub (it has no sink_%u pads)";
    gst_object_unref (hub);
    return AttachResult::NO_HUB;
  }
  std::string loop;
  if (gst_hub_port_find_loop (self, hub, loop)) {
    gst_object_unref (hub);
    {
      std::lock_guard<std::mutex> guard (priv->link_lock);
      priv->waiting = false;
    }
    GST_ELEMENT_ERROR (self, CORE, PAD,
        ("hubport is fed by its own hub '%s' (%s): a loop, refused",
            name.c_str (), loop.c_str ()),
        ("what the hub sends this port would come back into it; feed the "
         "hubport from elsewhere or attach it to another hub"));
    return AttachResult::REFUSED;
  }

  gint port;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    if (priv->attached || priv->hub_name != name) {
      /* Someone else attached meanwhile, or the name changed. */
      port = -2;
    } else {
      priv->generation++;
      g_weak_ref_set (&priv->hub, hub);
      priv->attached = true;
      priv->waiting = false;
      priv->port = -1;
      {
        std::lock_guard<std::mutex> tguard (priv->timing_lock);
        priv->delta_valid = false;
      }
      /* The video input is requested at once: it gives the port number. */
      gst_hub_port_link_input_locked (self, hub, &priv->inputs[0]);
      if (priv->inputs[1].started)
        gst_hub_port_link_input_locked (self, hub, &priv->inputs[1]);
      for (HubPortOutput &output : priv->outputs) {
        if (gst_pad_is_linked (output.srcpad))
          gst_hub_port_link_output_locked (self, hub, &output);
      }
      auto *watch = new HubGoneWatch;
      g_weak_ref_init (&watch->self, self);
      watch->generation = priv->generation;
      priv->gone_watch = watch;
      g_object_weak_ref (G_OBJECT (hub), gst_hub_port_hub_gone, watch);
      port = priv->port;
    }
  }
  gst_object_unref (hub);
  if (port != -2) {
    GST_INFO_OBJECT (
        self, "attached to hub %s as port %d", name.c_str (), port);
    g_object_notify (G_OBJECT (self), "port");
  }
  return AttachResult::ATTACHED;
}

/* Releases every pad requested from the hub.  Safe to call at any time, from
 * any thread, and again. */
static void
gst_hub_port_detach (GstHubPort *self)
{
  GstHubPortPrivate *priv = self->priv;
  GstElement *hub;
  bool was_attached;
  {
    std::lock_guard<std::mutex> guard (priv->link_lock);
    priv->waiting = false;
    was_attached = priv->attached;
    if (!was_attached)
      return;
    hub = GST_ELEMENT (g_weak_ref_get (&priv->hub));

    for (HubPortInput &input : priv->inputs) {
      if (input.hubpad) {
        if (hub)
          gst_element_release_request_pad (hub, input.hubpad);
        gst_pad_unlink (input.feedpad, input.hubpad);
        gst_object_unref (input.hubpad);
        input.hubpad = NULL;
      }
      input.linked = false;
      input.unsupported = false;
    }
    for (HubPortOutput &output : priv->outputs) {
      if (output.hubpad == NULL)
        continue;
      if (output.probe_id) {
        gst_pad_remove_probe (output.hubpad, output.probe_id);
        output.probe_id = 0;
      } else {
        if (hub)
          gst_element_release_request_pad (hub, output.hubpad);
        gst_pad_unlink (output.hubpad, output.tappad);
      }
      gst_object_unref (output.hubpad);
      output.hubpad = NULL;
    }
    if (hub && priv->gone_watch) {
      g_object_weak_unref (
          G_OBJECT (hub), gst_hub_port_hub_gone, priv->gone_watch);
      g_weak_ref_clear (&priv->gone_watch->self);
      delete priv->gone_watch;
    }
    /* Without a live hub the weak-ref callback frees its data itself. */
    priv->gone_watch = NULL;
    g_weak_ref_set (&priv->hub, NULL);
    priv->attached = false;
    priv->port = -1;
  }
  if (hub)
    gst_object_unref (hub);
  GST_INFO_OBJECT (self, "detached from the hub");
  g_object_notify (G_OBJECT (self), "port");
}

/* Registry watch: a hub was added or renamed. */
static void
gst_hub_port_hub_appeared (gpointer data)
{
  GstHubPort *self = GST_HUB_PORT (g_weak_ref_get ((GWeakRef *)data));
  if (self == NULL)
    return;
  bool waiting;
  {
    std::lock_guard<std::mutex> guard (self->priv->link_lock);
    waiting = self->priv->waiting;
  }
  std::string error;
  if (waiting)
    gst_hub_port_attach (self, error);
  gst_object_unref (self);
}

static void
free_weak_ref (gpointer data)
{
  g_weak_ref_clear ((GWeakRef *)data);
  g_free (data);
}

/* A bin takes its bus back from an element it removes (also when the bin is
 * disposed): the participant is leaving, so the port goes at once. */
static void
gst_hub_port_set_bus (GstElement *element, GstBus *bus)
{
  if (bus == NULL)
    gst_hub_port_detach (GST_HUB_PORT (element));
  GST_ELEMENT_CLASS (parent_class)->set_bus (element, bus);
}

static GstClock *
gst_hub_port_provide_clock (GstElement *element)
{
  GstHubPort *self = GST_HUB_PORT (element);
  GstElement *hub = GST_ELEMENT (g_weak_ref_get (&self->priv->hub));
  if (hub == NULL)
    return NULL;
  GstClock *clock = NULL;
  GstElement *our_top = toplevel_of (element);
  GstElement *hub_top = toplevel_of (hub);
  /* In the hub's own pipeline the pipeline chooses; asking it back from
   * here would recurse. */
  if (our_top != hub_top)
    clock = gst_element_get_clock (hub);
  gst_object_unref (our_top);
  gst_object_unref (hub_top);
  gst_object_unref (hub);
  return clock;
}

static GstStateChangeReturn
gst_hub_port_change_state (GstElement *element, GstStateChange transition)
{
  GstHubPort *self = GST_HUB_PORT (element);
  GstHubPortPrivate *priv = self->priv;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      for (HubPortInput &input : priv->inputs) {
        input.started = false;
        input.eos = false;
      }
      priv->eos_posted = false;
      std::string error;
      AttachResult attached = gst_hub_port_attach (self, error);
      if (attached == AttachResult::REFUSED)
        return GST_STATE_CHANGE_FAILURE;
      if (attached == AttachResult::NO_HUB) {
        bool wait;
        {
          std::lock_guard<std::mutex> guard (priv->link_lock);
          wait = priv->wait_for_hub && !priv->hub_name.empty ();
          priv->waiting = wait;
        }
        if (!wait) {
          GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error.c_str ()),
              ("hubport needs a mcucompositor or dispatcher to attach to"));
          return GST_STATE_CHANGE_FAILURE;
        }
        GST_INFO_OBJECT (self, "%s; waiting for it", error.c_str ());
        /* It may have appeared between the lookup and setting `waiting`. */
        if (gst_hub_port_attach (self, error) == AttachResult::REFUSED)
          return GST_STATE_CHANGE_FAILURE;
      }
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Release first: it unblocks a push into the hub that would keep our
       * pads from deactivating. */
      gst_hub_port_detach (self);
      break;
    default:
      break;
  }

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
      gst_hub_port_detach (self); /* we stay in READY: no port */
    return ret;
  }

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      priv->playing = true;
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      priv->playing = false;
      ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_hub_port_detach (self); /* an attach that raced with us */
      break;
    default:
      break;
  }
  return ret;
}

/* ---------------------------------------------------------------------- */
/* GObject */

static void
gst_hub_port_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstHubPort *self = GST_HUB_PORT (object);
  std::lock_guard<std::mutex> guard (self->priv->link_lock);
  switch (prop_id) {
    case PROP_HUB: {
      const gchar *name = g_value_get_string (value);
      self->priv->hub_name = name ? name : "";
      break;
    }
    case PROP_WAIT_FOR_HUB:
      self->priv->wait_for_hub = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_hub_port_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstHubPort *self = GST_HUB_PORT (object);
  std::lock_guard<std::mutex> guard (self->priv->link_lock);
  switch (prop_id) {
    case PROP_HUB:
      g_value_set_string (value,
          self->priv->hub_name.empty () ? NULL : self->priv->hub_name.c_str ());
      break;
    case PROP_PORT:
      g_value_set_int (value, self->priv->port);
      break;
    case PROP_WAIT_FOR_HUB:
      g_value_set_boolean (value, self->priv->wait_for_hub);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* The pads linked to the hub have no parent: (un)linking a pad of an element
 * posts a structure-change message on its bin, and our bin may be holding its
 * lock while it removes us (set_bus) — the message would deadlock there. */
static GstPad *
make_internal_pad (GstHubPort *self, const char *name, GstPadDirection dir,
    gpointer element_private)
{
  GstPad *pad = gst_pad_new (name, dir);
  gst_object_ref_sink (pad);
  GST_PAD_ELEMENT_PRIVATE (pad) = element_private;
  return pad;
}

static void
gst_hub_port_init (GstHubPort *self)
{
  auto *priv = new GstHubPortPrivate ();
  self->priv = priv;
  g_weak_ref_init (&priv->hub, NULL);

  GstStaticPadTemplate *sink_templates[2] = {
      &sink_template, &audio_sink_template};
  const char *hub_sink_templates[2] = {"sink_%u", "audio_sink_%u"};
  const char *feed_names[2] = {"hubport_feed", "hubport_audio_feed"};
  for (int i = 0; i < 2; i++) {
    HubPortInput &input = priv->inputs[i];
    input.hub_template = hub_sink_templates[i];
    input.sinkpad = gst_pad_new_from_static_template (
        sink_templates[i], sink_templates[i]->name_template);
    GST_PAD_ELEMENT_PRIVATE (input.sinkpad) = &input;
    gst_pad_set_chain_function (input.sinkpad, gst_hub_port_sink_chain);
    gst_pad_set_event_function (input.sinkpad, gst_hub_port_sink_event);
    gst_pad_set_query_function (input.sinkpad, gst_hub_port_sink_query);
    gst_element_add_pad (GST_ELEMENT (self), input.sinkpad);

    input.feedpad =
        make_internal_pad (self, feed_names[i], GST_PAD_SRC, &input);
    gst_pad_set_event_function (input.feedpad, gst_hub_port_feed_event);
    gst_pad_set_query_function (input.feedpad, gst_hub_port_feed_query);
    gst_pad_set_active (input.feedpad, TRUE);
  }

  GstStaticPadTemplate *src_templates[2] = {&src_template, &audio_src_template};
  const char *hub_src_templates[2] = {"src_%u", "audio_src_%u"};
  const char *hub_shared[2] = {"src", "audio_src"};
  const char *tap_names[2] = {"hubport_tap", "hubport_audio_tap"};
  for (int i = 0; i < 2; i++) {
    HubPortOutput &output = priv->outputs[i];
    output.hub_template = hub_src_templates[i];
    output.hub_shared = hub_shared[i];
    output.queue = std::make_shared<OutputQueue> ();
    output.queue->raw_max_buffers = output.queue->max_buffers =
        i == 0 ? VIDEO_QUEUE_BUFFERS : AUDIO_QUEUE_BUFFERS;
    output.srcpad = gst_pad_new_from_static_template (
        src_templates[i], src_templates[i]->name_template);
    GST_PAD_ELEMENT_PRIVATE (output.srcpad) = &output;
    gst_pad_set_activatemode_function (
        output.srcpad, gst_hub_port_src_activate_mode);
    gst_pad_set_event_function (output.srcpad, gst_hub_port_src_event);
    gst_pad_set_query_function (output.srcpad, gst_hub_port_src_query);
    gst_pad_set_link_function (output.srcpad, gst_hub_port_src_link);
    gst_element_add_pad (GST_ELEMENT (self), output.srcpad);

    output.tappad =
        make_internal_pad (self, tap_names[i], GST_PAD_SINK, &output);
    gst_pad_set_chain_function (output.tappad, gst_hub_port_tap_chain);
    gst_pad_set_chain_list_function (
        output.tappad, gst_hub_port_tap_chain_list);
    gst_pad_set_event_function (output.tappad, gst_hub_port_tap_event);
    gst_pad_set_query_function (output.tappad, gst_hub_port_tap_query);
    gst_pad_set_active (output.tappad, TRUE);
  }

  auto *weak_self = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak_self, self);
  priv->registry_watch = gst_room_hub_registry_watch (
      gst_hub_port_hub_appeared, weak_self, free_weak_ref);

  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_PROVIDE_CLOCK);
}

static void
gst_hub_port_dispose (GObject *object)
{
  GstHubPort *self = GST_HUB_PORT (object);
  GstHubPortPrivate *priv = self->priv;

  if (priv->registry_watch) {
    gst_room_hub_registry_unwatch (priv->registry_watch);
    priv->registry_watch = 0;
  }
  gst_hub_port_detach (self);
  for (HubPortInput &input : priv->inputs) {
    if (input.feedpad) {
      gst_pad_set_active (input.feedpad, FALSE);
      gst_object_unref (input.feedpad);
      input.feedpad = NULL;
    }
  }
  for (HubPortOutput &output : priv->outputs) {
    if (output.tappad) {
      gst_pad_set_active (output.tappad, FALSE);
      gst_object_unref (output.tappad);
      output.tappad = NULL;
    }
  }
  G_OBJECT_CLASS (parent_class)->dispose (object);
}

static void
gst_hub_port_finalize (GObject *object)
{
  GstHubPort *self = GST_HUB_PORT (object);
  GstHubPortPrivate *priv = self->priv;
  g_weak_ref_clear (&priv->hub);
  gst_object_replace ((GstObject **)&priv->last_clock_self, NULL);
  gst_object_replace ((GstObject **)&priv->last_clock_hub, NULL);
  delete priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_hub_port_class_init (GstHubPortClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_hub_port_set_property;
  gobject_class->get_property = gst_hub_port_get_property;
  gobject_class->dispose = gst_hub_port_dispose;
  gobject_class->finalize = gst_hub_port_finalize;

  g_object_class_install_property (gobject_class, PROP_HUB,
      g_param_spec_string ("hub", "Hub",
          "Name of the hub element (mcucompositor or dispatcher) to attach "
          "to, in any pipeline of this process",
          DEFAULT_HUB,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_int ("port", "Port",
          "Port number the hub assigned to this participant (-1 while not "
          "attached)",
          -1, G_MAXINT, DEFAULT_PORT,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_WAIT_FOR_HUB,
      g_param_spec_boolean ("wait-for-hub", "Wait for hub",
          "If the hub does not exist yet, start anyway and attach when a hub "
          "of that name is created (otherwise it is an error)",
          DEFAULT_WAIT_FOR_HUB,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_READY)));

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_sink_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_src_template, GST_TYPE_PAD);

  gst_element_class_set_static_metadata (element_class, "Hub port", "Generic",
      "Connects a participant to a mcucompositor or dispatcher hub by name, "
      "also from another pipeline of the same process",
      "gst-rooms");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_hub_port_change_state);
  element_class->provide_clock = GST_DEBUG_FUNCPTR (gst_hub_port_provide_clock);
  element_class->set_bus = GST_DEBUG_FUNCPTR (gst_hub_port_set_bus);
}
