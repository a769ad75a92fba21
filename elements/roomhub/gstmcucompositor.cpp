/* gst-rooms: mcucompositor, the MCU composite of a room's ports.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-mcucompositor
 * @title: mcucompositor
 *
 * Mixes the video of its ports into one picture and their audio into one
 * mix.  A port is a pair of request pads with the same number: `sink_%u`
 * (raw video of any size, format and rate) and `audio_sink_%u` (raw audio).
 * The composite leaves on the always pad `src`; the full audio mix on the
 * always pad `audio_src`; and, on request, `audio_src_%u` carries the mix of
 * every port but port %u (mix-minus, so a participant never hears their own
 * voice).  Unlinked outputs, audio or video, are simply not fed.  Audio
 * leaves as S16LE 48 kHz stereo unless downstream asks otherwise, one buffer
 * per output frame; the element adds one frame of latency so a frame's audio
 * has arrived when the frame leaves.
 *
 * The output is live: with #GstAggregator:force-live (default) a frame leaves
 * at every output frame period whether or not inputs deliver, painted with
 * #GstMcuCompositor:background where no tile is.  The output caps are fixed by
 * #GstMcuCompositor:width, #GstMcuCompositor:height and
 * #GstMcuCompositor:framerate (or by downstream caps when those are unset) and
 * never change when ports join or leave; the output colorimetry is pinned
 * (bt709 for YUV, sRGB for RGB).
 *
 * A port is *active* while its last video frame's running time is within
 * #GstMcuCompositor:signal-timeout ms of the output frame; a port that goes
 * silent, reaches EOS or is released leaves the layout at once and the others
 * re-flow; when its frames come back it returns.  Each shown input is scaled
 * once, straight into its rectangle of the output frame, tiles in parallel,
 * and the background is painted only where no tile is.
 *
 * Layouts (#GstMcuCompositor:layout):
 *
 * * `grid` (default): shown ports sorted by (`order`, port number),
 *   `cols = ceil(sqrt(n))`, `rows = ceil(n / cols)`, last row centred.
 * * `speaker`: the port whose pad has `speaker=true` (or, with
 *   #GstMcuCompositor:auto-speaker, the port that has been the loudest for
 *   300 ms) in the top 3/4, the others in a strip below.
 * * `pip`: the first port full frame, the others as insets along the bottom
 *   right corner.
 * * `custom`: each pad's `xpos`, `ypos`, `width`, `height` (0 = input size),
 *   drawn in `zorder` with `alpha`, as in stock `compositor`.
 *
 * The *speaking* port is the shown port that has been the loudest for
 * 300 ms (the auto speaker) while its level was above the floor within the
 * last half second; with #GstMcuCompositor:speaking-border above 0 its tile
 * gets a border that wide, in amber, drawn inside the tile.
 *
 * When every input pad has reached EOS the element sends EOS on all its
 * outputs; with no input pads it never ends.
 *
 * Outputs never hold each other up: each output (`src`, `audio_src`, every
 * `audio_src_%u`) is pushed from a streaming thread of its own, fed through
 * a short leaky queue (4 video frames, 16 audio buffers) by the aggregating
 * thread.  A sink on one output that waits to preroll, a full queue or a slow
 * consumer only makes that output drop its own oldest buffers; the mix and
 * the other outputs go on at the output rate, so every output may be linked
 * straight to a sink, no `queue` needed.  (A thread per output rather than
 * blocking pushes from the aggregating thread, as `tee` does: the element is
 * live, so an output that cannot take a frame in time has no use for it
 * later.)
 *
 * In the first three layouts #GstMcuCompositor:tile-fit chooses between
 * letterboxing (`fit`) and cropping (`fill`), both keeping the input's aspect
 * ratio.
 *
 * ## Pad properties (sink_%u)
 *
 * * `order` (int): sort key of the port in the layout (ties: port number).
 * * `visible` (boolean): FALSE hides the port.
 * * `speaker` (boolean): the large tile of `layout=speaker`.
 * * `xpos`, `ypos`, `width`, `height` (int), `zorder` (uint), `alpha`
 *   (double): the tile of `layout=custom`.
 * * `label` (string): a name drawn in the tile's bottom left corner.
 * * `level` (double, read-only): RMS of the port's audio in the last output
 *   frame, 0 to 1 of full scale.
 * * `speaking` (boolean, read-only): whether the port is the one speaking
 *   (see #GstMcuCompositor:speaking-border).
 *
 * Every pad property may change while PLAYING, and every pad is reachable as a
 * child (`mcucompositor name=m sink_0::xpos=10` in launch syntax).
 *
 * ## Messages
 *
 * `mcucompositor-layout` (element message), posted whenever the set of shown
 * ports or their rectangles change (and for the first frame):
 *
 * * `running-time` (guint64): running time of the first output frame with
 *   the new layout.
 * * `stream-time` (guint64): its stream time.
 * * `layout` (string): `grid`, `speaker`, `pip` or `custom`.
 * * `ports` (GstValueArray of GstStructure `port`): one per shown port, in
 *   drawing order, with `port` (guint), `x`, `y`, `width`, `height` (gint):
 *   the rectangle of the output frame the port's picture covers.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m mcucompositor name=m width=640 height=360 ! \
 *   videoconvert ! jpegenc ! multifilesink location=/tmp/grid-%03d.jpg \
 *   videotestsrc is-live=true pattern=ball num-buffers=60 ! m.sink_0 \
 *   videotestsrc is-live=true pattern=smpte num-buffers=60 ! m.sink_1 \
 *   videotestsrc is-live=true pattern=pinwheel num-buffers=60 ! m.sink_2
 * ]| Three live sources for two seconds in a 2x2 grid, the third centred on
 * the second row.
 * |[
 * gst-launch-1.0 -m mcucompositor name=m width=640 height=360 layout=custom \
 *     sink_0::width=400 sink_0::height=300 \
 *     sink_1::xpos=240 sink_1::ypos=120 sink_1::width=400 \
 *     sink_1::height=240 sink_1::zorder=1 sink_1::alpha=0.6 ! \
 *   videoconvert ! jpegenc ! multifilesink location=/tmp/custom-%03d.jpg \
 *   videotestsrc is-live=true pattern=smpte num-buffers=60 ! m.sink_0 \
 *   videotestsrc is-live=true pattern=ball num-buffers=60 ! m.sink_1
 * ]| Pad properties set from the launch line (custom layout, port 1
 * translucent over port 0).
 */
#include "gstmcucompositor.h"

#include "hubregistry.h"

#include <gst/audio/audio.h>
#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gstmcucompositorprivate.h"
#include "tilescaler.h"

/* The layout geometry (mculayout.h) and the pixel work (mcudraw.h). */
using namespace mcu;

GST_DEBUG_CATEGORY (gst_mcu_compositor_debug);
#define GST_CAT_DEFAULT gst_mcu_compositor_debug

/* Lock order: see gstmcucompositorprivate.h. */

#define DEFAULT_WIDTH 0
#define DEFAULT_HEIGHT 0
#define DEFAULT_FPS_N 0
#define DEFAULT_FPS_D 1
#define DEFAULT_BACKGROUND 0xff000000u
#define DEFAULT_LAYOUT GST_MCU_COMPOSITOR_LAYOUT_GRID
#define DEFAULT_TILE_FIT GST_MCU_COMPOSITOR_TILE_FIT_FIT
#define DEFAULT_AUTO_SPEAKER FALSE
#define DEFAULT_SIGNAL_TIMEOUT 1000
#define DEFAULT_MAX_TILES 0
#define DEFAULT_FORCE_LIVE TRUE
#define DEFAULT_SPEAKING_BORDER 0

#define FALLBACK_WIDTH 1280
#define FALLBACK_HEIGHT 720
#define FALLBACK_FPS_N 30
#define FALLBACK_FPS_D 1

/* auto-speaker: a port becomes the speaker after being the loudest for this
 * long, and only when its level (RMS, full scale 1) is above the minimum. */
/* Labels: light text on a dark box in a tile's bottom left corner. */
#define LABEL_BOX_ARGB 0xff202020u
#define LABEL_TEXT_ARGB 0xfff0f0f0u

/* Live output this far behind the clock skips to the present. */
#define MAX_LATENESS GST_SECOND

#define AUTO_SPEAKER_HOLD (300 * GST_MSECOND)
#define AUTO_SPEAKER_MIN_LEVEL 0.005
/* The speaker's tile is marked while its level was above the minimum this
 * recently: short pauses between words keep the border. */
#define SPEAKING_HOLD (500 * GST_MSECOND)
#define SPEAKING_BORDER_ARGB 0xffffc000u

enum {
  PROP_0,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FRAMERATE,
  PROP_BACKGROUND,
  PROP_LAYOUT,
  PROP_TILE_FIT,
  PROP_AUTO_SPEAKER,
  PROP_SIGNAL_TIMEOUT,
  PROP_MAX_TILES,
  PROP_FORCE_LIVE,
  PROP_SPEAKING_BORDER,
};

#define DEFAULT_PAD_ORDER 0
#define DEFAULT_PAD_VISIBLE TRUE
#define DEFAULT_PAD_SPEAKER FALSE
#define DEFAULT_PAD_XPOS 0
#define DEFAULT_PAD_YPOS 0
#define DEFAULT_PAD_WIDTH 0
#define DEFAULT_PAD_HEIGHT 0
#define DEFAULT_PAD_ZORDER 0
#define DEFAULT_PAD_ALPHA 1.0
#define DEFAULT_PAD_LABEL NULL

enum {
  PROP_PAD_0,
  PROP_PAD_ORDER,
  PROP_PAD_VISIBLE,
  PROP_PAD_SPEAKER,
  PROP_PAD_XPOS,
  PROP_PAD_YPOS,
  PROP_PAD_WIDTH,
  PROP_PAD_HEIGHT,
  PROP_PAD_ZORDER,
  PROP_PAD_ALPHA,
  PROP_PAD_LABEL,
  PROP_PAD_LEVEL,
  PROP_PAD_SPEAKING,
};

/* 8 bits per component only: background fill and alpha blending work on
 * bytes of each plane. */
#define OUTPUT_FORMATS                                                         \
  "{ I420, NV12, NV21, YV12, Y42B, Y444, AYUV, RGBA, BGRA, ARGB, ABGR, "       \
  "RGBx, BGRx, xRGB, xBGR, RGB, BGR }"

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OUTPUT_FORMATS)));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS ("video/x-raw"));

static GstStaticPadTemplate audio_sink_template =
    GST_STATIC_PAD_TEMPLATE ("audio_sink_%u", GST_PAD_SINK, GST_PAD_REQUEST,
        GST_STATIC_CAPS ("audio/x-raw, layout = (string) interleaved"));

#define AUDIO_SRC_CAPS                                                         \
  "audio/x-raw, format = (string) { S16LE, F32LE }, "                          \
  "rate = (int) [ 1, MAX ], channels = (int) [ 1, 8 ], "                       \
  "layout = (string) interleaved"

static GstStaticPadTemplate audio_src_template = GST_STATIC_PAD_TEMPLATE (
    "audio_src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (AUDIO_SRC_CAPS));

static GstStaticPadTemplate audio_src_minus_template =
    GST_STATIC_PAD_TEMPLATE ("audio_src_%u", GST_PAD_SRC, GST_PAD_REQUEST,
        GST_STATIC_CAPS (AUDIO_SRC_CAPS));

/* ------------------------------------------------------------------------ */
/* Pads */

G_DEFINE_TYPE (
    GstMcuCompositorPad, gst_mcu_compositor_pad, GST_TYPE_AGGREGATOR_PAD);
G_DEFINE_TYPE (GstMcuCompositorAudioPad, gst_mcu_compositor_audio_pad,
    GST_TYPE_AGGREGATOR_PAD);

static void
gst_mcu_compositor_pad_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstMcuCompositorPad *pad = GST_MCU_COMPOSITOR_PAD (object);

  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PROP_PAD_ORDER:
      pad->order = g_value_get_int (value);
      break;
    case PROP_PAD_VISIBLE:
      pad->visible = g_value_get_boolean (value);
      break;
    case PROP_PAD_SPEAKER:
      pad->speaker = g_value_get_boolean (value);
      break;
    case PROP_PAD_XPOS:
      pad->xpos = g_value_get_int (value);
      break;
    case PROP_PAD_YPOS:
      pad->ypos = g_value_get_int (value);
      break;
    case PROP_PAD_WIDTH:
      pad->width = g_value_get_int (value);
      break;
    case PROP_PAD_HEIGHT:
      pad->height = g_value_get_int (value);
      break;
    case PROP_PAD_ZORDER:
      pad->zorder = g_value_get_uint (value);
      break;
    case PROP_PAD_ALPHA:
      pad->alpha = g_value_get_double (value);
      break;
    case PROP_PAD_LABEL: {
      /* Composed (NFC): an accented letter typed as letter + combining mark
       * is one glyph of the label font, not two. */
      const gchar *label = g_value_get_string (value);
      g_free (pad->label);
      pad->label =
          label && g_utf8_validate (label, -1, NULL)
              ? g_utf8_normalize (label, -1, G_NORMALIZE_DEFAULT_COMPOSE)
              : g_strdup (label);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (pad);
}

static void
gst_mcu_compositor_pad_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstMcuCompositorPad *pad = GST_MCU_COMPOSITOR_PAD (object);

  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PROP_PAD_ORDER:
      g_value_set_int (value, pad->order);
      break;
    case PROP_PAD_VISIBLE:
      g_value_set_boolean (value, pad->visible);
      break;
    case PROP_PAD_SPEAKER:
      g_value_set_boolean (value, pad->speaker);
      break;
    case PROP_PAD_XPOS:
      g_value_set_int (value, pad->xpos);
      break;
    case PROP_PAD_YPOS:
      g_value_set_int (value, pad->ypos);
      break;
    case PROP_PAD_WIDTH:
      g_value_set_int (value, pad->width);
      break;
    case PROP_PAD_HEIGHT:
      g_value_set_int (value, pad->height);
      break;
    case PROP_PAD_ZORDER:
      g_value_set_uint (value, pad->zorder);
      break;
    case PROP_PAD_ALPHA:
      g_value_set_double (value, pad->alpha);
      break;
    case PROP_PAD_LABEL:
      g_value_set_string (value, pad->label);
      break;
    case PROP_PAD_LEVEL:
    case PROP_PAD_SPEAKING:
      break; /* below, without the pad's lock */
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (pad);

  if (prop_id != PROP_PAD_LEVEL && prop_id != PROP_PAD_SPEAKING)
    return;
  /* The element's state: audio_lock is never taken with an object lock
   * held. */
  GstElement *parent = gst_pad_get_parent_element (GST_PAD (pad));
  McuCompositorPrivate *priv =
      parent ? GST_MCU_COMPOSITOR (parent)->priv : nullptr;
  if (prop_id == PROP_PAD_LEVEL) {
    double level = 0.0;
    if (priv) {
      std::lock_guard<std::mutex> guard (priv->audio_lock);
      auto it = priv->levels.find (pad->port);
      if (it != priv->levels.end ())
        level = it->second;
    }
    g_value_set_double (value, level);
  } else {
    g_value_set_boolean (value, priv && priv->speaking_port == pad->port);
  }
  if (parent)
    gst_object_unref (parent);
}

static void
gst_mcu_compositor_pad_finalize (GObject *object)
{
  GstMcuCompositorPad *pad = GST_MCU_COMPOSITOR_PAD (object);

  delete pad->state;
  pad->state = nullptr;
  g_free (pad->label);
  G_OBJECT_CLASS (gst_mcu_compositor_pad_parent_class)->finalize (object);
}

static void
gst_mcu_compositor_pad_class_init (GstMcuCompositorPadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags =
      (GParamFlags)(G_PARAM_READWRITE | GST_PARAM_CONTROLLABLE
                    | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_mcu_compositor_pad_set_property;
  gobject_class->get_property = gst_mcu_compositor_pad_get_property;
  gobject_class->finalize = gst_mcu_compositor_pad_finalize;

  g_object_class_install_property (gobject_class, PROP_PAD_ORDER,
      g_param_spec_int ("order", "Order",
          "Sort key of the port in the layout; ties are broken by port number",
          G_MININT, G_MAXINT, DEFAULT_PAD_ORDER, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_VISIBLE,
      g_param_spec_boolean ("visible", "Visible",
          "Whether the port is shown at all", DEFAULT_PAD_VISIBLE, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_SPEAKER,
      g_param_spec_boolean ("speaker", "Speaker",
          "Show this port as the large tile of layout=speaker",
          DEFAULT_PAD_SPEAKER, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_XPOS,
      g_param_spec_int ("xpos", "X position",
          "Left edge of the tile in layout=custom", G_MININT, G_MAXINT,
          DEFAULT_PAD_XPOS, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_YPOS,
      g_param_spec_int ("ypos", "Y position",
          "Top edge of the tile in layout=custom", G_MININT, G_MAXINT,
          DEFAULT_PAD_YPOS, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_WIDTH,
      g_param_spec_int ("width", "Width",
          "Width of the tile in layout=custom (0 = input width)", 0, G_MAXINT,
          DEFAULT_PAD_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_HEIGHT,
      g_param_spec_int ("height", "Height",
          "Height of the tile in layout=custom (0 = input height)", 0, G_MAXINT,
          DEFAULT_PAD_HEIGHT, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_ZORDER,
      g_param_spec_uint ("zorder", "Z-order",
          "Drawing order in layout=custom (higher is on top)", 0, G_MAXUINT,
          DEFAULT_PAD_ZORDER, flags));
  g_object_class_install_property (gobject_class, PROP_PAD_ALPHA,
      g_param_spec_double ("alpha", "Alpha",
          "Opacity of the tile in layout=custom", 0.0, 1.0, DEFAULT_PAD_ALPHA,
          flags));
  g_object_class_install_property (gobject_class, PROP_PAD_LABEL,
      g_param_spec_string ("label", "Label",
          "Name drawn in the tile's bottom left corner (NULL or empty = none; "
          "letters, digits and common punctuation)",
          DEFAULT_PAD_LABEL,
          (GParamFlags)(G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING
                        | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_PAD_LEVEL,
      g_param_spec_double ("level", "Level",
          "RMS of the port's audio in the last output frame (0 to 1 of full "
          "scale)",
          0.0, 1.0, 0.0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_PAD_SPEAKING,
      g_param_spec_boolean ("speaking", "Speaking",
          "Whether this port is the one speaking now (the loudest for a "
          "while)",
          FALSE, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
}

static void
gst_mcu_compositor_pad_init (GstMcuCompositorPad *pad)
{
  pad->order = DEFAULT_PAD_ORDER;
  pad->visible = DEFAULT_PAD_VISIBLE;
  pad->speaker = DEFAULT_PAD_SPEAKER;
  pad->xpos = DEFAULT_PAD_XPOS;
  pad->ypos = DEFAULT_PAD_YPOS;
  pad->width = DEFAULT_PAD_WIDTH;
  pad->height = DEFAULT_PAD_HEIGHT;
  pad->zorder = DEFAULT_PAD_ZORDER;
  pad->alpha = DEFAULT_PAD_ALPHA;
  pad->state = new McuPadState ();
}

static void
gst_mcu_compositor_audio_pad_finalize (GObject *object)
{
  GstMcuCompositorAudioPad *pad = GST_MCU_COMPOSITOR_AUDIO_PAD (object);

  gst_clear_caps (&pad->caps);
  G_OBJECT_CLASS (gst_mcu_compositor_audio_pad_parent_class)->finalize (object);
}

static GstFlowReturn gst_mcu_compositor_audio_pad_flush (
    GstAggregatorPad *aggpad, GstAggregator *agg);

static void
gst_mcu_compositor_audio_pad_class_init (GstMcuCompositorAudioPadClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_mcu_compositor_audio_pad_finalize;
  GST_AGGREGATOR_PAD_CLASS (klass)->flush = gst_mcu_compositor_audio_pad_flush;
}

static void
gst_mcu_compositor_audio_pad_init (GstMcuCompositorAudioPad *pad)
{}

/* ------------------------------------------------------------------------ */
/* Element */

static void gst_mcu_compositor_child_proxy_init (gpointer g_iface, gpointer);

G_DEFINE_TYPE_WITH_CODE (GstMcuCompositor, gst_mcu_compositor,
    GST_TYPE_AGGREGATOR,
    G_IMPLEMENT_INTERFACE (
        GST_TYPE_CHILD_PROXY, gst_mcu_compositor_child_proxy_init));
GST_ELEMENT_REGISTER_DEFINE (
    mcucompositor, "mcucompositor", GST_RANK_NONE, GST_TYPE_MCU_COMPOSITOR);

#define GST_TYPE_MCU_COMPOSITOR_LAYOUT (gst_mcu_compositor_layout_get_type ())
static GType
gst_mcu_compositor_layout_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_MCU_COMPOSITOR_LAYOUT_GRID, "Grid of the active ports", "grid"},
      {GST_MCU_COMPOSITOR_LAYOUT_SPEAKER,
          "One large tile and the others in a strip", "speaker"},
      {GST_MCU_COMPOSITOR_LAYOUT_PIP,
          "First port full frame, the others as insets", "pip"},
      {GST_MCU_COMPOSITOR_LAYOUT_CUSTOM,
          "Pad xpos/ypos/width/height/zorder/alpha", "custom"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMcuCompositorLayout", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_MCU_COMPOSITOR_TILE_FIT                                       \
  (gst_mcu_compositor_tile_fit_get_type ())
static GType
gst_mcu_compositor_tile_fit_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_MCU_COMPOSITOR_TILE_FIT_FIT, "Keep the aspect ratio, letterbox",
          "fit"},
      {GST_MCU_COMPOSITOR_TILE_FIT_FILL, "Keep the aspect ratio, crop to fill",
          "fill"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMcuCompositorTileFit", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static const gchar *
layout_name (GstMcuCompositorLayout layout)
{
  GEnumValue *v = g_enum_get_value (
      (GEnumClass *)g_type_class_peek (GST_TYPE_MCU_COMPOSITOR_LAYOUT), layout);
  return v ? v->value_nick : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Pixels */

/* Refreshes the background, label box and label text pixels when the
 * background colour or the output format changed. */
static void
update_colour_pixels (McuCompositorPrivate *priv, guint argb)
{
  const GstVideoFormat format = GST_VIDEO_INFO_FORMAT (&priv->out_info);
  if (priv->bg_format == format && priv->bg_argb == argb)
    return;
  priv->bg_pixel = colour_pixel (&priv->out_info, argb);
  priv->label_box_pixel = colour_pixel (&priv->out_info, LABEL_BOX_ARGB);
  priv->label_text_pixel = colour_pixel (&priv->out_info, LABEL_TEXT_ARGB);
  priv->speaking_pixel = colour_pixel (&priv->out_info, SPEAKING_BORDER_ARGB);
  priv->bg_format = format;
  priv->bg_argb = argb;
}

/* Renders one tile into @out; runs on a worker thread, touching only the
 * tile's own pad state and its own rectangle of @out. */
static void
render_tile (const Tile &t, GstVideoFrame *out)
{
  McuPadState *st = t.view->pad->state;
  GstVideoFrame in;
  if (!gst_video_frame_map (&in, &st->current_info, st->current, GST_MAP_READ))
    return;

  if (GST_VIDEO_FRAME_FORMAT (&in) == GST_VIDEO_FRAME_FORMAT (out)
      && gst_room_tile_scale_supported (GST_VIDEO_FRAME_FORMAT (out))
      && gst_room_tile_scale (&in, t.sx, t.sy, t.sw, t.sh, out, t.dst.x,
          t.dst.y, t.dst.w, t.dst.h, t.alpha)) {
    gst_video_frame_unmap (&in);
    return;
  }

  /* GstVideoConverter writes whole lines for some formats even with a
   * destination rectangle, so scale into a tile-sized scratch frame and copy
   * or blend that into place. */
  GstVideoInfo tile_info;
  gst_video_info_set_format (
      &tile_info, GST_VIDEO_FRAME_FORMAT (out), t.dst.w, t.dst.h);
  tile_info.colorimetry = out->info.colorimetry;
  tile_info.chroma_site = out->info.chroma_site;
  /* The converter insists on equal rates; they mean nothing here. */
  GST_VIDEO_INFO_FPS_N (&tile_info) = GST_VIDEO_INFO_FPS_N (&in.info);
  GST_VIDEO_INFO_FPS_D (&tile_info) = GST_VIDEO_INFO_FPS_D (&in.info);
  if (!st->blend_buffer
      || !gst_video_info_is_equal (&st->blend_info, &tile_info)) {
    gst_clear_buffer (&st->blend_buffer);
    st->blend_buffer = gst_buffer_new_allocate (NULL, tile_info.size, NULL);
    st->blend_info = tile_info;
  }
  GstVideoConverter *conv = tile_converter (st->converter, &in.info, &tile_info,
      t.sx, t.sy, t.sw, t.sh, 0, 0, t.dst.w, t.dst.h);
  GstVideoFrame tile;
  if (conv
      && gst_video_frame_map (
          &tile, &tile_info, st->blend_buffer, GST_MAP_READWRITE)) {
    gst_video_converter_frame (conv, &in, &tile);
    blend_frame (&tile, out, t.dst.x, t.dst.y, t.alpha);
    gst_video_frame_unmap (&tile);
  }
  gst_video_frame_unmap (&in);
}

/* ------------------------------------------------------------------------ */

static GstElementClass *element_parent_class = NULL;

static gboolean
is_video_pad (GstPad *pad)
{
  return GST_IS_MCU_COMPOSITOR_PAD (pad);
}

static gboolean
port_in_use (GstElement *element, guint port)
{
  for (GList *l = element->sinkpads; l; l = l->next) {
    if (GST_IS_MCU_COMPOSITOR_PAD (l->data)
        && GST_MCU_COMPOSITOR_PAD (l->data)->port == port)
      return TRUE;
    if (GST_IS_MCU_COMPOSITOR_AUDIO_PAD (l->data)
        && GST_MCU_COMPOSITOR_AUDIO_PAD (l->data)->port == port)
      return TRUE;
  }
  return FALSE;
}

/* Parses "PREFIX<number>" exactly. */
static gboolean
parse_port (const gchar *name, const gchar *prefix, guint *port)
{
  if (!name || !g_str_has_prefix (name, prefix))
    return FALSE;
  const gchar *digits = name + strlen (prefix);
  if (!*digits || strchr (digits, '%'))
    return FALSE;
  gchar *end = NULL;
  guint64 v = g_ascii_strtoull (digits, &end, 10);
  if (*end || v > G_MAXUINT)
    return FALSE;
  *port = (guint)v;
  return TRUE;
}

static GstAggregatorPad *
gst_mcu_compositor_create_new_pad (GstAggregator *agg, GstPadTemplate *templ,
    const gchar *req_name, const GstCaps *caps)
{
  GstElement *element = GST_ELEMENT (agg);
  const gboolean audio =
      g_str_equal (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "audio_sink_%u");
  if (!audio
      && !g_str_equal (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "sink_%u"))
    return NULL;
  const gchar *prefix = audio ? "audio_sink_" : "sink_";

  guint port = 0;
  GST_OBJECT_LOCK (agg);
  if (parse_port (req_name, prefix, &port)) {
    for (GList *l = element->sinkpads; l; l = l->next) {
      const gboolean taken =
          audio ? (GST_IS_MCU_COMPOSITOR_AUDIO_PAD (l->data)
                   && GST_MCU_COMPOSITOR_AUDIO_PAD (l->data)->port == port)
                : (GST_IS_MCU_COMPOSITOR_PAD (l->data)
                    && GST_MCU_COMPOSITOR_PAD (l->data)->port == port);
      if (taken) {
        GST_OBJECT_UNLOCK (agg);
        GST_WARNING_OBJECT (agg, "pad %s already exists", req_name);
        return NULL;
      }
    }
  } else {
    /* The lowest port number with neither a video nor an audio pad. */
    while (port_in_use (element, port))
      port++;
  }
  GST_OBJECT_UNLOCK (agg);

  gchar *name = g_strdup_printf ("%s%u", prefix, port);
  GstAggregatorPad *pad = GST_AGGREGATOR_PAD (g_object_new (
      audio ? GST_TYPE_MCU_COMPOSITOR_AUDIO_PAD : GST_TYPE_MCU_COMPOSITOR_PAD,
      "name", name, "direction", GST_PAD_SINK, "template", templ, NULL));
  g_free (name);
  if (audio)
    GST_MCU_COMPOSITOR_AUDIO_PAD (pad)->port = port;
  else
    GST_MCU_COMPOSITOR_PAD (pad)->port = port;
  GST_DEBUG_OBJECT (agg, "new pad %" GST_PTR_FORMAT " for port %u", pad, port);
  return pad;
}

static GstPad *
gst_mcu_compositor_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *req_name, const GstCaps *caps)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (element);

  if (!g_str_equal (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "audio_src_%u")) {
    GstPad *pad =
        element_parent_class->request_new_pad (element, templ, req_name, caps);
    if (pad)
      gst_child_proxy_child_added (
          GST_CHILD_PROXY (element), G_OBJECT (pad), GST_OBJECT_NAME (pad));
    return pad;
  }

  /* A mix-minus output. */
  guint port = 0;
  McuCompositorPrivate *priv = self->priv;
  std::shared_ptr<AudioOut> out;
  {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    if (parse_port (req_name, "audio_src_", &port)) {
      for (auto &o : priv->audio_outs) {
        if (o->minus && o->port == port) {
          GST_WARNING_OBJECT (self, "pad %s already exists", req_name);
          return NULL;
        }
      }
    } else {
      for (bool used = true; used; port += used ? 1 : 0) {
        used = false;
        for (auto &o : priv->audio_outs)
          used = used || (o->minus && o->port == port);
      }
    }
    gchar *name = g_strdup_printf ("audio_src_%u", port);
    GstPad *pad = gst_pad_new_from_template (templ, name);
    g_free (name);
    gst_pad_set_query_function (pad, gst_mcu_compositor_audio_src_query);
    gst_pad_set_event_function (pad, gst_mcu_compositor_audio_src_event);
    gst_pad_use_fixed_caps (pad);
    /* Active before the mix can reach it: sticky events pushed on a pad
     * that is still flushing would be lost, and its data would then flow
     * without stream-start, caps or segment. */
    if (GST_STATE (element) >= GST_STATE_PAUSED
        || GST_STATE_TARGET (element) >= GST_STATE_PAUSED)
      gst_pad_set_active (pad, TRUE);
    out = std::make_shared<AudioOut> (pad);
    out->minus = TRUE;
    out->port = port;
    priv->audio_outs.push_back (out);
    if (priv->outputs_running)
      out->pusher->start ();
  }
  if (!gst_element_add_pad (element, out->pad)) {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    priv->audio_outs.erase (
        std::find (priv->audio_outs.begin (), priv->audio_outs.end (), out));
    return NULL;
  }
  return out->pad;
}

static void
gst_mcu_compositor_release_pad (GstElement *element, GstPad *pad)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (element);
  McuCompositorPrivate *priv = self->priv;

  if (GST_PAD_IS_SRC (pad)) {
    std::shared_ptr<AudioOut> gone;
    {
      std::lock_guard<std::mutex> guard (priv->audio_lock);
      auto &outs = priv->audio_outs;
      auto it = std::find_if (outs.begin (), outs.end (),
          [pad] (const std::shared_ptr<AudioOut> &o) { return o->pad == pad; });
      if (it != outs.end ()) {
        gone = *it;
        outs.erase (it);
      }
    }
    /* The pad stops taking data first, so a push under way returns at
     * once; its thread ends before the pad goes (outside audio_lock: it may
     * be pushing downstream), but a consumer that stopped taking data does
     * not hang the release. */
    gst_pad_set_active (pad, FALSE);
    if (gone)
      gone->pusher->stop_without_waiting ();
    gst_element_remove_pad (element, pad);
    return;
  }

  GST_DEBUG_OBJECT (self, "releasing %" GST_PTR_FORMAT, pad);
  gchar *name = gst_pad_get_name (pad);
  gst_object_ref (pad);
  element_parent_class->release_pad (element, pad);
  gst_child_proxy_child_removed (
      GST_CHILD_PROXY (element), G_OBJECT (pad), name);
  gst_object_unref (pad);
  g_free (name);
}

/* ------------------------------------------------------------------------ */
/* Negotiation */

/* Pins the colorimetry of a structure whose format is fixed, so each input
 * is converted once, the same way, whatever joins. */
static void
pin_colorimetry (GstStructure *s)
{
  const gchar *format = gst_structure_get_string (s, "format");
  if (!format)
    return;
  const GstVideoFormatInfo *finfo =
      gst_video_format_get_info (gst_video_format_from_string (format));
  const gboolean yuv = finfo && GST_VIDEO_FORMAT_INFO_IS_YUV (finfo);
  const gchar *wanted = yuv ? "bt709" : "sRGB";
  if (!gst_structure_has_field (s, "colorimetry"))
    gst_structure_set (s, "colorimetry", G_TYPE_STRING, wanted, NULL);
  else if (!gst_structure_has_field_typed (s, "colorimetry", G_TYPE_STRING))
    gst_structure_fixate_field_string (s, "colorimetry", wanted);
  if (yuv && !gst_structure_has_field (s, "chroma-site"))
    gst_structure_set (s, "chroma-site", G_TYPE_STRING, "mpeg2", NULL);
  if (!gst_structure_has_field (s, "interlace-mode"))
    gst_structure_set (s, "interlace-mode", G_TYPE_STRING, "progressive", NULL);
  if (!gst_structure_has_field (s, "pixel-aspect-ratio"))
    gst_structure_set (s, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
}

static GstFlowReturn
gst_mcu_compositor_update_src_caps (
    GstAggregator *agg, GstCaps *caps, GstCaps **ret)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);

  GST_OBJECT_LOCK (self);
  const gint width = self->width, height = self->height;
  const gint fps_n = self->fps_n, fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);

  GstCaps *wanted = gst_caps_new_empty_simple ("video/x-raw");
  if (width > 0)
    gst_caps_set_simple (wanted, "width", G_TYPE_INT, width, NULL);
  if (height > 0)
    gst_caps_set_simple (wanted, "height", G_TYPE_INT, height, NULL);
  if (fps_n > 0)
    gst_caps_set_simple (
        wanted, "framerate", GST_TYPE_FRACTION, fps_n, fps_d, NULL);
  *ret = gst_caps_intersect (caps, wanted);
  gst_caps_unref (wanted);

  if (gst_caps_is_empty (*ret)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("downstream does not accept %dx%d at %d/%d fps: %" GST_PTR_FORMAT,
            width, height, fps_n, fps_d, caps));
    gst_caps_replace (ret, NULL);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  /* Fixed caps skip fixate_src_caps: pin what is already fixed here. */
  *ret = gst_caps_make_writable (*ret);
  for (guint i = 0; i < gst_caps_get_size (*ret); i++)
    pin_colorimetry (gst_caps_get_structure (*ret, i));
  return GST_FLOW_OK;
}

static GstCaps *
gst_mcu_compositor_fixate_src_caps (GstAggregator *agg, GstCaps *caps)
{
  caps = gst_caps_make_writable (caps);
  caps = gst_caps_truncate (caps);
  GstStructure *s = gst_caps_get_structure (caps, 0);

  gst_structure_fixate_field_nearest_int (s, "width", FALLBACK_WIDTH);
  gst_structure_fixate_field_nearest_int (s, "height", FALLBACK_HEIGHT);
  gst_structure_fixate_field_nearest_fraction (
      s, "framerate", FALLBACK_FPS_N, FALLBACK_FPS_D);
  gst_structure_fixate_field_string (s, "format", "I420");
  if (gst_structure_has_field (s, "pixel-aspect-ratio"))
    gst_structure_fixate_field_nearest_fraction (s, "pixel-aspect-ratio", 1, 1);
  else
    gst_structure_set (s, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);

  pin_colorimetry (s);

  return gst_caps_fixate (caps);
}

static gboolean
gst_mcu_compositor_negotiated_src_caps (GstAggregator *agg, GstCaps *caps)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);
  McuCompositorPrivate *priv = self->priv;
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, caps)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("unusable output caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  if (GST_VIDEO_INFO_FPS_N (&info) <= 0) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("output caps need a framerate: %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "output caps %" GST_PTR_FORMAT, caps);
  if (priv->have_out_info
      && !gst_video_info_is_equal (&priv->out_info, &info)) {
    /* New rate: restart the frame count at the current position. */
    priv->ts_offset = GST_CLOCK_TIME_NONE;
    priv->nframes = 0;
  }
  priv->out_info = info;
  priv->have_out_info = true;
  priv->bg_format = GST_VIDEO_FORMAT_UNKNOWN;
  priv->layout_posted = false;

  /* One frame of latency: the audio of a frame's period has to have
   * arrived by the time the frame leaves, up to the period's end. */
  const GstClockTime frame =
      gst_util_uint64_scale_int (GST_SECOND, info.fps_d, info.fps_n);
  gst_aggregator_set_latency (agg, frame, frame);
  return TRUE;
}

static gboolean
gst_mcu_compositor_decide_allocation (GstAggregator *agg, GstQuery *query)
{
  GstCaps *caps = NULL;
  GstBufferPool *pool = NULL;
  guint size = 0, min = 0, max = 0;
  GstVideoInfo info;

  gst_query_parse_allocation (query, &caps, NULL);
  if (!caps || !gst_video_info_from_caps (&info, caps))
    return FALSE;

  if (gst_query_get_n_allocation_pools (query) > 0) {
    gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
    size = MAX (size, (guint)info.size);
  } else {
    size = info.size;
  }
  if (!pool)
    pool = gst_video_buffer_pool_new ();

  GstStructure *config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  if (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL))
    gst_buffer_pool_config_add_option (
        config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config)) {
    config = gst_buffer_pool_get_config (pool);
    if (!gst_buffer_pool_config_validate_params (config, caps, size, min, max)
        && !gst_buffer_pool_set_config (pool, config)) {
      gst_object_unref (pool);
      return FALSE;
    }
    gst_structure_free (config);
  }

  if (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_set_nth_allocation_pool (query, 0, pool, size, min, max);
  else
    gst_query_add_allocation_pool (query, pool, size, min, max);
  gst_object_unref (pool);
  return TRUE;
}

static gboolean
gst_mcu_compositor_propose_allocation (GstAggregator *agg,
    GstAggregatorPad *pad, GstQuery *decide_query, GstQuery *query)
{
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  return TRUE;
}

static gboolean
gst_mcu_compositor_sink_event (
    GstAggregator *agg, GstAggregatorPad *bpad, GstEvent *event)
{

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    gboolean ok = FALSE;
    if (GST_IS_MCU_COMPOSITOR_PAD (bpad)) {
      GstMcuCompositorPad *pad = GST_MCU_COMPOSITOR_PAD (bpad);
      GstVideoInfo info;
      ok = gst_video_info_from_caps (&info, caps);
      if (ok) {
        GST_OBJECT_LOCK (pad);
        pad->state->info = info;
        pad->state->have_info = TRUE;
        GST_OBJECT_UNLOCK (pad);
      }
    } else {
      GstMcuCompositorAudioPad *pad = GST_MCU_COMPOSITOR_AUDIO_PAD (bpad);
      GstAudioInfo info;
      ok = gst_audio_info_from_caps (&info, caps);
      if (ok) {
        GST_OBJECT_LOCK (pad);
        gst_caps_replace (&pad->caps, caps);
        pad->caps_serial++;
        GST_OBJECT_UNLOCK (pad);
      }
    }
    if (!ok)
      GST_ELEMENT_WARNING (agg, STREAM, FORMAT, (NULL),
          ("%s: refusing unusable caps %" GST_PTR_FORMAT,
              GST_OBJECT_NAME (bpad), caps));
    gst_event_unref (event);
    return ok;
  }

  return GST_AGGREGATOR_CLASS (gst_mcu_compositor_parent_class)
      ->sink_event (agg, bpad, event);
}

/* A flushed audio input starts over: its queued audio goes, and its next
 * buffer is placed by its own running time. */
static GstFlowReturn
gst_mcu_compositor_audio_pad_flush (
    GstAggregatorPad *aggpad, GstAggregator *agg)
{
  McuCompositorPrivate *priv = GST_MCU_COMPOSITOR (agg)->priv;
  std::lock_guard<std::mutex> guard (priv->audio_lock);
  if (priv->mix)
    priv->mix->flush_port (GST_MCU_COMPOSITOR_AUDIO_PAD (aggpad)->port);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------------------ */
/* Aggregation */

/* What one video pad contributes to a frame, read once per frame. */
struct PadSnapshot {
  GstMcuCompositorPad *pad; /* owned reference */
  PortView view;
  gint order;
  gboolean visible;
  gboolean active;
};

static GstClockTime
buffer_running_time (GstAggregatorPad *pad, GstBuffer *buf)
{
  GstClockTime ts = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf)
                                                  : GST_BUFFER_DTS (buf);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  GstClockTime rt =
      gst_segment_to_running_time (&pad->segment, GST_FORMAT_TIME, ts);
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

/* Takes every queued video buffer that starts before @rt_end, keeping the
 * newest.  Returns TRUE if the pad still waits for data it may get. */
static gboolean
take_video (GstMcuCompositorPad *pad, GstClockTime rt_start,
    GstClockTime rt_end, gboolean *eos)
{
  GstAggregatorPad *apad = GST_AGGREGATOR_PAD (pad);
  McuPadState *st = pad->state;

  for (;;) {
    GstBuffer *buf = gst_aggregator_pad_peek_buffer (apad);
    if (!buf)
      break;
    GstClockTime rt = buffer_running_time (apad, buf);
    if (!GST_CLOCK_TIME_IS_VALID (rt))
      rt = rt_start; /* untimed: show it now */
    if (rt >= rt_end) {
      gst_buffer_unref (buf);
      *eos = FALSE;
      return FALSE; /* belongs to a later frame */
    }
    gst_aggregator_pad_drop_buffer (apad);
    GST_OBJECT_LOCK (pad);
    const gboolean have_info = st->have_info;
    GstVideoInfo info = st->info;
    GST_OBJECT_UNLOCK (pad);
    if (have_info) {
      gst_buffer_replace (&st->current, buf);
      st->current_info = info;
      st->current_rt = rt;
    }
    gst_buffer_unref (buf);
  }

  *eos = gst_aggregator_pad_is_eos (apad);
  /* At EOS the port leaves the layout, once its last frame has been shown. */
  if (*eos && st->current
      && !(GST_CLOCK_TIME_IS_VALID (st->current_rt)
           && st->current_rt >= rt_start))
    gst_clear_buffer (&st->current);
  return !*eos;
}

static gboolean
take_audio (GstMcuCompositor *self, GstMcuCompositorAudioPad *pad,
    GstClockTime rt_end, gboolean *eos)
{
  GstAggregatorPad *apad = GST_AGGREGATOR_PAD (pad);
  McuCompositorPrivate *priv = self->priv;

  for (;;) {
    GstBuffer *buf = gst_aggregator_pad_peek_buffer (apad);
    if (!buf)
      break;
    GstClockTime rt = buffer_running_time (apad, buf);
    if (GST_CLOCK_TIME_IS_VALID (rt) && rt >= rt_end) {
      gst_buffer_unref (buf);
      *eos = FALSE;
      return FALSE;
    }
    gst_aggregator_pad_drop_buffer (apad);

    GST_OBJECT_LOCK (pad);
    GstCaps *caps = pad->caps ? gst_caps_ref (pad->caps) : NULL;
    const guint serial = pad->caps_serial;
    GST_OBJECT_UNLOCK (pad);
    bool refused = false;
    {
      std::lock_guard<std::mutex> guard (priv->audio_lock);
      if (priv->mix && !priv->mix_ports.count (pad->port)) {
        priv->mix->add_port (pad->port);
        priv->mix_ports.insert (pad->port);
        pad->applied_serial = 0;
      }
      if (priv->mix && caps && serial != pad->applied_serial) {
        pad->caps_ok = priv->mix->set_port_caps (pad->port, caps);
        pad->applied_serial = serial;
        refused = !pad->caps_ok;
      }
      if (priv->mix && pad->caps_ok && GST_CLOCK_TIME_IS_VALID (rt))
        priv->mix->push (pad->port, buf, rt);
    }
    if (refused)
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, (NULL),
          ("audio format of %s not supported: %" GST_PTR_FORMAT,
              GST_OBJECT_NAME (pad), caps));
    gst_clear_caps (&caps);
    gst_buffer_unref (buf);
  }

  *eos = gst_aggregator_pad_is_eos (apad);
  return !*eos;
}

/* Renders and pushes the audio of the frame's period. */
static void
post_layout_message (GstMcuCompositor *self, GstClockTime running_time,
    GstClockTime stream_time, GstMcuCompositorLayout layout,
    const std::vector<LayoutEntry> &entries)
{
  GValue ports = G_VALUE_INIT;
  gst_value_array_init (&ports, entries.size ());
  for (const LayoutEntry &e : entries) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    GstStructure *p = gst_structure_new ("port", "port", G_TYPE_UINT, e.port,
        "x", G_TYPE_INT, e.x, "y", G_TYPE_INT, e.y, "width", G_TYPE_INT,
        e.width, "height", G_TYPE_INT, e.height, NULL);
    g_value_take_boxed (&v, p);
    gst_value_array_append_and_take_value (&ports, &v);
  }
  GstStructure *s = gst_structure_new ("mcucompositor-layout", "running-time",
      G_TYPE_UINT64, running_time, "stream-time", G_TYPE_UINT64, stream_time,
      "layout", G_TYPE_STRING, layout_name (layout), NULL);
  gst_structure_take_value (s, "ports", &ports);
  gst_element_post_message (
      GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* The index in @views of the auto speaker, or -1.  The loudest shown port
 * takes the large tile once it has been the loudest for AUTO_SPEAKER_HOLD
 * (at once when the current speaker is not shown), so pauses between words
 * do not make the layout flicker. */
static gint
pick_auto_speaker (McuCompositorPrivate *priv,
    const std::vector<PortView *> &views, GstClockTime now)
{
  gint loudest = -1, current = -1;
  double loudest_level = AUTO_SPEAKER_MIN_LEVEL;
  {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    for (gsize i = 0; i < views.size (); i++) {
      auto it = priv->levels.find (views[i]->port);
      if (it != priv->levels.end () && it->second > AUTO_SPEAKER_MIN_LEVEL)
        priv->last_voice[views[i]->port] = now;
      if (it != priv->levels.end () && it->second > loudest_level) {
        loudest_level = it->second;
        loudest = (gint)i;
      }
      if (views[i]->port == priv->auto_speaker)
        current = (gint)i;
    }
  }
  if (loudest >= 0 && loudest != current) {
    const guint port = views[loudest]->port;
    if (priv->speaker_candidate != port) {
      priv->speaker_candidate = port;
      priv->speaker_candidate_since = now;
    }
    if (current < 0 || !GST_CLOCK_TIME_IS_VALID (now)
        || now - priv->speaker_candidate_since >= AUTO_SPEAKER_HOLD) {
      priv->auto_speaker = port;
      current = loudest;
    }
  } else {
    priv->speaker_candidate = G_MAXUINT;
  }
  return current;
}

/* Live output that fell more than MAX_LATENESS behind the clock (a stalled
 * downstream, a late start) jumps to the present instead of rushing out
 * every missed frame. */
static void
skip_late_frames (
    GstMcuCompositor *self, const GstSegment *segment, gint fps_n, gint fps_d)
{
  McuCompositorPrivate *priv = self->priv;
  /* Until the element is PLAYING its base time may not be set yet (the
   * source pad task can run during PAUSED→PLAYING): "now" would be the
   * clock's absolute time and every frame since the epoch would look late. */
  GST_OBJECT_LOCK (self);
  const bool playing = GST_STATE (self) == GST_STATE_PLAYING
                       && GST_STATE_PENDING (self) == GST_STATE_VOID_PENDING;
  GST_OBJECT_UNLOCK (self);
  if (!playing)
    return;
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock)
    return;
  const GstClockTime now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  const GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
  const GstClockTime latency =
      gst_aggregator_get_latency (GST_AGGREGATOR (self));
  if (now < base || !GST_CLOCK_TIME_IS_VALID (latency))
    return;
  const GstClockTime now_rt = now - base;
  const GstClockTime start =
      priv->ts_offset
      + gst_util_uint64_scale (priv->nframes, GST_SECOND * fps_d, fps_n);
  const GstClockTime rt =
      gst_segment_to_running_time (segment, GST_FORMAT_TIME, start);
  if (!GST_CLOCK_TIME_IS_VALID (rt) || rt + latency + MAX_LATENESS >= now_rt)
    return;
  /* The frame whose deadline is now, in the segment's time. */
  const gint64 target =
      (gint64)(now_rt - latency) + ((gint64)start - (gint64)rt);
  if (target <= (gint64)priv->ts_offset)
    return;
  const guint64 frames = gst_util_uint64_scale (
      target - priv->ts_offset, fps_n, GST_SECOND * (guint64)fps_d);
  GST_WARNING_OBJECT (self,
      "output %" GST_TIME_FORMAT " behind, skipping %" G_GUINT64_FORMAT
      " frames",
      GST_TIME_ARGS (now_rt - rt - latency), frames - priv->nframes);
  if (frames > priv->nframes) {
    priv->nframes = frames;
    priv->discont = true;
  }
}

/* The element's properties for one output frame, copied under the object
 * lock. */
struct FrameSettings {
  guint background;
  GstMcuCompositorLayout layout;
  GstMcuCompositorTileFit tile_fit;
  gboolean auto_speaker;
  GstClockTime signal_timeout;
  guint max_tiles;
  guint speaking_border;
};

/* The output frame being made: its place on the output's timeline. */
struct FrameWindow {
  GstSegment segment; /* a copy of src's */
  GstClockTime ts_offset;
  guint64 nframes;
  GstClockTime start, end;       /* timestamps */
  GstClockTime rt_start, rt_end; /* running times */
};

/* What the inputs hold for this frame. */
struct FrameInputs {
  std::vector<PadSnapshot> snaps; /* video ports with a frame */
  std::set<guint> audio_ports;    /* audio ports not at EOS */
  gboolean need_data = FALSE;     /* a live input has not caught up */
  gboolean all_eos = FALSE;

  ~FrameInputs ()
  {
    for (PadSnapshot &s : snaps)
      gst_object_unref (s.pad);
  }
};

static FrameSettings
read_settings (GstMcuCompositor *self, std::vector<GstPad *> &pads)
{
  FrameSettings f;
  GST_OBJECT_LOCK (self);
  f.background = self->background;
  f.layout = self->layout;
  f.tile_fit = self->tile_fit;
  f.auto_speaker = self->auto_speaker;
  f.signal_timeout = self->signal_timeout * GST_MSECOND;
  f.max_tiles = self->max_tiles;
  f.speaking_border = self->speaking_border;
  for (GList *l = GST_ELEMENT (self)->sinkpads; l; l = l->next)
    pads.push_back (GST_PAD (gst_object_ref (l->data)));
  GST_OBJECT_UNLOCK (self);
  return f;
}

/* Where the next frame sits: frame number nframes after ts_offset, the
 * output's position when the run (or a flush) started. */
static FrameWindow
frame_window (GstMcuCompositor *self, gboolean timeout, gint fps_n, gint fps_d)
{
  McuCompositorPrivate *priv = self->priv;
  GstAggregatorPad *srcpad = GST_AGGREGATOR_PAD (GST_AGGREGATOR (self)->srcpad);
  FrameWindow w;
  GST_OBJECT_LOCK (srcpad);
  w.segment = srcpad->segment;
  if (!GST_CLOCK_TIME_IS_VALID (priv->ts_offset)) {
    priv->ts_offset = (GST_CLOCK_TIME_IS_VALID (w.segment.position)
                          && w.segment.position >= w.segment.start)
                          ? w.segment.position
                          : w.segment.start;
    priv->nframes = 0;
  }
  GST_OBJECT_UNLOCK (srcpad);
  if (timeout)
    skip_late_frames (self, &w.segment, fps_n, fps_d);
  w.ts_offset = priv->ts_offset;
  w.nframes = priv->nframes;
  w.start = w.ts_offset
            + gst_util_uint64_scale (w.nframes, GST_SECOND * fps_d, fps_n);
  w.end = w.ts_offset
          + gst_util_uint64_scale (w.nframes + 1, GST_SECOND * fps_d, fps_n);
  w.rt_start =
      gst_segment_to_running_time (&w.segment, GST_FORMAT_TIME, w.start);
  w.rt_end = gst_segment_to_running_time (&w.segment, GST_FORMAT_TIME, w.end);
  if (!GST_CLOCK_TIME_IS_VALID (w.rt_end))
    w.rt_end = w.rt_start;
  return w;
}

/* A video port's frame and pad properties for this output frame; the
 * properties' control bindings are brought to the frame's stream time
 * first, as stock aggregators do. */
static PadSnapshot
snapshot_video_pad (GstMcuCompositorPad *vpad, const FrameWindow &w,
    GstClockTime signal_timeout)
{
  McuPadState *st = vpad->state;
  gst_object_sync_values (GST_OBJECT (vpad),
      gst_segment_to_stream_time (&w.segment, GST_FORMAT_TIME, w.start));
  PadSnapshot s;
  s.pad = GST_MCU_COMPOSITOR_PAD (gst_object_ref (vpad));
  GST_OBJECT_LOCK (vpad);
  s.order = vpad->order;
  s.visible = vpad->visible;
  s.view.speaker = vpad->speaker;
  s.view.xpos = vpad->xpos;
  s.view.ypos = vpad->ypos;
  s.view.width = vpad->width;
  s.view.height = vpad->height;
  s.view.zorder = vpad->zorder;
  s.view.alpha = vpad->alpha;
  s.view.label = vpad->label ? vpad->label : "";
  GST_OBJECT_UNLOCK (vpad);
  s.view.port = vpad->port;
  s.view.pad = vpad;
  s.view.in_w = GST_VIDEO_INFO_WIDTH (&st->current_info);
  s.view.in_h = GST_VIDEO_INFO_HEIGHT (&st->current_info);
  s.view.par_n = MAX (1, GST_VIDEO_INFO_PAR_N (&st->current_info));
  s.view.par_d = MAX (1, GST_VIDEO_INFO_PAR_D (&st->current_info));
  s.active = st->current_rt >= w.rt_start
             || w.rt_start - st->current_rt <= signal_timeout;
  return s;
}

/* Takes what every input has for this frame: each video port's newest
 * frame, each audio port's samples into the mix. */
static void
collect_inputs (GstMcuCompositor *self, const std::vector<GstPad *> &pads,
    const FrameWindow &w, GstClockTime signal_timeout, FrameInputs &in)
{
  in.all_eos = !pads.empty ();
  for (GstPad *pad : pads) {
    gboolean eos = FALSE;
    if (is_video_pad (pad)) {
      GstMcuCompositorPad *vpad = GST_MCU_COMPOSITOR_PAD (pad);
      gboolean waits = take_video (vpad, w.rt_start, w.rt_end, &eos);
      in.all_eos = in.all_eos && eos && !vpad->state->current;
      if (waits && !gst_aggregator_pad_has_buffer (GST_AGGREGATOR_PAD (pad)))
        in.need_data = TRUE;
      if (vpad->state->current)
        in.snaps.push_back (snapshot_video_pad (vpad, w, signal_timeout));
    } else {
      GstMcuCompositorAudioPad *apad = GST_MCU_COMPOSITOR_AUDIO_PAD (pad);
      gboolean waits = take_audio (self, apad, w.rt_end, &eos);
      if (waits && !gst_aggregator_pad_has_buffer (GST_AGGREGATOR_PAD (pad)))
        in.need_data = TRUE;
      if (!eos)
        in.audio_ports.insert (apad->port);
      in.all_eos = in.all_eos && eos;
    }
  }
}

/* Every input ended: EOS on each audio output, after what is queued for
 * it; the base class sends EOS on src once the composite's queue drained. */
static GstFlowReturn
finish_at_eos (GstMcuCompositor *self, const GstSegment *segment)
{
  McuCompositorPrivate *priv = self->priv;
  GST_INFO_OBJECT (self, "all inputs are at EOS");
  for (auto &o : mcu_audio_outputs (priv)) {
    mcu_audio_push_sticky (self, *o, segment);
    o->pusher->push_event (gst_event_new_eos ());
  }
  priv->video_out->wait_drained ();
  return GST_FLOW_EOS;
}

/* The shown ports (active and visible, by order then port, at most
 * max-tiles) placed by the layout. */
static std::vector<Tile>
place_tiles (McuCompositorPrivate *priv, const FrameSettings &f,
    std::vector<PadSnapshot> &snaps, const GstVideoInfo *out_info,
    GstClockTime rt_start)
{
  std::vector<PortView *> views;
  std::stable_sort (snaps.begin (), snaps.end (),
      [] (const PadSnapshot &l, const PadSnapshot &r) {
        return l.order != r.order ? l.order < r.order
                                  : l.view.port < r.view.port;
      });
  for (PadSnapshot &s : snaps) {
    if (s.active && s.visible && s.view.in_w > 0 && s.view.in_h > 0
        && (f.max_tiles == 0 || views.size () < f.max_tiles))
      views.push_back (&s.view);
  }
  std::vector<Tile> tiles;
  if (views.empty ()) {
    priv->speaking_port = G_MAXUINT;
    return tiles;
  }

  /* The speaker, for the border and the speaking pad property, whatever
   * the layout. */
  const gint loud = pick_auto_speaker (priv, views, rt_start);
  guint speaking = G_MAXUINT;
  if (loud >= 0 && GST_CLOCK_TIME_IS_VALID (rt_start)) {
    auto it = priv->last_voice.find (views[loud]->port);
    if (it != priv->last_voice.end () && rt_start >= it->second
        && rt_start - it->second < SPEAKING_HOLD)
      speaking = views[loud]->port;
  }
  priv->speaking_port = speaking;

  const gint W = GST_VIDEO_INFO_WIDTH (out_info);
  const gint H = GST_VIDEO_INFO_HEIGHT (out_info);
  const GstVideoFormatInfo *finfo = out_info->finfo;
  const gint align = (GST_VIDEO_FORMAT_INFO_W_SUB (finfo, 1)
                         || GST_VIDEO_FORMAT_INFO_H_SUB (finfo, 1))
                         ? 2
                         : 1;
  switch (f.layout) {
    case GST_MCU_COMPOSITOR_LAYOUT_GRID:
      layout_grid (views, W, H, f.tile_fit, align, tiles);
      break;
    case GST_MCU_COMPOSITOR_LAYOUT_SPEAKER: {
      gint speaker = -1;
      for (gsize i = 0; i < views.size () && speaker < 0; i++)
        if (views[i]->speaker)
          speaker = (gint)i;
      if (f.auto_speaker && loud >= 0)
        speaker = loud;
      layout_speaker (views, MAX (speaker, 0), W, H, f.tile_fit, align, tiles);
      break;
    }
    case GST_MCU_COMPOSITOR_LAYOUT_PIP:
      layout_pip (views, W, H, f.tile_fit, align, tiles);
      break;
    case GST_MCU_COMPOSITOR_LAYOUT_CUSTOM:
      layout_custom (views, W, H, tiles);
      break;
  }
  return tiles;
}

/* An output buffer from the negotiated pool, or a plain one. */
static GstFlowReturn
acquire_output (
    GstAggregator *agg, const GstVideoInfo *out_info, GstBuffer **outbuf)
{
  GstBufferPool *pool = gst_aggregator_get_buffer_pool (agg);
  if (!pool) {
    *outbuf = gst_buffer_new_allocate (NULL, out_info->size, NULL);
    return *outbuf ? GST_FLOW_OK : GST_FLOW_ERROR;
  }
  if (!gst_buffer_pool_is_active (pool))
    gst_buffer_pool_set_active (pool, TRUE);
  GstFlowReturn ret = gst_buffer_pool_acquire_buffer (pool, outbuf, NULL);
  gst_object_unref (pool);
  if (ret == GST_FLOW_OK && !*outbuf)
    ret = GST_FLOW_ERROR;
  return ret;
}

/* Background where no opaque tile is, then the tiles in drawing order,
 * runs of tiles that do not overlap in parallel, each with its label. */
static void
render_frame (McuCompositorPrivate *priv, const std::vector<Tile> &tiles,
    guint speaking_border, GstVideoFrame *out)
{
  const guint speaking = priv->speaking_port;
  const gint W = GST_VIDEO_FRAME_WIDTH (out);
  const gint H = GST_VIDEO_FRAME_HEIGHT (out);
  std::vector<Rect> uncovered{Rect{0, 0, W, H}};
  for (const Tile &t : tiles) {
    if (t.alpha < 1.0)
      continue;
    std::vector<Rect> next;
    for (const Rect &r : uncovered)
      subtract_rect (r, t.dst, next);
    uncovered.swap (next);
  }
  for (const Rect &r : uncovered)
    fill_rect (out, priv->bg_pixel, r);

  for (gsize begin = 0; begin < tiles.size ();) {
    gsize endi = begin + 1;
    while (endi < tiles.size ()) {
      bool overlap = false;
      for (gsize k = begin; k < endi && !overlap; k++)
        overlap = tiles[k].dst.overlaps (tiles[endi].dst);
      if (overlap)
        break;
      endi++;
    }
    gst_room_parallel_for ((guint)(endi - begin), [&] (guint i) {
      const Tile &t = tiles[begin + i];
      render_tile (t, out);
      draw_label (out, t.dst, t.view->label, priv->label_box_pixel,
          priv->label_text_pixel);
      if (speaking_border > 0 && t.view->port == speaking)
        draw_border (out, t.dst, (gint)speaking_border, priv->speaking_pixel);
    });
    begin = endi;
  }
}

/* The layout message, when the layout or a tile changed. */
static void
post_layout_if_changed (GstMcuCompositor *self, const FrameWindow &w,
    GstMcuCompositorLayout layout, const std::vector<Tile> &tiles)
{
  McuCompositorPrivate *priv = self->priv;
  std::vector<LayoutEntry> entries;
  for (const Tile &t : tiles)
    entries.push_back (
        LayoutEntry{t.view->port, t.dst.x, t.dst.y, t.dst.w, t.dst.h});
  if (priv->layout_posted && priv->last_layout_kind == layout
      && priv->last_layout == entries)
    return;
  priv->layout_posted = true;
  priv->last_layout_kind = layout;
  priv->last_layout = entries;
  post_layout_message (self, w.rt_start,
      gst_segment_to_stream_time (&w.segment, GST_FORMAT_TIME, w.start), layout,
      entries);
}

/* One output frame: the inputs taken, the tiles placed and drawn, the
 * audio outputs fed, the composite queued for its own thread. */
static GstFlowReturn
gst_mcu_compositor_aggregate (GstAggregator *agg, gboolean timeout)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);
  McuCompositorPrivate *priv = self->priv;

  if (!priv->have_out_info) {
    GST_DEBUG_OBJECT (self, "output not negotiated yet");
    return GST_FLOW_NOT_NEGOTIATED;
  }
  const GstVideoInfo out_info = priv->out_info;
  const gint fps_n = GST_VIDEO_INFO_FPS_N (&out_info);
  const gint fps_d = GST_VIDEO_INFO_FPS_D (&out_info);

  std::vector<GstPad *> pads;
  const FrameSettings settings = read_settings (self, pads);
  const FrameWindow w = frame_window (self, timeout, fps_n, fps_d);

  /* Audio format is chosen once per run, at the first frame. */
  {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    if (!priv->mix)
      mcu_audio_setup (self);
  }

  FrameInputs inputs;
  collect_inputs (self, pads, w, settings.signal_timeout, inputs);
  for (GstPad *pad : pads)
    gst_object_unref (pad);

  if (inputs.all_eos)
    return finish_at_eos (self, &w.segment);
  if (inputs.need_data && !timeout)
    return GST_AGGREGATOR_FLOW_NEED_DATA;

  const std::vector<Tile> tiles =
      place_tiles (priv, settings, inputs.snaps, &out_info, w.rt_start);
  gst_aggregator_selected_samples (
      agg, w.start, GST_CLOCK_TIME_NONE, w.end - w.start, NULL);

  GstBuffer *outbuf = NULL;
  GstFlowReturn ret = acquire_output (agg, &out_info, &outbuf);
  if (ret != GST_FLOW_OK)
    return ret;
  GstVideoFrame out;
  if (!gst_video_frame_map (
          &out, (GstVideoInfo *)&out_info, outbuf, GST_MAP_READWRITE)) {
    gst_buffer_unref (outbuf);
    GST_ELEMENT_ERROR (
        self, RESOURCE, WRITE, (NULL), ("could not map the output frame"));
    return GST_FLOW_ERROR;
  }
  update_colour_pixels (priv, settings.background);
  render_frame (priv, tiles, settings.speaking_border, &out);
  gst_video_frame_unmap (&out);

  GST_BUFFER_PTS (outbuf) = w.start;
  GST_BUFFER_DTS (outbuf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (outbuf) = w.end - w.start;
  GST_BUFFER_OFFSET (outbuf) = w.nframes;
  GST_BUFFER_OFFSET_END (outbuf) = w.nframes + 1;
  if (priv->discont) {
    GST_BUFFER_FLAG_SET (outbuf, GST_BUFFER_FLAG_DISCONT);
    priv->discont = false;
  }

  post_layout_if_changed (self, w, settings.layout, tiles);
  mcu_audio_output_frame (self, &w.segment, w.ts_offset, w.nframes, fps_n,
      fps_d, inputs.audio_ports);

  GstAggregatorPad *srcpad = GST_AGGREGATOR_PAD (agg->srcpad);
  GST_OBJECT_LOCK (srcpad);
  srcpad->segment.position = w.end;
  GST_OBJECT_UNLOCK (srcpad);
  priv->nframes++;

  GST_LOG_OBJECT (self,
      "frame %" G_GUINT64_FORMAT " at %" GST_TIME_FORMAT " with %zu tiles",
      w.nframes, GST_TIME_ARGS (w.start), tiles.size ());
  /* Queued for the composite's own thread (which pushes it with the base
   * class's finish_buffer): a sink on src that waits to preroll or a slow
   * consumer of the composite never holds up the audio outputs, nor they it.
   * Nobody watching the composite (yet) is no reason to stop the room; a
   * fatal error of an earlier push is. */
  priv->video_out->push_buffer (outbuf);
  return priv->video_out->fatal_flow ();
}

static gboolean
gst_mcu_compositor_start (GstAggregator *agg)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);
  McuCompositorPrivate *priv = self->priv;

  priv->ts_offset = GST_CLOCK_TIME_NONE;
  priv->nframes = 0;
  priv->layout_posted = false;
  priv->auto_speaker = priv->speaker_candidate = G_MAXUINT;
  priv->last_voice.clear ();
  priv->speaking_port = G_MAXUINT;
  priv->video_out->start ();
  std::lock_guard<std::mutex> guard (priv->audio_lock);
  priv->outputs_running = true;
  for (auto &o : priv->audio_outs) {
    o->need_stream_start = o->need_caps = o->need_segment = true;
    o->pusher->start ();
  }
  return TRUE;
}

static gboolean
gst_mcu_compositor_stop (GstAggregator *agg)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);
  McuCompositorPrivate *priv = self->priv;

  priv->have_out_info = false;
  GST_OBJECT_LOCK (self);
  for (GList *l = GST_ELEMENT (self)->sinkpads; l; l = l->next) {
    if (GST_IS_MCU_COMPOSITOR_PAD (l->data)) {
      McuPadState *st = GST_MCU_COMPOSITOR_PAD (l->data)->state;
      gst_clear_buffer (&st->current);
      st->current_rt = GST_CLOCK_TIME_NONE;
    }
  }
  GST_OBJECT_UNLOCK (self);
  /* The output threads end (outside audio_lock: they may be pushing). */
  priv->video_out->stop ();
  std::vector<std::shared_ptr<AudioOut>> outs;
  {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    priv->outputs_running = false;
    outs = priv->audio_outs;
  }
  for (auto &o : outs)
    o->pusher->stop ();
  std::lock_guard<std::mutex> guard (priv->audio_lock);
  priv->mix.reset ();
  priv->mix_ports.clear ();
  priv->levels.clear ();
  return TRUE;
}

static GstFlowReturn
gst_mcu_compositor_flush (GstAggregator *agg)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (agg);
  McuCompositorPrivate *priv = self->priv;

  priv->ts_offset = GST_CLOCK_TIME_NONE;
  priv->nframes = 0;
  priv->video_out->drop_buffers ();
  std::lock_guard<std::mutex> guard (priv->audio_lock);
  for (auto &o : priv->audio_outs) {
    o->need_segment = true;
    o->pusher->drop_buffers ();
  }
  if (priv->mix)
    priv->mix->reset ();
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_mcu_compositor_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (object);

  if (prop_id == PROP_FORCE_LIVE) {
    /* Only before the first run: GstAggregator reads it when starting. */
    if (GST_STATE (self) > GST_STATE_NULL) {
      GST_WARNING_OBJECT (self, "force-live can only change in NULL");
      return;
    }
    GST_OBJECT_LOCK (self);
    self->force_live = g_value_get_boolean (value);
    GST_OBJECT_UNLOCK (self);
    gst_aggregator_set_force_live (
        GST_AGGREGATOR (self), g_value_get_boolean (value));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WIDTH:
      self->width = g_value_get_int (value);
      break;
    case PROP_HEIGHT:
      self->height = g_value_get_int (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_BACKGROUND:
      self->background = g_value_get_uint (value);
      break;
    case PROP_LAYOUT:
      self->layout = (GstMcuCompositorLayout)g_value_get_enum (value);
      break;
    case PROP_TILE_FIT:
      self->tile_fit = (GstMcuCompositorTileFit)g_value_get_enum (value);
      break;
    case PROP_AUTO_SPEAKER:
      self->auto_speaker = g_value_get_boolean (value);
      break;
    case PROP_SIGNAL_TIMEOUT:
      self->signal_timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_TILES:
      self->max_tiles = g_value_get_uint (value);
      break;
    case PROP_SPEAKING_BORDER:
      self->speaking_border = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_mcu_compositor_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_BACKGROUND:
      g_value_set_uint (value, self->background);
      break;
    case PROP_LAYOUT:
      g_value_set_enum (value, self->layout);
      break;
    case PROP_TILE_FIT:
      g_value_set_enum (value, self->tile_fit);
      break;
    case PROP_AUTO_SPEAKER:
      g_value_set_boolean (value, self->auto_speaker);
      break;
    case PROP_SIGNAL_TIMEOUT:
      g_value_set_uint (value, self->signal_timeout);
      break;
    case PROP_MAX_TILES:
      g_value_set_uint (value, self->max_tiles);
      break;
    case PROP_FORCE_LIVE:
      g_value_set_boolean (value, self->force_live);
      break;
    case PROP_SPEAKING_BORDER:
      g_value_set_uint (value, self->speaking_border);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_mcu_compositor_dispose (GObject *object)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (object);

  if (self->registered) {
    self->registered = FALSE;
    gst_room_hub_registry_remove (GST_ELEMENT (self));
  }
  if (self->priv) {
    std::vector<std::shared_ptr<AudioOut>> outs;
    {
      std::lock_guard<std::mutex> guard (self->priv->audio_lock);
      outs.swap (self->priv->audio_outs);
    }
    outs.clear ();
    self->priv->video_out.reset ();
  }
  G_OBJECT_CLASS (gst_mcu_compositor_parent_class)->dispose (object);
}

static void
gst_mcu_compositor_finalize (GObject *object)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (object);

  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS (gst_mcu_compositor_parent_class)->finalize (object);
}

/* GstChildProxy: the sink pads, so launch lines can set pad properties. */
static GObject *
gst_mcu_compositor_child_proxy_get_child_by_index (
    GstChildProxy *proxy, guint index)
{
  GstElement *element = GST_ELEMENT (proxy);
  GObject *obj = NULL;

  GST_OBJECT_LOCK (element);
  obj = (GObject *)g_list_nth_data (element->sinkpads, index);
  if (obj)
    gst_object_ref (obj);
  GST_OBJECT_UNLOCK (element);
  return obj;
}

static guint
gst_mcu_compositor_child_proxy_get_children_count (GstChildProxy *proxy)
{
  GstElement *element = GST_ELEMENT (proxy);

  GST_OBJECT_LOCK (element);
  guint count = element->numsinkpads;
  GST_OBJECT_UNLOCK (element);
  return count;
}

static void
gst_mcu_compositor_child_proxy_init (gpointer g_iface, gpointer iface_data)
{
  GstChildProxyInterface *iface = (GstChildProxyInterface *)g_iface;

  iface->get_child_by_index = gst_mcu_compositor_child_proxy_get_child_by_index;
  iface->get_children_count = gst_mcu_compositor_child_proxy_get_children_count;
}

static void
gst_mcu_compositor_class_init (GstMcuCompositorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_mcu_compositor_debug, "mcucompositor", 0,
      "MCU composite of a room's ports");

  element_parent_class = GST_ELEMENT_CLASS (gst_mcu_compositor_parent_class);

  gobject_class->set_property = gst_mcu_compositor_set_property;
  gobject_class->get_property = gst_mcu_compositor_get_property;
  gobject_class->dispose = gst_mcu_compositor_dispose;
  gobject_class->finalize = gst_mcu_compositor_finalize;

  const GParamFlags ready =
      (GParamFlags)(G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY
                    | G_PARAM_STATIC_STRINGS);
  const GParamFlags live =
      (GParamFlags)(G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING
                    | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_int ("width", "Width",
          "Output width (0 = from downstream caps, else 1280)", 0, G_MAXINT,
          DEFAULT_WIDTH, ready));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_int ("height", "Height",
          "Output height (0 = from downstream caps, else 720)", 0, G_MAXINT,
          DEFAULT_HEIGHT, ready));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Framerate",
          "Output frame rate (0/1 = from downstream caps, else 30/1)", 0, 1,
          G_MAXINT, 1, DEFAULT_FPS_N, DEFAULT_FPS_D, ready));
  g_object_class_install_property (gobject_class, PROP_BACKGROUND,
      g_param_spec_uint ("background", "Background",
          "Colour where no tile is, as 0xAARRGGBB", 0, G_MAXUINT32,
          DEFAULT_BACKGROUND, live));
  g_object_class_install_property (gobject_class, PROP_LAYOUT,
      g_param_spec_enum ("layout", "Layout", "How the shown ports are placed",
          GST_TYPE_MCU_COMPOSITOR_LAYOUT, DEFAULT_LAYOUT, live));
  g_object_class_install_property (gobject_class, PROP_TILE_FIT,
      g_param_spec_enum ("tile-fit", "Tile fit",
          "Letterbox (fit) or crop (fill) an input into its tile (grid, "
          "speaker, pip)",
          GST_TYPE_MCU_COMPOSITOR_TILE_FIT, DEFAULT_TILE_FIT, live));
  g_object_class_install_property (gobject_class, PROP_AUTO_SPEAKER,
      g_param_spec_boolean ("auto-speaker", "Auto speaker",
          "In layout=speaker, show the loudest port large",
          DEFAULT_AUTO_SPEAKER, live));
  g_object_class_install_property (gobject_class, PROP_SIGNAL_TIMEOUT,
      g_param_spec_uint ("signal-timeout", "Signal timeout",
          "A port without a new video frame for this many ms leaves the "
          "layout",
          0, G_MAXUINT, DEFAULT_SIGNAL_TIMEOUT, live));
  g_object_class_install_property (gobject_class, PROP_MAX_TILES,
      g_param_spec_uint ("max-tiles", "Max tiles",
          "Show at most this many active ports, first by order (0 = all)", 0,
          G_MAXUINT, DEFAULT_MAX_TILES, live));
  g_object_class_install_property (gobject_class, PROP_SPEAKING_BORDER,
      g_param_spec_uint ("speaking-border", "Speaking border",
          "Width in pixels of the amber border marking the speaking port's "
          "tile (0 = none)",
          0, 64, DEFAULT_SPEAKING_BORDER, live));
  g_object_class_install_property (gobject_class, PROP_FORCE_LIVE,
      g_param_spec_boolean ("force-live", "Force live",
          "Output at the frame rate whatever the inputs do; set FALSE only "
          "for offline processing where every input flows (e.g. "
          "benchmarks); changeable only in NULL state",
          DEFAULT_FORCE_LIVE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_CONSTRUCT
                        | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_MCU_COMPOSITOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &audio_sink_template, GST_TYPE_MCU_COMPOSITOR_AUDIO_PAD);
  gst_element_class_add_static_pad_template (
      element_class, &audio_src_template);
  gst_element_class_add_static_pad_template (
      element_class, &audio_src_minus_template);

  gst_element_class_set_static_metadata (element_class, "MCU compositor",
      "Filter/Editor/Video/Compositor/Audio/Mixer",
      "Mixes the video of a room's ports into a live layout and their audio "
      "into a full mix and per-port mix-minus",
      "gst-rooms");

  element_class->request_new_pad = gst_mcu_compositor_request_new_pad;
  element_class->release_pad = gst_mcu_compositor_release_pad;

  agg_class->create_new_pad = gst_mcu_compositor_create_new_pad;
  agg_class->aggregate = gst_mcu_compositor_aggregate;
  agg_class->get_next_time = gst_aggregator_simple_get_next_time;
  agg_class->update_src_caps = gst_mcu_compositor_update_src_caps;
  agg_class->fixate_src_caps = gst_mcu_compositor_fixate_src_caps;
  agg_class->negotiated_src_caps = gst_mcu_compositor_negotiated_src_caps;
  agg_class->decide_allocation = gst_mcu_compositor_decide_allocation;
  agg_class->propose_allocation = gst_mcu_compositor_propose_allocation;
  agg_class->sink_event = gst_mcu_compositor_sink_event;
  agg_class->start = gst_mcu_compositor_start;
  agg_class->stop = gst_mcu_compositor_stop;
  agg_class->flush = gst_mcu_compositor_flush;

  gst_type_mark_as_plugin_api (
      GST_TYPE_MCU_COMPOSITOR_PAD, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (
      GST_TYPE_MCU_COMPOSITOR_AUDIO_PAD, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (
      GST_TYPE_MCU_COMPOSITOR_LAYOUT, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api (
      GST_TYPE_MCU_COMPOSITOR_TILE_FIT, (GstPluginAPIFlags)0);
}

static void
gst_mcu_compositor_init (GstMcuCompositor *self)
{
  self->priv = new McuCompositorPrivate ();
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
  self->fps_n = DEFAULT_FPS_N;
  self->fps_d = DEFAULT_FPS_D;
  self->background = DEFAULT_BACKGROUND;
  self->layout = DEFAULT_LAYOUT;
  self->tile_fit = DEFAULT_TILE_FIT;
  self->auto_speaker = DEFAULT_AUTO_SPEAKER;
  self->signal_timeout = DEFAULT_SIGNAL_TIMEOUT;
  self->max_tiles = DEFAULT_MAX_TILES;
  self->speaking_border = DEFAULT_SPEAKING_BORDER;
  self->force_live = DEFAULT_FORCE_LIVE;
  gst_aggregator_set_force_live (GST_AGGREGATOR (self), DEFAULT_FORCE_LIVE);

  GstPadTemplate *templ = gst_element_class_get_pad_template (
      GST_ELEMENT_GET_CLASS (self), "audio_src");
  self->audio_srcpad = gst_pad_new_from_template (templ, "audio_src");
  gst_pad_set_query_function (
      self->audio_srcpad, gst_mcu_compositor_audio_src_query);
  gst_pad_set_event_function (
      self->audio_srcpad, gst_mcu_compositor_audio_src_event);
  gst_pad_use_fixed_caps (self->audio_srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->audio_srcpad);
  self->priv->audio_outs.push_back (
      std::make_shared<AudioOut> (self->audio_srcpad));

  /* The composite leaves from a thread of its own, through the base class's
   * finish_buffer (which also sends the caps and segment first). */
  self->priv->video_out.reset (
      new OutputPusher (GST_AGGREGATOR_SRC_PAD (self)));
  self->priv->video_out->set_push_buffer ([self] (GstBuffer *buf) {
    return GST_AGGREGATOR_CLASS (gst_mcu_compositor_parent_class)
        ->finish_buffer (GST_AGGREGATOR (self), buf);
  });

  /* The registry follows renames itself. */
  gst_room_hub_registry_add (GST_ELEMENT (self));
  self->registered = TRUE;
}
