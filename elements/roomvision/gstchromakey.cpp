/* gst-rooms: chromakey — replace a colour key (green/blue screen).
 *
 * SECTION:element-chromakey
 * @title: chromakey
 *
 * Keys out the colour #GstChromaKey:key-color (default green) and puts a
 * background behind the presenter: an image file (#GstChromaKey:background
 * is its path, not a colour; scaled to the frame), a video arriving on the
 * `background_sink` pad (a virtual set), or, with neither, real transparency
 * when the output format has alpha (AYUV, RGBA, BGRA, ARGB, ABGR) so
 * `compositor` or `mcucompositor` can layer the presenter over anything.
 * With no background and an output format without alpha, the keyed area
 * becomes #GstChromaKey:background-color.
 *
 * How a pixel is keyed: its hue, saturation and value are compared with the
 * key's.  Pixels whose hue is more than #GstChromaKey:hue-tolerance + 30
 * degrees away from the key's hue (the hue wraps around, so red and magenta
 * keys work), or whose saturation is below #GstChromaKey:saturation-min, or
 * whose value is below #GstChromaKey:value-min, are kept.  For the others the
 * "key strength" is their chroma (max - min of R, G, B) relative to the key
 * colour's own chroma (1.0 = as strong as the key), weighted by hue: full
 * within #GstChromaKey:hue-tolerance degrees of the key hue, fading to zero
 * over the next 30 degrees.  Pixels at 75% strength
 * or more are fully keyed (this absorbs sensor noise); below, the alpha rises
 * linearly over #GstChromaKey:feather strength units to fully opaque, which
 * gives soft, anti-aliased edges.  #GstChromaKey:matte-blur additionally
 * box-blurs the matte by that many pixels.  On partly keyed pixels the key
 * colour's share is subtracted before the background is added, so edges show
 * no key-coloured fringe; #GstChromaKey:spill then removes the key colour's
 * cast from the kept pixels (for a green key: green is pulled down towards
 * max(red, blue); any key hue works the same way).
 *
 * With #GstChromaKey:calibrate set, the element learns the key colour from
 * the rectangle #GstChromaKey:calibrate-x, -y, -width, -height (fractions of
 * the frame) over the first #GstChromaKey:calibrate-frames frames — the
 * median hue, saturation and value of the pixels there — then sets
 * #GstChromaKey:key-color, resets #GstChromaKey:calibrate to %FALSE and posts
 * a `chromakey` element message.  Frames seen while calibrating are keyed
 * with the previous key colour.
 *
 * The element is a #GstVideoFilter (in-place when input and output formats
 * are the same packed RGB format) with one extra request pad,
 * `background_sink` (a request pad, so a parsed bin does not ghost it by
 * mistake; launch syntax requests it with `name.background_sink`).  At most
 * one exists at a time.  Its chain function only stores the newest background
 * frame, so the main stream is never blocked by it; it throttles the
 * background stream to the main stream's running time (a background frame
 * waits until the main stream has reached its running time) and ends it with
 * EOS when the main stream ends.  Until a background frame has arrived, the
 * image, transparency or colour is used as if the pad were not linked.
 * Background frames of any size are scaled to the frame.
 *
 * Set #GstChromaKey:key-color to the screen's real colour (or let
 * calibration learn it): a screen with less than 75% of the key colour's
 * chroma is only partly keyed.
 *
 * Input and output formats: RGBA, BGRA, ARGB, ABGR, RGBx, BGRx, xRGB, xBGR,
 * AYUV, I420 (YUV formats are converted internally).  Input alpha is ignored.
 * The output format is negotiated: by default the input format, or its alpha
 * counterpart (BGRx → BGRA, I420 → AYUV, ...) when no background is set, so
 * transparency reaches downstream.
 *
 * ## Messages
 *
 * `chromakey` (element message), posted when calibration finishes:
 *
 * - `key-color` (G_TYPE_UINT): the learned key colour, 0xAARRGGBB.
 * - `hue` (G_TYPE_DOUBLE): its hue in degrees, 0..360.
 * - `saturation` (G_TYPE_DOUBLE): its saturation, 0..1.
 * - `value` (G_TYPE_DOUBLE): its value, 0..1.
 * - `frames` (G_TYPE_UINT): how many frames were measured.
 * - `timestamp`, `stream-time`, `running-time` (G_TYPE_UINT64): of the last
 *   measured frame.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc pattern=ball background-color=0xff00ff00 \
 *   num-buffers=100 ! video/x-raw,width=640,height=360 ! chromakey ! \
 *   videoconvert ! fakesink
 * ]| The ball over transparency (use autovideosink to watch).
 * |[
 * gst-launch-1.0 compositor name=mix ! videoconvert ! fakesink \
 *   videotestsrc pattern=smpte num-buffers=100 ! \
 *   video/x-raw,width=640,height=360 ! mix. \
 *   videotestsrc pattern=ball background-color=0xff00ff00 num-buffers=100 ! \
 *   video/x-raw,width=640,height=360 ! chromakey spill=1.0 ! mix.
 * ]| A presenter layered over another video by `compositor`.
 * |[
 * gst-launch-1.0 videotestsrc pattern=ball background-color=0xff00ff00 \
 *   num-buffers=100 ! video/x-raw,width=640,height=360 ! \
 *   chromakey name=key ! videoconvert ! fakesink \
 *   videotestsrc pattern=smpte ! key.background_sink
 * ]| A virtual set: the keyed area shows another video.
 *
 * Locking: the object lock guards the settings; `bg_lock` guards the newest
 * background frame and the main stream's progress.  The two are never held
 * together.  Everything else in the private struct belongs to the streaming
 * thread of the main sink pad.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstchromakey.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_chroma_key_debug);
#define GST_CAT_DEFAULT gst_chroma_key_debug

#define DEFAULT_KEY_COLOR 0xff00ff00u
#define DEFAULT_HUE_TOLERANCE 25.0
#define DEFAULT_SATURATION_MIN 0.2
#define DEFAULT_VALUE_MIN 0.15
#define DEFAULT_FEATHER 0.5
#define DEFAULT_MATTE_BLUR 0
#define DEFAULT_SPILL 0.5
#define DEFAULT_BACKGROUND NULL
#define DEFAULT_BACKGROUND_COLOR 0xff000000u
#define DEFAULT_CALIBRATE FALSE
#define DEFAULT_CALIBRATE_X 0.0
#define DEFAULT_CALIBRATE_Y 0.0
#define DEFAULT_CALIBRATE_WIDTH 0.1
#define DEFAULT_CALIBRATE_HEIGHT 0.1
#define DEFAULT_CALIBRATE_FRAMES 10

/* Key strength at and above which a pixel is fully keyed. */
#define FULL_KEY_STRENGTH 0.75
/* Degrees beyond hue-tolerance over which the key strength fades out. */
#define HUE_FALLOFF 30.0

enum {
  PROP_0,
  PROP_KEY_COLOR,
  PROP_HUE_TOLERANCE,
  PROP_SATURATION_MIN,
  PROP_VALUE_MIN,
  PROP_FEATHER,
  PROP_MATTE_BLUR,
  PROP_SPILL,
  PROP_BACKGROUND,
  PROP_BACKGROUND_COLOR,
  PROP_CALIBRATE,
  PROP_CALIBRATE_X,
  PROP_CALIBRATE_Y,
  PROP_CALIBRATE_WIDTH,
  PROP_CALIBRATE_HEIGHT,
  PROP_CALIBRATE_FRAMES,
};

#define CHROMA_KEY_FORMATS                                                     \
  "{ RGBA, BGRA, ARGB, ABGR, RGBx, BGRx, xRGB, xBGR, AYUV, I420 }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (CHROMA_KEY_FORMATS)));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (CHROMA_KEY_FORMATS)));

static GstStaticPadTemplate background_template =
    GST_STATIC_PAD_TEMPLATE ("background_sink", GST_PAD_SINK, GST_PAD_REQUEST,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (CHROMA_KEY_FORMATS)));

namespace {

/* Hue is kept in 1536 units per turn: 256 per sixth of the colour wheel. */
constexpr int HUE_UNITS = 1536;
constexpr int HUE_HALF_TURN = HUE_UNITS / 2;

struct Settings {
  guint key_color = DEFAULT_KEY_COLOR;
  double hue_tolerance = DEFAULT_HUE_TOLERANCE;
  double saturation_min = DEFAULT_SATURATION_MIN;
  double value_min = DEFAULT_VALUE_MIN;
  double feather = DEFAULT_FEATHER;
  int matte_blur = DEFAULT_MATTE_BLUR;
  double spill = DEFAULT_SPILL;
  std::string background;
  guint background_color = DEFAULT_BACKGROUND_COLOR;
  bool calibrate = DEFAULT_CALIBRATE;
  double calibrate_x = DEFAULT_CALIBRATE_X;
  double calibrate_y = DEFAULT_CALIBRATE_Y;
  double calibrate_width = DEFAULT_CALIBRATE_WIDTH;
  double calibrate_height = DEFAULT_CALIBRATE_HEIGHT;
  guint calibrate_frames = DEFAULT_CALIBRATE_FRAMES;
  /* Bumped on every change that affects the keying tables. */
  guint64 key_generation = 1;
};

/* Everything the per-pixel code needs, precomputed from the settings. */
struct KeyTables {
  int key[3] = {0, 255, 0}; /* r, g, b */
  int key_hue = 512;
  int key_chroma = 255;
  int key_direction[3] = {0, 256, 0}; /* Q8: the key's hue as an RGB mix */
  int saturation_min_q8 = 0;
  int value_min = 0;
  int spill_q8 = 0;
  std::array<uint16_t, HUE_HALF_TURN + 1> hue_weight{}; /* Q8 */
  std::array<uint8_t, 256> alpha_of_strength{};
  std::array<uint32_t, 256> reciprocal{}; /* (1 << 16) / c */
};

enum class Fill { BACKGROUND, COLOR, TRANSPARENT };

struct PackedLayout {
  bool direct = false; /* packed 4-byte RGB, read or written in place */
  bool has_alpha = false;
  int r = 0, g = 1, b = 2, a = 3;
};

struct Calibration {
  bool running = false;
  guint frames = 0;
  std::vector<guint64> hue_histogram;
  std::vector<guint64> saturation_histogram;
  std::vector<guint64> value_histogram;
};

struct Private {
  /* Guarded by the object lock. */
  Settings settings;

  /* Guarded by bg_lock. */
  std::mutex bg_lock;
  std::condition_variable bg_cond;
  GstBuffer *bg_buffer = nullptr; /* newest background frame */
  GstVideoInfo bg_info;           /* its format */
  GstVideoInfo bg_pending_info;   /* from the latest caps event */
  bool bg_have_info = false;
  guint64 bg_sequence = 0;
  GstSegment bg_segment;
  bool bg_flushing = true;
  GstClockTime main_running_time = GST_CLOCK_TIME_NONE;
  bool main_eos = false;

  /* Guarded by the object lock: the requested background_sink pad. */
  GstPad *bg_pad = nullptr;

  /* Streaming thread of the main sink pad. */
  KeyTables tables;
  guint64 tables_generation = 0;
  PackedLayout in_layout, out_layout;
  GstVideoConverter *in_converter = nullptr;  /* YUV input -> RGBA */
  GstVideoConverter *out_converter = nullptr; /* RGBA -> YUV output */
  cv::Mat in_scratch, out_scratch;            /* RGBA, frame size */
  std::string bg_image_path;                  /* loaded image's path */
  cv::Mat bg_image;                           /* as loaded, BGR */
  cv::Mat bg_image_scaled;                    /* RGBA, frame size */
  GstVideoConverter *bg_converter = nullptr;
  GstVideoInfo bg_converter_in;
  guint64 bg_converted_sequence = 0;
  cv::Mat bg_video;   /* RGBA, frame size */
  cv::Mat matte, key; /* alpha and key strength, for matte-blur */
  Calibration calibration;
};

} // namespace

struct _GstChromaKey {
  GstVideoFilter parent;
  Private *priv;
};

#define gst_chroma_key_parent_class parent_class
G_DEFINE_TYPE (GstChromaKey, gst_chroma_key, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (
    chromakey, "chromakey", GST_RANK_NONE, GST_TYPE_CHROMA_KEY);

static GParamSpec *key_color_pspec;
static GParamSpec *calibrate_pspec;

/* ---- colour helpers ---------------------------------------------------- */

static void
argb_split (guint argb, int rgb[3])
{
  rgb[0] = (argb >> 16) & 0xff;
  rgb[1] = (argb >> 8) & 0xff;
  rgb[2] = argb & 0xff;
}

/* Hue in HUE_UNITS, chroma and max of an RGB triple; hue is -1 for greys. */
static inline int
hue_of (int r, int g, int b, int max, int chroma, const uint32_t *reciprocal)
{
  if (chroma == 0)
    return -1;
  int hue;
  uint32_t rec = reciprocal[chroma];
  if (max == r) {
    hue = ((g - b) * (int)rec) >> 8;
    if (hue < 0)
      hue += HUE_UNITS;
  } else if (max == g) {
    hue = 512 + (((b - r) * (int)rec) >> 8);
  } else {
    hue = 1024 + (((r - g) * (int)rec) >> 8);
  }
  return hue;
}

/* The pixel's chroma along the key hue, 0..255. */
static inline int
key_strength (
    const KeyTables &t, int r, int g, int b, int *max_out, int *chroma_out)
{
  int max = std::max (r, std::max (g, b));
  int min = std::min (r, std::min (g, b));
  int chroma = max - min;
  *max_out = max;
  *chroma_out = chroma;
  int hue = hue_of (r, g, b, max, chroma, t.reciprocal.data ());
  if (hue < 0)
    return 0;
  int distance = std::abs (hue - t.key_hue);
  if (distance > HUE_HALF_TURN)
    distance = HUE_UNITS - distance;
  return (chroma * t.hue_weight[distance]) >> 8;
}

static void
build_tables (KeyTables &t, const Settings &s)
{
  argb_split (s.key_color, t.key);
  for (int c = 1; c < 256; c++)
    t.reciprocal[c] = (1u << 16) / c;
  t.reciprocal[0] = 0;

  int max = std::max (t.key[0], std::max (t.key[1], t.key[2]));
  int min = std::min (t.key[0], std::min (t.key[1], t.key[2]));
  t.key_chroma = std::max (1, max - min);
  int hue = hue_of (
      t.key[0], t.key[1], t.key[2], max, max - min, t.reciprocal.data ());
  t.key_hue = hue < 0 ? 512 : hue;
  for (int c = 0; c < 3; c++)
    t.key_direction[c] =
        ((t.key[c] - min) * 256 + t.key_chroma / 2) / t.key_chroma;

  double tolerance_units = s.hue_tolerance * HUE_UNITS / 360.0;
  double falloff_units = HUE_FALLOFF * HUE_UNITS / 360.0;
  for (int d = 0; d <= HUE_HALF_TURN; d++) {
    double w = 1.0 - (d - tolerance_units) / falloff_units;
    t.hue_weight[d] = (uint16_t)std::lround (std::clamp (w, 0.0, 1.0) * 256);
  }

  double full = FULL_KEY_STRENGTH;
  double none = full - s.feather;
  for (int e = 0; e < 256; e++) {
    double strength = (double)e / t.key_chroma;
    double alpha;
    if (s.feather <= 0.0)
      alpha = strength >= full ? 0.0 : 1.0;
    else
      alpha = std::clamp ((full - strength) / (full - none), 0.0, 1.0);
    t.alpha_of_strength[e] = (uint8_t)std::lround (alpha * 255);
  }

  t.saturation_min_q8 = (int)std::lround (s.saturation_min * 256);
  t.value_min = (int)std::lround (s.value_min * 255);
  t.spill_q8 = (int)std::lround (s.spill * 256);
}

static PackedLayout
layout_of (const GstVideoInfo *info)
{
  PackedLayout layout;
  GstVideoFormat format = GST_VIDEO_INFO_FORMAT (info);
  layout.has_alpha = GST_VIDEO_INFO_HAS_ALPHA (info);
  switch (format) {
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_ARGB:
    case GST_VIDEO_FORMAT_ABGR:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_xBGR:
      layout.direct = true;
      layout.r = GST_VIDEO_INFO_COMP_POFFSET (info, GST_VIDEO_COMP_R);
      layout.g = GST_VIDEO_INFO_COMP_POFFSET (info, GST_VIDEO_COMP_G);
      layout.b = GST_VIDEO_INFO_COMP_POFFSET (info, GST_VIDEO_COMP_B);
      /* The fourth byte, alpha or padding: offsets add up to 0+1+2+3. */
      layout.a = 6 - layout.r - layout.g - layout.b;
      break;
    default:
      break;
  }
  return layout;
}

/* ---- the keyer ---------------------------------------------------------- */

struct FrameJob {
  const KeyTables *t;
  const uint8_t *in;
  int in_stride;
  PackedLayout in_layout;
  uint8_t *out;
  int out_stride;
  PackedLayout out_layout;
  int width, height;
  Fill fill;
  const cv::Mat *background; /* RGBA, frame size, for Fill::BACKGROUND */
  int fill_color[3];
};

/* Alpha and key strength of one row. */
static void
matte_row (const FrameJob &job, int y, uint8_t *alpha, uint8_t *strength)
{
  const KeyTables &t = *job.t;
  const uint8_t *p = job.in + (size_t)y * job.in_stride;
  const int ro = job.in_layout.r, go = job.in_layout.g, bo = job.in_layout.b;
  for (int x = 0; x < job.width; x++, p += 4) {
    int r = p[ro], g = p[go], b = p[bo];
    int max, chroma;
    int e = key_strength (t, r, g, b, &max, &chroma);
    bool kept = max < t.value_min || chroma * 256 < t.saturation_min_q8 * max;
    alpha[x] = kept ? 255 : t.alpha_of_strength[e];
    strength[x] = (uint8_t)e;
  }
}

static inline int
clamp8 (int v)
{
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

/* Removes the key colour's cast: subtracts, along the key's RGB mix, what
 * the key's dominant channels have over the others (for green: G down to
 * max(R, B); for magenta: R and B down to G), scaled by spill. */
static inline void
suppress_spill (const KeyTables &t, int e, int rgb[3])
{
  if (t.spill_q8 == 0 || e == 0)
    return;
  int dominant = 255, other = 0;
  for (int c = 0; c < 3; c++) {
    if (t.key_direction[c] >= 128)
      dominant = std::min (dominant, rgb[c]);
    else
      other = std::max (other, rgb[c]);
  }
  int excess = dominant - other;
  if (excess <= 0)
    return;
  int amount = t.spill_q8 * excess;
  for (int c = 0; c < 3; c++)
    rgb[c] = clamp8 (rgb[c] - ((amount * t.key_direction[c] + 32768) >> 16));
}

static void
compose_row (
    const FrameJob &job, int y, const uint8_t *alpha, const uint8_t *strength)
{
  const KeyTables &t = *job.t;
  const uint8_t *p = job.in + (size_t)y * job.in_stride;
  uint8_t *q = job.out + (size_t)y * job.out_stride;
  const uint8_t *bg =
      job.fill == Fill::BACKGROUND ? job.background->ptr (y) : nullptr;
  const int ro = job.in_layout.r, go = job.in_layout.g, bo = job.in_layout.b;
  const int wr = job.out_layout.r, wg = job.out_layout.g, wb = job.out_layout.b,
            wa = job.out_layout.a;
  const bool transparent = job.fill == Fill::TRANSPARENT;

  for (int x = 0; x < job.width; x++, p += 4, q += 4) {
    int a = alpha[x];
    int rgb[3] = {p[ro], p[go], p[bo]};
    int out_alpha = 255;
    if (a == 255) {
      suppress_spill (t, strength[x], rgb);
    } else {
      int fill[3];
      if (bg) {
        const uint8_t *b = bg + 4 * x;
        fill[0] = b[0], fill[1] = b[1], fill[2] = b[2];
      } else {
        fill[0] = job.fill_color[0], fill[1] = job.fill_color[1],
        fill[2] = job.fill_color[2];
      }
      if (a == 0) {
        if (transparent) {
          rgb[0] = rgb[1] = rgb[2] = 0;
          out_alpha = 0;
        } else {
          rgb[0] = fill[0], rgb[1] = fill[1], rgb[2] = fill[2];
        }
      } else {
        /* pixel = a·fg + (1-a)·key, so a·fg = pixel - (1-a)·key. */
        int inv = 255 - a;
        for (int c = 0; c < 3; c++)
          rgb[c] = clamp8 (rgb[c] - (inv * t.key[c] + 127) / 255);
        int max, chroma;
        suppress_spill (
            t, key_strength (t, rgb[0], rgb[1], rgb[2], &max, &chroma), rgb);
        if (transparent) {
          for (int c = 0; c < 3; c++)
            rgb[c] = std::min (255, (rgb[c] * 255 + a / 2) / a);
          out_alpha = a;
        } else {
          for (int c = 0; c < 3; c++)
            rgb[c] = clamp8 (rgb[c] + (inv * fill[c] + 127) / 255);
        }
      }
    }
    q[wr] = (uint8_t)rgb[0];
    q[wg] = (uint8_t)rgb[1];
    q[wb] = (uint8_t)rgb[2];
    q[wa] = (uint8_t)out_alpha;
  }
}

static void
run_job (const FrameJob &job, int matte_blur, cv::Mat &matte, cv::Mat &key)
{
  /* Small frames are not worth the threads. */
  double stripes = job.width * job.height >= 320 * 240 ? 4 : 1;
  if (matte_blur <= 0) {
    /* One pass, row by row, while the row is in cache. */
    cv::parallel_for_ (
        cv::Range (0, job.height),
        [&job] (const cv::Range &rows) {
          std::vector<uint8_t> alpha (job.width), strength (job.width);
          for (int y = rows.start; y < rows.end; y++) {
            matte_row (job, y, alpha.data (), strength.data ());
            compose_row (job, y, alpha.data (), strength.data ());
          }
        },
        stripes);
    return;
  }
  matte.create (job.height, job.width, CV_8UC1);
  key.create (job.height, job.width, CV_8UC1);
  cv::parallel_for_ (
      cv::Range (0, job.height),
      [&] (const cv::Range &rows) {
        for (int y = rows.start; y < rows.end; y++)
          matte_row (job, y, matte.ptr (y), key.ptr (y));
      },
      stripes);
  int size = 2 * matte_blur + 1;
  cv::blur (matte, matte, cv::Size (size, size));
  cv::parallel_for_ (
      cv::Range (0, job.height),
      [&] (const cv::Range &rows) {
        for (int y = rows.start; y < rows.end; y++)
          compose_row (job, y, matte.ptr (y), key.ptr (y));
      },
      stripes);
}

/* ---- calibration -------------------------------------------------------- */

static void
calibration_reset (Calibration &cal)
{
  cal.running = true;
  cal.frames = 0;
  cal.hue_histogram.assign (360, 0);
  cal.saturation_histogram.assign (256, 0);
  cal.value_histogram.assign (256, 0);
}

static void
calibration_add (Calibration &cal, const Settings &s, const uint8_t *data,
    int stride, const PackedLayout &layout, int width, int height)
{
  int x0 = (int)std::lround (std::clamp (s.calibrate_x, 0.0, 1.0) * width);
  int y0 = (int)std::lround (std::clamp (s.calibrate_y, 0.0, 1.0) * height);
  int x1 = (int)std::lround (
      std::clamp (s.calibrate_x + s.calibrate_width, 0.0, 1.0) * width);
  int y1 = (int)std::lround (
      std::clamp (s.calibrate_y + s.calibrate_height, 0.0, 1.0) * height);
  x1 = std::max (x1, std::min (x0 + 1, width));
  y1 = std::max (y1, std::min (y0 + 1, height));
  for (int y = y0; y < y1; y++) {
    const uint8_t *p = data + (size_t)y * stride + 4 * x0;
    for (int x = x0; x < x1; x++, p += 4) {
      int r = p[layout.r], g = p[layout.g], b = p[layout.b];
      int max = std::max (r, std::max (g, b));
      int min = std::min (r, std::min (g, b));
      int chroma = max - min;
      cal.value_histogram[max]++;
      cal.saturation_histogram[max ? chroma * 255 / max : 0]++;
      if (chroma > 0) {
        double h;
        if (max == r)
          h = 60.0 * (g - b) / chroma;
        else if (max == g)
          h = 120.0 + 60.0 * (b - r) / chroma;
        else
          h = 240.0 + 60.0 * (r - g) / chroma;
        int bin = ((int)std::floor (h) % 360 + 360) % 360;
        cal.hue_histogram[bin]++;
      }
    }
  }
  cal.frames++;
}

static int
histogram_median (const std::vector<guint64> &hist, int offset)
{
  guint64 total = 0;
  for (guint64 n : hist)
    total += n;
  guint64 seen = 0;
  int size = (int)hist.size ();
  for (int i = 0; i < size; i++) {
    seen += hist[(i + offset) % size];
    if (seen * 2 >= total)
      return (i + offset) % size;
  }
  return offset;
}

/* Median of a circular hue histogram: counted from the point opposite the
 * most populated 60° window, so a red key's hues around 0° stay together. */
static double
hue_median (const std::vector<guint64> &hist)
{
  int best = 0;
  guint64 best_count = 0;
  for (int start = 0; start < 360; start++) {
    guint64 count = 0;
    for (int i = 0; i < 60; i++)
      count += hist[(start + i) % 360];
    if (count > best_count)
      best_count = count, best = start;
  }
  int opposite = (best + 30 + 180) % 360;
  return histogram_median (hist, opposite) + 0.5;
}

static guint
argb_from_hsv (double hue, double saturation, double value)
{
  double c = value * saturation;
  double h = std::fmod (hue, 360.0) / 60.0;
  double x = c * (1 - std::fabs (std::fmod (h, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  switch ((int)h) {
    case 0:
      r = c, g = x;
      break;
    case 1:
      r = x, g = c;
      break;
    case 2:
      g = c, b = x;
      break;
    case 3:
      g = x, b = c;
      break;
    case 4:
      r = x, b = c;
      break;
    default:
      r = c, b = x;
      break;
  }
  double m = value - c;
  auto byte = [m] (double v) {
    return (guint)std::lround (std::clamp (v + m, 0.0, 1.0) * 255);
  };
  return 0xff000000u | (byte (r) << 16) | (byte (g) << 8) | byte (b);
}

/* ---- backgrounds -------------------------------------------------------- */

/* Loads the background image if its path changed; FALSE with an element
 * error when it cannot be read. */
static gboolean
load_background_image (GstChromaKey *self, const std::string &path)
{
  Private *priv = self->priv;
  if (path == priv->bg_image_path)
    return TRUE;
  priv->bg_image.release ();
  priv->bg_image_scaled.release ();
  priv->bg_image_path.clear ();
  if (path.empty ())
    return TRUE;
  if (!g_file_test (path.c_str (), G_FILE_TEST_IS_REGULAR)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Background image \"%s\" does not exist.", path.c_str ()),
        ("background=%s", path.c_str ()));
    return FALSE;
  }
  cv::Mat image = cv::imread (path, cv::IMREAD_COLOR);
  if (image.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not read background image \"%s\": not an image OpenCV can "
         "decode (PNG, JPEG, ...).",
            path.c_str ()),
        ("cv::imread failed for %s", path.c_str ()));
    return FALSE;
  }
  priv->bg_image = image;
  priv->bg_image_path = path;
  GST_INFO_OBJECT (self, "background image %s, %dx%d", path.c_str (),
      image.cols, image.rows);
  return TRUE;
}

/* The background image at frame size, scaled once per size. */
static const cv::Mat *
scaled_background_image (Private *priv, int width, int height)
{
  if (priv->bg_image.empty ())
    return nullptr;
  if (priv->bg_image_scaled.cols != width
      || priv->bg_image_scaled.rows != height) {
    cv::Mat scaled;
    bool shrinking =
        priv->bg_image.cols > width || priv->bg_image.rows > height;
    cv::resize (priv->bg_image, scaled, cv::Size (width, height), 0, 0,
        shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor (scaled, priv->bg_image_scaled, cv::COLOR_BGR2RGBA);
  }
  return &priv->bg_image_scaled;
}

/* Converts between a GstVideoFrame and an RGBA cv::Mat of the frame's size
 * through a GstVideoConverter (which also scales). */
/* Maps an RGBA cv::Mat as a video frame (no copy), for GstVideoConverter. */
static bool
map_mat (cv::Mat &rgba, GstMapFlags flags, GstVideoFrame *frame)
{
  GstVideoInfo info;
  gst_video_info_set_format (
      &info, GST_VIDEO_FORMAT_RGBA, rgba.cols, rgba.rows);
  info.stride[0] = (gint)rgba.step;
  info.size = rgba.step * rgba.rows;
  GstBuffer *wrapped = gst_buffer_new_wrapped_full (
      (GstMemoryFlags)0, rgba.data, info.size, 0, info.size, nullptr, nullptr);
  bool ok = gst_video_frame_map (frame, &info, wrapped, flags);
  gst_buffer_unref (wrapped); /* the mapped frame holds its own reference */
  return ok;
}

static bool
convert_into_mat (
    GstVideoConverter *converter, const GstVideoFrame *src, cv::Mat &rgba)
{
  GstVideoFrame dest;
  if (!map_mat (rgba, GST_MAP_WRITE, &dest))
    return false;
  gst_video_converter_frame (converter, src, &dest);
  gst_video_frame_unmap (&dest);
  return true;
}

static bool
convert_from_mat (
    GstVideoConverter *converter, cv::Mat &rgba, GstVideoFrame *dest)
{
  GstVideoFrame src;
  if (!map_mat (rgba, GST_MAP_READ, &src))
    return false;
  gst_video_converter_frame (converter, &src, dest);
  gst_video_frame_unmap (&src);
  return true;
}

/* The newest background video frame at frame size, converted when a new one
 * arrived. */
static const cv::Mat *
background_video (GstChromaKey *self, int width, int height)
{
  Private *priv = self->priv;
  GstBuffer *buffer = nullptr;
  GstVideoInfo info;
  guint64 sequence;
  {
    std::lock_guard<std::mutex> lock (priv->bg_lock);
    if (priv->bg_buffer) {
      buffer = gst_buffer_ref (priv->bg_buffer);
      info = priv->bg_info;
      sequence = priv->bg_sequence;
    }
  }
  if (!buffer)
    return nullptr;

  if (sequence != priv->bg_converted_sequence || priv->bg_video.cols != width
      || priv->bg_video.rows != height) {
    if (priv->bg_converter
        && (!gst_video_info_is_equal (&info, &priv->bg_converter_in)
            || priv->bg_video.cols != width || priv->bg_video.rows != height)) {
      gst_video_converter_free (priv->bg_converter);
      priv->bg_converter = nullptr;
    }
    priv->bg_video.create (height, width, CV_8UC4);
    if (!priv->bg_converter) {
      GstVideoInfo out;
      gst_video_info_set_format (&out, GST_VIDEO_FORMAT_RGBA, width, height);
      GST_VIDEO_INFO_FPS_N (&out) = GST_VIDEO_INFO_FPS_N (&info);
      GST_VIDEO_INFO_FPS_D (&out) = GST_VIDEO_INFO_FPS_D (&info);
      priv->bg_converter = gst_video_converter_new (&info, &out, nullptr);
      priv->bg_converter_in = info;
    }
    GstVideoFrame frame;
    if (priv->bg_converter
        && gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ)) {
      convert_into_mat (priv->bg_converter, &frame, priv->bg_video);
      gst_video_frame_unmap (&frame);
      priv->bg_converted_sequence = sequence;
    } else {
      GST_WARNING_OBJECT (self, "cannot convert the background frame");
      gst_buffer_unref (buffer);
      return nullptr;
    }
  }
  gst_buffer_unref (buffer);
  return &priv->bg_video;
}

static GstFlowReturn
gst_chroma_key_background_chain (
    GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstChromaKey *self = GST_CHROMA_KEY (parent);
  Private *priv = self->priv;
  std::unique_lock<std::mutex> lock (priv->bg_lock);
  if (!priv->bg_have_info) {
    lock.unlock ();
    gst_buffer_unref (buffer);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (nullptr),
        ("background buffer before caps on background_sink"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstClockTime running_time = gst_segment_to_running_time (
      &priv->bg_segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
  /* Hold the background back until the main stream has reached it, so a
   * file or test source does not race ahead. */
  priv->bg_cond.wait (lock, [&] {
    return priv->bg_flushing || priv->main_eos || !priv->bg_buffer
           || !GST_CLOCK_TIME_IS_VALID (running_time)
           || (GST_CLOCK_TIME_IS_VALID (priv->main_running_time)
               && running_time <= priv->main_running_time);
  });
  GstFlowReturn ret = GST_FLOW_OK;
  if (priv->bg_flushing)
    ret = GST_FLOW_FLUSHING;
  else if (priv->main_eos)
    ret = GST_FLOW_EOS;
  if (ret != GST_FLOW_OK) {
    lock.unlock ();
    gst_buffer_unref (buffer);
    return ret;
  }
  gst_buffer_replace (&priv->bg_buffer, buffer);
  priv->bg_info = priv->bg_pending_info;
  priv->bg_sequence++;
  lock.unlock ();
  gst_buffer_unref (buffer);
  return GST_FLOW_OK;
}

static gboolean
gst_chroma_key_background_event (
    GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstChromaKey *self = GST_CHROMA_KEY (parent);
  Private *priv = self->priv;
  gboolean ret = TRUE;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      GstVideoInfo info;
      gst_event_parse_caps (event, &caps);
      if (gst_video_info_from_caps (&info, caps)) {
        std::lock_guard<std::mutex> lock (priv->bg_lock);
        priv->bg_pending_info = info;
        priv->bg_have_info = true;
      } else {
        ret = FALSE;
      }
      break;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      if (segment->format == GST_FORMAT_TIME)
        priv->bg_segment = *segment;
      else
        gst_segment_init (&priv->bg_segment, GST_FORMAT_TIME);
      break;
    }
    case GST_EVENT_FLUSH_START: {
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->bg_flushing = true;
      priv->bg_cond.notify_all ();
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->bg_flushing = false;
      gst_segment_init (&priv->bg_segment, GST_FORMAT_TIME);
      break;
    }
    default:
      /* EOS and the rest end here: the last frame stays the background. */
      break;
  }
  gst_event_unref (event);
  return ret;
}

/* ---- GstVideoFilter ----------------------------------------------------- */

static GstCaps *
gst_chroma_key_transform_caps (GstBaseTransform *trans,
    GstPadDirection direction, GstCaps *caps, GstCaps *filter)
{
  static GstStaticCaps all =
      GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (CHROMA_KEY_FORMATS));
  GstCaps *all_caps = gst_static_caps_get (&all);
  const GValue *formats =
      gst_structure_get_value (gst_caps_get_structure (all_caps, 0), "format");
  GstCaps *any_format = gst_caps_new_empty ();
  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    GstStructure *s = gst_structure_copy (gst_caps_get_structure (caps, i));
    gst_structure_remove_fields (
        s, "format", "colorimetry", "chroma-site", nullptr);
    gst_structure_set_value (s, "format", formats);
    gst_caps_append_structure_full (any_format, s,
        gst_caps_features_copy (gst_caps_get_features (caps, i)));
  }
  gst_caps_unref (all_caps);
  /* The same format first: that is the in-place case. */
  GstCaps *result = gst_caps_merge (gst_caps_ref (caps), any_format);
  if (filter) {
    GstCaps *filtered =
        gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = filtered;
  }
  return result;
}

static GstVideoFormat
alpha_counterpart (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGBx:
      return GST_VIDEO_FORMAT_RGBA;
    case GST_VIDEO_FORMAT_BGRx:
      return GST_VIDEO_FORMAT_BGRA;
    case GST_VIDEO_FORMAT_xRGB:
      return GST_VIDEO_FORMAT_ARGB;
    case GST_VIDEO_FORMAT_xBGR:
      return GST_VIDEO_FORMAT_ABGR;
    case GST_VIDEO_FORMAT_I420:
      return GST_VIDEO_FORMAT_AYUV;
    default:
      return format;
  }
}

static GstCaps *
gst_chroma_key_fixate_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *othercaps)
{
  GstChromaKey *self = GST_CHROMA_KEY (trans);
  othercaps = gst_caps_make_writable (othercaps);
  const gchar *in_format =
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "format");
  if (direction == GST_PAD_SINK && in_format) {
    GST_OBJECT_LOCK (self);
    bool has_background = !self->priv->settings.background.empty ();
    GstPad *bg_pad = self->priv->bg_pad
                         ? GST_PAD (gst_object_ref (self->priv->bg_pad))
                         : nullptr;
    GST_OBJECT_UNLOCK (self);
    if (bg_pad) {
      has_background = has_background || gst_pad_is_linked (bg_pad);
      gst_object_unref (bg_pad);
    }
    GstVideoFormat format = gst_video_format_from_string (in_format);
    if (!has_background)
      format = alpha_counterpart (format);
    GstCaps *preferred = gst_caps_copy (othercaps);
    gst_caps_set_simple (preferred, "format", G_TYPE_STRING,
        gst_video_format_to_string (format), nullptr);
    GstCaps *both = gst_caps_intersect (othercaps, preferred);
    gst_caps_unref (preferred);
    if (!gst_caps_is_empty (both)) {
      gst_caps_unref (othercaps);
      othercaps = both;
    } else {
      gst_caps_unref (both);
    }
  }
  return gst_caps_fixate (othercaps);
}

static void
free_converters (Private *priv)
{
  if (priv->in_converter)
    gst_video_converter_free (priv->in_converter);
  if (priv->out_converter)
    gst_video_converter_free (priv->out_converter);
  priv->in_converter = priv->out_converter = nullptr;
}

static gboolean
gst_chroma_key_set_info (GstVideoFilter *filter, GstCaps *incaps,
    GstVideoInfo *in_info, GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstChromaKey *self = GST_CHROMA_KEY (filter);
  Private *priv = self->priv;
  int width = GST_VIDEO_INFO_WIDTH (in_info);
  int height = GST_VIDEO_INFO_HEIGHT (in_info);
  if (width != GST_VIDEO_INFO_WIDTH (out_info)
      || height != GST_VIDEO_INFO_HEIGHT (out_info)) {
    GST_ERROR_OBJECT (self, "input and output sizes differ");
    return FALSE;
  }
  free_converters (priv);
  priv->in_layout = layout_of (in_info);
  priv->out_layout = layout_of (out_info);
  GstVideoInfo rgba;
  gst_video_info_set_format (&rgba, GST_VIDEO_FORMAT_RGBA, width, height);
  /* The converters insist on equal frame rates. */
  GST_VIDEO_INFO_FPS_N (&rgba) = GST_VIDEO_INFO_FPS_N (in_info);
  GST_VIDEO_INFO_FPS_D (&rgba) = GST_VIDEO_INFO_FPS_D (in_info);
  if (!priv->in_layout.direct) {
    priv->in_converter = gst_video_converter_new (in_info, &rgba, nullptr);
    priv->in_scratch.create (height, width, CV_8UC4);
    priv->in_layout.r = 0, priv->in_layout.g = 1, priv->in_layout.b = 2;
    priv->in_layout.a = 3;
  }
  if (!priv->out_layout.direct) {
    priv->out_converter = gst_video_converter_new (&rgba, out_info, nullptr);
    priv->out_scratch.create (height, width, CV_8UC4);
  }
  if ((!priv->in_layout.direct && !priv->in_converter)
      || (!priv->out_layout.direct && !priv->out_converter)) {
    GST_ERROR_OBJECT (self, "cannot convert %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  bool in_place =
      priv->in_layout.direct
      && GST_VIDEO_INFO_FORMAT (in_info) == GST_VIDEO_INFO_FORMAT (out_info);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (filter), in_place);
  GST_DEBUG_OBJECT (self, "%s -> %s, %s",
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (in_info)),
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (out_info)),
      in_place ? "in place" : "copying");
  return TRUE;
}

/* Posts the calibration result and updates key-color; called without
 * locks. */
static void
finish_calibration (GstChromaKey *self, GstBuffer *buffer)
{
  Private *priv = self->priv;
  Calibration &cal = priv->calibration;
  double hue = hue_median (cal.hue_histogram);
  double saturation = histogram_median (cal.saturation_histogram, 0) / 255.0;
  double value = histogram_median (cal.value_histogram, 0) / 255.0;
  guint key = argb_from_hsv (hue, saturation, value);
  guint frames = cal.frames;
  cal.running = false;

  GST_OBJECT_LOCK (self);
  priv->settings.key_color = key;
  priv->settings.calibrate = false;
  priv->settings.key_generation++;
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "learned key 0x%08x (hue %.1f, s %.2f, v %.2f)", key,
      hue, saturation, value);
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstStructure *s = gst_structure_new ("chromakey", "key-color", G_TYPE_UINT,
      key, "hue", G_TYPE_DOUBLE, hue, "saturation", G_TYPE_DOUBLE, saturation,
      "value", G_TYPE_DOUBLE, value, "frames", G_TYPE_UINT, frames, "timestamp",
      G_TYPE_UINT64, pts, "stream-time", G_TYPE_UINT64,
      gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, pts),
      "running-time", G_TYPE_UINT64,
      gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts),
      nullptr);
  gst_element_post_message (
      GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_object_notify_by_pspec (G_OBJECT (self), key_color_pspec);
  g_object_notify_by_pspec (G_OBJECT (self), calibrate_pspec);
}

static GstFlowReturn
gst_chroma_key_process (
    GstChromaKey *self, GstVideoFrame *in_frame, GstVideoFrame *out_frame)
{
  Private *priv = self->priv;
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  int width = GST_VIDEO_FRAME_WIDTH (in_frame);
  int height = GST_VIDEO_FRAME_HEIGHT (in_frame);

  GST_OBJECT_LOCK (self);
  Settings s = priv->settings;
  GST_OBJECT_UNLOCK (self);

  if (!load_background_image (self, s.background))
    return GST_FLOW_ERROR;

  /* The input as packed RGB. */
  const uint8_t *in_data;
  int in_stride;
  if (priv->in_converter) {
    convert_into_mat (priv->in_converter, in_frame, priv->in_scratch);
    in_data = priv->in_scratch.data;
    in_stride = (int)priv->in_scratch.step;
  } else {
    in_data = (const uint8_t *)GST_VIDEO_FRAME_PLANE_DATA (in_frame, 0);
    in_stride = GST_VIDEO_FRAME_PLANE_STRIDE (in_frame, 0);
  }

  if (s.calibrate) {
    if (!priv->calibration.running)
      calibration_reset (priv->calibration);
    calibration_add (priv->calibration, s, in_data, in_stride, priv->in_layout,
        width, height);
    if (priv->calibration.frames >= s.calibrate_frames) {
      finish_calibration (self, in_frame->buffer);
      GST_OBJECT_LOCK (self);
      s = priv->settings;
      GST_OBJECT_UNLOCK (self);
    }
  } else {
    priv->calibration.running = false;
  }

  if (priv->tables_generation != s.key_generation) {
    build_tables (priv->tables, s);
    priv->tables_generation = s.key_generation;
  }

  FrameJob job;
  job.t = &priv->tables;
  job.in = in_data;
  job.in_stride = in_stride;
  job.in_layout = priv->in_layout;
  if (priv->out_converter) {
    job.out = priv->out_scratch.data;
    job.out_stride = (int)priv->out_scratch.step;
    job.out_layout = PackedLayout ();
    job.out_layout.has_alpha = priv->out_layout.has_alpha;
  } else {
    job.out = (uint8_t *)GST_VIDEO_FRAME_PLANE_DATA (out_frame, 0);
    job.out_stride = GST_VIDEO_FRAME_PLANE_STRIDE (out_frame, 0);
    job.out_layout = priv->out_layout;
  }
  job.width = width;
  job.height = height;
  job.background = background_video (self, width, height);
  if (!job.background)
    job.background = scaled_background_image (priv, width, height);
  if (job.background)
    job.fill = Fill::BACKGROUND;
  else if (priv->out_layout.has_alpha)
    job.fill = Fill::TRANSPARENT;
  else
    job.fill = Fill::COLOR;
  argb_split (s.background_color, job.fill_color);

  run_job (job, s.matte_blur, priv->matte, priv->key);

  if (priv->out_converter)
    convert_from_mat (priv->out_converter, priv->out_scratch, out_frame);

  /* Let background frames up to this frame's end through. */
  GstClockTime pts = GST_BUFFER_PTS (in_frame->buffer);
  GstClockTime running_time =
      gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts);
  if (GST_CLOCK_TIME_IS_VALID (running_time)) {
    if (GST_BUFFER_DURATION_IS_VALID (in_frame->buffer))
      running_time += GST_BUFFER_DURATION (in_frame->buffer);
    std::lock_guard<std::mutex> lock (priv->bg_lock);
    priv->main_running_time = running_time;
    priv->bg_cond.notify_all ();
  }
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_chroma_key_guarded_process (
    GstChromaKey *self, GstVideoFrame *in_frame, GstVideoFrame *out_frame)
{
  try {
    return gst_chroma_key_process (self, in_frame, out_frame);
  } catch (const cv::Exception &e) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Chroma keying failed."),
        ("OpenCV: %s", e.what ()));
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR (
        self, STREAM, FAILED, ("Chroma keying failed."), ("%s", e.what ()));
  } catch (...) {
    GST_ELEMENT_ERROR (
        self, STREAM, FAILED, ("Chroma keying failed."), ("unknown exception"));
  }
  return GST_FLOW_ERROR;
}

static GstFlowReturn
gst_chroma_key_transform_frame (
    GstVideoFilter *filter, GstVideoFrame *in_frame, GstVideoFrame *out_frame)
{
  return gst_chroma_key_guarded_process (
      GST_CHROMA_KEY (filter), in_frame, out_frame);
}

static GstFlowReturn
gst_chroma_key_transform_frame_ip (GstVideoFilter *filter, GstVideoFrame *frame)
{
  return gst_chroma_key_guarded_process (GST_CHROMA_KEY (filter), frame, frame);
}

static gboolean
gst_chroma_key_start (GstBaseTransform *trans)
{
  GstChromaKey *self = GST_CHROMA_KEY (trans);
  GST_OBJECT_LOCK (self);
  std::string background = self->priv->settings.background;
  GST_OBJECT_UNLOCK (self);
  try {
    return load_background_image (self, background);
  } catch (const cv::Exception &e) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not read background image \"%s\".", background.c_str ()),
        ("OpenCV: %s", e.what ()));
  }
  return FALSE;
}

static void
release_streaming_state (Private *priv)
{
  free_converters (priv);
  if (priv->bg_converter)
    gst_video_converter_free (priv->bg_converter);
  priv->bg_converter = nullptr;
  priv->bg_converted_sequence = 0;
  priv->bg_video.release ();
  priv->bg_image.release ();
  priv->bg_image_scaled.release ();
  priv->bg_image_path.clear ();
  priv->in_scratch.release ();
  priv->out_scratch.release ();
  priv->matte.release ();
  priv->key.release ();
  priv->calibration = Calibration ();
}

static gboolean
gst_chroma_key_stop (GstBaseTransform *trans)
{
  release_streaming_state (GST_CHROMA_KEY (trans)->priv);
  return TRUE;
}

static gboolean
gst_chroma_key_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  Private *priv = GST_CHROMA_KEY (trans)->priv;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS: {
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->main_eos = true;
      priv->bg_cond.notify_all ();
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->main_eos = false;
      priv->main_running_time = GST_CLOCK_TIME_NONE;
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static GstStateChangeReturn
gst_chroma_key_change_state (GstElement *element, GstStateChange transition)
{
  Private *priv = GST_CHROMA_KEY (element)->priv;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->bg_flushing = false;
      priv->main_eos = false;
      priv->main_running_time = GST_CLOCK_TIME_NONE;
      gst_segment_init (&priv->bg_segment, GST_FORMAT_TIME);
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      /* Unblock the background chain before its pad is deactivated. */
      std::lock_guard<std::mutex> lock (priv->bg_lock);
      priv->bg_flushing = true;
      priv->bg_cond.notify_all ();
      break;
    }
    default:
      break;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    std::lock_guard<std::mutex> lock (priv->bg_lock);
    gst_buffer_replace (&priv->bg_buffer, nullptr);
    priv->bg_have_info = false;
  }
  return ret;
}

/* ---- GObject ------------------------------------------------------------ */

static void
gst_chroma_key_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstChromaKey *self = GST_CHROMA_KEY (object);
  Settings &s = self->priv->settings;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_KEY_COLOR:
      s.key_color = g_value_get_uint (value);
      break;
    case PROP_HUE_TOLERANCE:
      s.hue_tolerance = g_value_get_double (value);
      break;
    case PROP_SATURATION_MIN:
      s.saturation_min = g_value_get_double (value);
      break;
    case PROP_VALUE_MIN:
      s.value_min = g_value_get_double (value);
      break;
    case PROP_FEATHER:
      s.feather = g_value_get_double (value);
      break;
    case PROP_MATTE_BLUR:
      s.matte_blur = g_value_get_int (value);
      break;
    case PROP_SPILL:
      s.spill = g_value_get_double (value);
      break;
    case PROP_BACKGROUND: {
      const gchar *path = g_value_get_string (value);
      s.background = path ? path : "";
      break;
    }
    case PROP_BACKGROUND_COLOR:
      s.background_color = g_value_get_uint (value);
      break;
    case PROP_CALIBRATE:
      s.calibrate = g_value_get_boolean (value);
      break;
    case PROP_CALIBRATE_X:
      s.calibrate_x = g_value_get_double (value);
      break;
    case PROP_CALIBRATE_Y:
      s.calibrate_y = g_value_get_double (value);
      break;
    case PROP_CALIBRATE_WIDTH:
      s.calibrate_width = g_value_get_double (value);
      break;
    case PROP_CALIBRATE_HEIGHT:
      s.calibrate_height = g_value_get_double (value);
      break;
    case PROP_CALIBRATE_FRAMES:
      s.calibrate_frames = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  s.key_generation++;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_chroma_key_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstChromaKey *self = GST_CHROMA_KEY (object);
  const Settings &s = self->priv->settings;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_KEY_COLOR:
      g_value_set_uint (value, s.key_color);
      break;
    case PROP_HUE_TOLERANCE:
      g_value_set_double (value, s.hue_tolerance);
      break;
    case PROP_SATURATION_MIN:
      g_value_set_double (value, s.saturation_min);
      break;
    case PROP_VALUE_MIN:
      g_value_set_double (value, s.value_min);
      break;
    case PROP_FEATHER:
      g_value_set_double (value, s.feather);
      break;
    case PROP_MATTE_BLUR:
      g_value_set_int (value, s.matte_blur);
      break;
    case PROP_SPILL:
      g_value_set_double (value, s.spill);
      break;
    case PROP_BACKGROUND:
      g_value_set_string (
          value, s.background.empty () ? nullptr : s.background.c_str ());
      break;
    case PROP_BACKGROUND_COLOR:
      g_value_set_uint (value, s.background_color);
      break;
    case PROP_CALIBRATE:
      g_value_set_boolean (value, s.calibrate);
      break;
    case PROP_CALIBRATE_X:
      g_value_set_double (value, s.calibrate_x);
      break;
    case PROP_CALIBRATE_Y:
      g_value_set_double (value, s.calibrate_y);
      break;
    case PROP_CALIBRATE_WIDTH:
      g_value_set_double (value, s.calibrate_width);
      break;
    case PROP_CALIBRATE_HEIGHT:
      g_value_set_double (value, s.calibrate_height);
      break;
    case PROP_CALIBRATE_FRAMES:
      g_value_set_uint (value, s.calibrate_frames);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_chroma_key_finalize (GObject *object)
{
  GstChromaKey *self = GST_CHROMA_KEY (object);
  release_streaming_state (self->priv);
  gst_buffer_replace (&self->priv->bg_buffer, nullptr);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_chroma_key_init (GstChromaKey *self)
{
  self->priv = new Private ();
  Private *priv = self->priv;
  gst_video_info_init (&priv->bg_info);
  gst_video_info_init (&priv->bg_pending_info);
  gst_video_info_init (&priv->bg_converter_in);
  gst_segment_init (&priv->bg_segment, GST_FORMAT_TIME);
}

static GstPad *
gst_chroma_key_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *caps)
{
  GstChromaKey *self = GST_CHROMA_KEY (element);
  Private *priv = self->priv;
  GST_OBJECT_LOCK (self);
  if (priv->bg_pad) {
    GST_OBJECT_UNLOCK (self);
    GST_WARNING_OBJECT (self, "background_sink already requested");
    return nullptr;
  }
  GstPad *pad = gst_pad_new_from_template (templ, "background_sink");
  priv->bg_pad = pad;
  bool streaming = GST_STATE (element) >= GST_STATE_PAUSED;
  GST_OBJECT_UNLOCK (self);

  gst_pad_set_chain_function (pad, gst_chroma_key_background_chain);
  gst_pad_set_event_function (pad, gst_chroma_key_background_event);
  {
    std::lock_guard<std::mutex> lock (priv->bg_lock);
    priv->bg_have_info = false;
    if (streaming)
      priv->bg_flushing = false;
    gst_segment_init (&priv->bg_segment, GST_FORMAT_TIME);
  }
  gst_element_add_pad (element, pad);
  return pad;
}

static void
gst_chroma_key_release_pad (GstElement *element, GstPad *pad)
{
  GstChromaKey *self = GST_CHROMA_KEY (element);
  Private *priv = self->priv;
  GST_OBJECT_LOCK (self);
  if (pad != priv->bg_pad) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  priv->bg_pad = nullptr;
  GST_OBJECT_UNLOCK (self);
  {
    /* Unblock the chain function before the pad is deactivated; the last
     * background frame goes with the pad. */
    std::lock_guard<std::mutex> lock (priv->bg_lock);
    priv->bg_flushing = true;
    priv->bg_cond.notify_all ();
  }
  gst_element_remove_pad (element, pad);
  std::lock_guard<std::mutex> lock (priv->bg_lock);
  gst_buffer_replace (&priv->bg_buffer, nullptr);
  priv->bg_have_info = false;
}

#define MUTABLE_PARAM                                                          \
  ((GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS                    \
                 | GST_PARAM_MUTABLE_PLAYING))

static void
gst_chroma_key_class_init (GstChromaKeyClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = gst_chroma_key_set_property;
  gobject_class->get_property = gst_chroma_key_get_property;
  gobject_class->finalize = gst_chroma_key_finalize;

  key_color_pspec = g_param_spec_uint ("key-color", "Key colour",
      "Colour to key out, as 0xAARRGGBB (alpha ignored); set it to the "
      "screen's real colour (or use calibrate): key strength is measured "
      "against its chroma",
      0, G_MAXUINT32, DEFAULT_KEY_COLOR, MUTABLE_PARAM);
  g_object_class_install_property (
      gobject_class, PROP_KEY_COLOR, key_color_pspec);
  g_object_class_install_property (gobject_class, PROP_HUE_TOLERANCE,
      g_param_spec_double ("hue-tolerance", "Hue tolerance",
          "Degrees of hue either side of the key's hue that count as the key; "
          "beyond, the key strength fades out over 30 more degrees",
          0.0, 180.0, DEFAULT_HUE_TOLERANCE, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_SATURATION_MIN,
      g_param_spec_double ("saturation-min", "Minimum saturation",
          "Pixels less saturated than this (0..1) are never keyed", 0.0, 1.0,
          DEFAULT_SATURATION_MIN, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_VALUE_MIN,
      g_param_spec_double ("value-min", "Minimum value",
          "Pixels darker than this HSV value (0..1) are never keyed", 0.0, 1.0,
          DEFAULT_VALUE_MIN, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_FEATHER,
      g_param_spec_double ("feather", "Feather",
          "Soft edge: width of the alpha ramp in key-strength units (1.0 = "
          "the key colour's strength); 0 gives a hard edge",
          0.0, 1.0, DEFAULT_FEATHER, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_MATTE_BLUR,
      g_param_spec_int ("matte-blur", "Matte blur",
          "Box-blur the matte by this many pixels (0 = off)", 0, 32,
          DEFAULT_MATTE_BLUR, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_SPILL,
      g_param_spec_double ("spill", "Spill suppression",
          "How much of the key colour's cast to remove from kept pixels "
          "(0 = none, 1 = all)",
          0.0, 1.0, DEFAULT_SPILL, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_BACKGROUND,
      g_param_spec_string ("background", "Background image file",
          "Path of an image file (PNG, JPEG, ...) shown in the keyed area, "
          "scaled to the frame (a file path, not a colour: see "
          "background-color); NULL for transparency or background-color",
          DEFAULT_BACKGROUND, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_BACKGROUND_COLOR,
      g_param_spec_uint ("background-color", "Background colour",
          "Colour of the keyed area, as 0xAARRGGBB, when there is no "
          "background and the output format has no alpha",
          0, G_MAXUINT32, DEFAULT_BACKGROUND_COLOR, MUTABLE_PARAM));
  calibrate_pspec = g_param_spec_boolean ("calibrate", "Calibrate",
      "Learn key-color from the calibration rectangle over the next "
      "calibrate-frames frames; resets to FALSE when done",
      DEFAULT_CALIBRATE, MUTABLE_PARAM);
  g_object_class_install_property (
      gobject_class, PROP_CALIBRATE, calibrate_pspec);
  g_object_class_install_property (gobject_class, PROP_CALIBRATE_X,
      g_param_spec_double ("calibrate-x", "Calibration x",
          "Left edge of the calibration rectangle, fraction of the width", 0.0,
          1.0, DEFAULT_CALIBRATE_X, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_CALIBRATE_Y,
      g_param_spec_double ("calibrate-y", "Calibration y",
          "Top edge of the calibration rectangle, fraction of the height", 0.0,
          1.0, DEFAULT_CALIBRATE_Y, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_CALIBRATE_WIDTH,
      g_param_spec_double ("calibrate-width", "Calibration width",
          "Width of the calibration rectangle, fraction of the width", 0.0, 1.0,
          DEFAULT_CALIBRATE_WIDTH, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_CALIBRATE_HEIGHT,
      g_param_spec_double ("calibrate-height", "Calibration height",
          "Height of the calibration rectangle, fraction of the height", 0.0,
          1.0, DEFAULT_CALIBRATE_HEIGHT, MUTABLE_PARAM));
  g_object_class_install_property (gobject_class, PROP_CALIBRATE_FRAMES,
      g_param_spec_uint ("calibrate-frames", "Calibration frames",
          "How many frames calibration measures", 1, 1000,
          DEFAULT_CALIBRATE_FRAMES, MUTABLE_PARAM));

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &background_template, GST_TYPE_PAD);
  gst_element_class_set_static_metadata (element_class, "Chroma key",
      "Filter/Effect/Video",
      "Replaces a colour key by an image, a video or transparency, with soft "
      "edges, spill suppression and key calibration",
      "gst-rooms");

  element_class->change_state = gst_chroma_key_change_state;
  element_class->request_new_pad = gst_chroma_key_request_new_pad;
  element_class->release_pad = gst_chroma_key_release_pad;
  trans_class->transform_caps = gst_chroma_key_transform_caps;
  trans_class->fixate_caps = gst_chroma_key_fixate_caps;
  trans_class->start = gst_chroma_key_start;
  trans_class->stop = gst_chroma_key_stop;
  trans_class->sink_event = gst_chroma_key_sink_event;
  filter_class->set_info = gst_chroma_key_set_info;
  filter_class->transform_frame = gst_chroma_key_transform_frame;
  filter_class->transform_frame_ip = gst_chroma_key_transform_frame_ip;

  GST_DEBUG_CATEGORY_INIT (
      gst_chroma_key_debug, "chromakey", 0, "chromakey: replace a colour key");
}
