/* gst-rooms: faceoverlayfilter — an image (or a blur) on every face.
 *
 * Locks: the object lock guards the settings (properties); priv->lock guards
 * the tracked faces and the loaded overlay image.  The two are never held
 * together.  Neither is held while posting a message.  The frame hand-off
 * (analysisworker.h) has its own lock, taken last.
 */

/**
 * SECTION:element-faceoverlayfilter
 * @title: faceoverlayfilter
 *
 * Finds faces with an OpenCV Haar cascade and draws `image` (PNG or JPEG,
 * alpha respected) over each of them, or blurs them with `mode=blur`.
 *
 * Detection runs on a worker thread on a grey copy of the frame, downscaled
 * to `detect-width`, at most every `interval` milliseconds of running time;
 * frames are never held back by it (while the worker is busy, new frames
 * pass with the last known faces, and the newest one waits for the worker).
 * At EOS the element waits for the detection in flight, so its message is
 * posted before EOS.
 * The whole frame is searched at least every `full-scan-interval` ms, when no
 * face is known, on a scene cut (a large change of the whole picture from one
 * frame to the next) and, in the same search, when a known face is not found
 * around its place; the other searches only look around the known faces, at
 * nearby sizes and on the full-resolution frame (a small crop, so it costs a
 * fraction, and it keeps faces too small for the downscaled copy).  With
 * `track` (the default) such a search follows the known faces on every
 * frame between detections, so the faces posted and drawn are those of the
 * frame itself, not of the last detection.  Each face found is matched by
 * overlap with a tracked one and smoothed, so the overlay does not jitter; a
 * face is no longer shown after it is missing from two searches in a row,
 * and its place is still searched for half a second: found there again, it
 * gets its id back.
 *
 * The image is placed relative to each face: its left edge at
 * `face.x + offset-x * face.width`, its top at `face.y + offset-y *
 * face.height`, its size `width * face.width` by `height * face.height`.
 * Kurento's hat values are offset-x=-0.35 offset-y=-1.2 width=1.6 height=1.6.
 * Without an image (and in `overlay` mode) the element only detects and
 * passes frames through untouched.
 *
 * ## Messages
 *
 * The element posts an element message named `faceoverlayfilter` whenever
 * the set of faces changes (a face appears or disappears, or one moves or
 * grows by more than a tenth of its size).  Fields:
 *
 * - `faces` (#GstValueArray of #GstStructure named `face`): each face with
 *   `id` (guint, stable while the face is tracked), `x`, `y`, `width`,
 *   `height` (gint, frame pixels).  Empty when the last face has gone.
 * - `timestamp` (guint64): the timestamp of the frame the faces were found in.
 * - `stream-time` (guint64): its stream time.
 * - `running-time` (guint64): its running time.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 \
 *   filesrc location=/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png \
 *   ! pngdec ! videoconvert ! imagefreeze num-buffers=20 \
 *   ! video/x-raw,framerate=10/1 \
 *   ! faceoverlayfilter \
 *     image=/usr/share/doc/opencv-doc/examples/data/opencv-logo.png \
 *     offset-x=-0.35 offset-y=-1.2 width=1.6 height=1.6 \
 *   ! videoconvert ! pngenc snapshot=false \
 *   ! multifilesink location=/tmp/hat-%02d.png sync=true
 * ]| Puts the OpenCV logo as a hat on Lena (Kurento's hat values); the first
 * frame goes out before the first detection, the later ones wear the hat.
 * |[
 * gst-launch-1.0 -m \
 *   filesrc location=/usr/share/doc/opencv-doc/examples/data/Megamind.avi \
 *   ! decodebin ! videoconvert ! faceoverlayfilter mode=blur ! videoconvert \
 *   ! fakesink sync=true
 * ]| Blurs the faces in a clip and prints the face messages.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstfaceoverlayfilter.h"

#include "analysisworker.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <glib/gstdio.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_face_overlay_filter_debug);
#define GST_CAT_DEFAULT gst_face_overlay_filter_debug

#define DEFAULT_CASCADE                                                        \
  "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define DEFAULT_IMAGE NULL
#define DEFAULT_OFFSET_X 0.0
#define DEFAULT_OFFSET_Y 0.0
#define DEFAULT_WIDTH 1.0
#define DEFAULT_HEIGHT 1.0
#define DEFAULT_MODE GST_FACE_OVERLAY_FILTER_MODE_OVERLAY
#define DEFAULT_INTERVAL 100
#define DEFAULT_DETECT_WIDTH 320
#define DEFAULT_MIN_NEIGHBORS 3
#define DEFAULT_SCALE_FACTOR 1.15
#define DEFAULT_FULL_SCAN_INTERVAL 300
#define DEFAULT_TRACK TRUE

enum {
  PROP_0,
  PROP_CASCADE,
  PROP_IMAGE,
  PROP_OFFSET_X,
  PROP_OFFSET_Y,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_MODE,
  PROP_INTERVAL,
  PROP_DETECT_WIDTH,
  PROP_MIN_NEIGHBORS,
  PROP_SCALE_FACTOR,
  PROP_FULL_SCAN_INTERVAL,
  PROP_TRACK,
};

/* Smoothing: how far a tracked face moves towards a new detection.  Small
 * moves are mostly detector jitter, so they are damped hard; a large move is
 * real motion and is followed quickly. */
#define SMOOTH_JITTER 0.35
#define SMOOTH_MOTION 0.8
#define JITTER_IOU 0.6
/* A detection belongs to a tracked face when they overlap at least this. */
#define MATCH_IOU 0.15
/* A face is no longer shown when missing from this many searches in a row;
 * its place is still searched for LOST_SEARCH of running time (a head turned
 * away for a moment, a hand in front), and a face found there again gets its
 * id back. */
#define MAX_MISSED 2
#define LOST_SEARCH (500 * GST_MSECOND)
/* The search around a face covers twice its width and height, for faces
 * from LOCAL_MIN to LOCAL_MAX times its size; from one frame to the next
 * (tracking) a face changes less: TRACK_MIN to TRACK_MAX.  A lost face is
 * searched for from LOST_MIN (a head turning away shows a smaller part). */
#define LOCAL_MIN 0.6
#define LOCAL_MAX 1.6
#define TRACK_MIN 0.7
#define TRACK_MAX 1.45
#define LOST_MIN 0.5
/* A face moving or resizing by more than this fraction of its size is news. */
#define MOVE_FRACTION 0.1
/* A scene cut: the mean grey level difference between two frames' thumbnails
 * (THUMB_WIDTH x THUMB_HEIGHT) is more than this.  Motion within a scene
 * stays under a few levels; a cut or a fade from black is tens. */
#define CUT_LEVEL 20.0
#define THUMB_WIDTH 64
#define THUMB_HEIGHT 48
/* Pre-scaled overlays kept, one per face size. */
#define MAX_CACHED_OVERLAYS 16

namespace {

struct Settings {
  std::string cascade;
  std::string image;
  double offset_x = DEFAULT_OFFSET_X;
  double offset_y = DEFAULT_OFFSET_Y;
  double width = DEFAULT_WIDTH;
  double height = DEFAULT_HEIGHT;
  GstFaceOverlayFilterMode mode = DEFAULT_MODE;
  guint interval_ms = DEFAULT_INTERVAL;
  gint detect_width = DEFAULT_DETECT_WIDTH;
  gint min_neighbors = DEFAULT_MIN_NEIGHBORS;
  double scale_factor = DEFAULT_SCALE_FACTOR;
  guint full_scan_ms = DEFAULT_FULL_SCAN_INTERVAL;
  bool track = DEFAULT_TRACK;
};

struct TrackedFace {
  guint id = 0;
  cv::Rect2d smooth; /* smoothed position, frame pixels */
  cv::Rect rect;     /* what is drawn and posted: smooth, rounded */
  int missed = 0;
  GstClockTime lost_since = GST_CLOCK_TIME_NONE; /* when it was hidden */
};

/* One frame handed to the worker. */
struct DetectJob {
  cv::Mat grey;       /* full resolution, owned */
  bool due = false;   /* a detection is due (interval), not only tracking */
  bool track = false; /* the frames are followed one by one */
  gint detect_width = 0;
  gint min_neighbors = 0;
  double scale_factor = 0;
  GstClockTime full_scan_interval = 0;
  guint caps_generation = 0;
  GstClockTime timestamp = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
};

/* The overlay image scaled to one size and converted to the frame format:
 * for each component an 8-bit plane at that component's subsampling and the
 * matching alpha. */
struct PreparedOverlay {
  cv::Size size;
  cv::Mat values[GST_VIDEO_MAX_COMPONENTS];
  cv::Mat alpha[GST_VIDEO_MAX_COMPONENTS];
};

} // namespace

struct FaceOverlayFilterPrivate {
  Settings settings; /* object lock */

  std::mutex lock;
  std::vector<TrackedFace> faces;        /* lock */
  std::vector<TrackedFace> posted_faces; /* lock: as last posted */
  std::vector<TrackedFace> lost_faces;   /* lock: hidden, still searched */
  guint next_face_id = 1;                /* lock */
  guint caps_generation = 0;             /* lock */
  std::shared_ptr<const cv::Mat> image;  /* lock: BGRA, NULL if none */
  guint image_generation = 0;            /* lock */
  std::string image_error;               /* lock: why `image` did not load */
  bool started = false;                  /* lock */

  /* Worker thread only (set in start before the worker runs). */
  cv::CascadeClassifier classifier;
  GstClockTime last_full_scan = GST_CLOCK_TIME_NONE;
  cv::Mat last_thumb; /* the previous frame, tiny, to see scene cuts */
  guint last_caps_generation = 0;

  /* Streaming thread only. */
  GstClockTime last_detection = GST_CLOCK_TIME_NONE;
  std::vector<PreparedOverlay> overlays; /* most recently used last */
  guint overlays_image_generation = 0;

  /* Runs the detections; declared last, so destroyed (stopped) first. */
  AnalysisWorker<DetectJob> worker;
};

#define PRIV(self) ((self)->priv)

struct _GstFaceOverlayFilterClass {
  GstVideoFilterClass parent_class;
};

#define gst_face_overlay_filter_parent_class parent_class
G_DEFINE_TYPE (
    GstFaceOverlayFilter, gst_face_overlay_filter, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (faceoverlayfilter, "faceoverlayfilter",
    GST_RANK_NONE, GST_TYPE_FACE_OVERLAY_FILTER);

/* 8-bit formats whose components the generic code below handles. */
#define VIDEO_FORMATS                                                          \
  "{ I420, YV12, Y42B, Y444, NV12, NV21, A420, RGBA, BGRA, ARGB, ABGR, "       \
  "RGBx, BGRx, xRGB, xBGR, RGB, BGR, GRAY8 }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

GType
gst_face_overlay_filter_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_FACE_OVERLAY_FILTER_MODE_OVERLAY, "Draw the image over each face",
          "overlay"},
      {GST_FACE_OVERLAY_FILTER_MODE_BLUR, "Blur each face (privacy)", "blur"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstFaceOverlayFilterMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- Overlay image ---- */

/* Loads @path as an 8-bit BGRA image; on failure returns NULL and says why. */
static std::shared_ptr<const cv::Mat>
load_overlay_image (const std::string &path, std::string &error)
{
  if (!g_file_test (path.c_str (), G_FILE_TEST_EXISTS)) {
    error = "no such file";
    return nullptr;
  }
  if (g_access (path.c_str (), R_OK) != 0) {
    error = std::string ("cannot read it: ") + g_strerror (errno);
    return nullptr;
  }
  cv::Mat loaded;
  try {
    loaded = cv::imread (path, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception &e) {
    error = std::string ("OpenCV could not decode it: ") + e.what ();
    return nullptr;
  }
  if (loaded.empty ()) {
    error = "not an image OpenCV can decode (PNG or JPEG expected)";
    return nullptr;
  }
  try {
    if (loaded.depth () == CV_16U)
      loaded.convertTo (loaded, CV_8U, 1.0 / 257.0);
    else if (loaded.depth () != CV_8U)
      loaded.convertTo (loaded, CV_8U);
    auto bgra = std::make_shared<cv::Mat> ();
    switch (loaded.channels ()) {
      case 1:
        cv::cvtColor (loaded, *bgra, cv::COLOR_GRAY2BGRA);
        break;
      case 3:
        cv::cvtColor (loaded, *bgra, cv::COLOR_BGR2BGRA);
        break;
      case 4:
        *bgra = loaded;
        break;
      default:
        error = "unsupported number of channels";
        return nullptr;
    }
    return bgra;
  } catch (const cv::Exception &e) {
    error = std::string ("OpenCV could not convert it: ") + e.what ();
    return nullptr;
  }
}

/* Sets the image to @path (empty: none).  Returns FALSE with @error set when
 * the file cannot be used; the element then has no image. */
static gboolean
gst_face_overlay_filter_update_image (
    GstFaceOverlayFilter *self, const std::string &path, std::string &error)
{
  std::shared_ptr<const cv::Mat> image;
  if (!path.empty ()) {
    image = load_overlay_image (path, error);
    if (!image)
      error = "Could not load image \"" + path + "\": " + error;
  }
  std::lock_guard<std::mutex> guard (PRIV (self)->lock);
  PRIV (self)->image = image;
  PRIV (self)->image_generation++;
  PRIV (self)->image_error = image || path.empty () ? "" : error;
  return image || path.empty ();
}

/* Converts a BGRA overlay of one subsampled size into component @comp of the
 * frame format. */
static void
convert_component (const cv::Mat &bgra, const GstVideoInfo *info, int comp,
    cv::Mat &values, cv::Mat &alpha)
{
  const GstVideoFormatInfo *finfo = info->finfo;
  values.create (bgra.size (), CV_8UC1);
  alpha.create (bgra.size (), CV_8UC1);
  cv::extractChannel (bgra, alpha, 3);

  if (comp == GST_VIDEO_COMP_A) {
    alpha.copyTo (values);
    return;
  }
  if (GST_VIDEO_FORMAT_INFO_IS_RGB (finfo)) {
    static const int bgra_channel[] = {2, 1, 0}; /* R, G, B */
    cv::extractChannel (bgra, values, bgra_channel[comp]);
    return;
  }

  /* YUV or grey: apply the stream's matrix and range. */
  gdouble kr = 0.299, kb = 0.114;
  if (!gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &kr, &kb)) {
    kr = 0.299;
    kb = 0.114;
  }
  gint offset[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gst_video_color_range_offsets (info->colorimetry.range, finfo, offset, scale);
  for (int y = 0; y < bgra.rows; y++) {
    const guint8 *src = bgra.ptr<guint8> (y);
    guint8 *dst = values.ptr<guint8> (y);
    for (int x = 0; x < bgra.cols; x++) {
      double b = src[4 * x] / 255.0, g = src[4 * x + 1] / 255.0,
             r = src[4 * x + 2] / 255.0;
      double luma = kr * r + (1.0 - kr - kb) * g + kb * b;
      double v;
      if (comp == 0)
        v = offset[0] + luma * scale[0];
      else if (comp == 1)
        v = offset[1] + (b - luma) / (2.0 * (1.0 - kb)) * scale[1];
      else
        v = offset[2] + (r - luma) / (2.0 * (1.0 - kr)) * scale[2];
      dst[x] = cv::saturate_cast<guint8> (v);
    }
  }
}

static PreparedOverlay
prepare_overlay (const cv::Mat &bgra, const GstVideoInfo *info, cv::Size size)
{
  PreparedOverlay prepared;
  prepared.size = size;
  const GstVideoFormatInfo *finfo = info->finfo;
  for (guint comp = 0; comp < GST_VIDEO_INFO_N_COMPONENTS (info); comp++) {
    int w = GST_VIDEO_SUB_SCALE (finfo->w_sub[comp], size.width);
    int h = GST_VIDEO_SUB_SCALE (finfo->h_sub[comp], size.height);
    cv::Mat scaled;
    int interpolation =
        (w < bgra.cols || h < bgra.rows) ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize (bgra, scaled, cv::Size (w, h), 0, 0, interpolation);
    convert_component (
        scaled, info, comp, prepared.values[comp], prepared.alpha[comp]);
  }
  return prepared;
}

/* The pre-scaled overlay of @size, made once and kept while it is used. */
static const PreparedOverlay &
get_prepared_overlay (FaceOverlayFilterPrivate *priv, const cv::Mat &bgra,
    const GstVideoInfo *info, cv::Size size)
{
  for (size_t i = 0; i < priv->overlays.size (); i++) {
    if (priv->overlays[i].size == size) {
      std::rotate (priv->overlays.begin () + i, priv->overlays.begin () + i + 1,
          priv->overlays.end ());
      return priv->overlays.back ();
    }
  }
  if (priv->overlays.size () >= MAX_CACHED_OVERLAYS)
    priv->overlays.erase (priv->overlays.begin ());
  priv->overlays.push_back (prepare_overlay (bgra, info, size));
  return priv->overlays.back ();
}

/* Blends one component of @prepared onto the frame with its top left corner
 * at (@x, @y) in frame pixels, clipped at the frame edges. */
static void
blend_component (GstVideoFrame *frame, int comp,
    const PreparedOverlay &prepared, int x, int y)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const cv::Mat &values = prepared.values[comp];
  const cv::Mat &alpha = prepared.alpha[comp];
  int cx = x >> finfo->w_sub[comp];
  int cy = y >> finfo->h_sub[comp];
  int comp_w = GST_VIDEO_FRAME_COMP_WIDTH (frame, comp);
  int comp_h = GST_VIDEO_FRAME_COMP_HEIGHT (frame, comp);
  int x0 = std::max (0, -cx), x1 = std::min (values.cols, comp_w - cx);
  int y0 = std::max (0, -cy), y1 = std::min (values.rows, comp_h - cy);
  if (x0 >= x1 || y0 >= y1)
    return;

  guint8 *data = (guint8 *)GST_VIDEO_FRAME_COMP_DATA (frame, comp);
  int stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, comp);
  int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, comp);
  bool is_alpha = comp == GST_VIDEO_COMP_A;
  for (int oy = y0; oy < y1; oy++) {
    const guint8 *v = values.ptr<guint8> (oy);
    const guint8 *a = alpha.ptr<guint8> (oy);
    guint8 *dst = data + (cy + oy) * stride + (cx + x0) * pstride;
    for (int ox = x0; ox < x1; ox++, dst += pstride) {
      unsigned int av = a[ox];
      if (av == 0)
        continue;
      if (is_alpha) /* "over": the result is at least as opaque as both */
        *dst = (guint8)(av + (*dst * (255 - av) + 127) / 255);
      else
        *dst = (guint8)((v[ox] * av + *dst * (255 - av) + 127) / 255);
    }
  }
}

/* ---- Drawing ---- */

static cv::Rect
overlay_rect (const cv::Rect &face, const Settings &s, bool even)
{
  int x = (int)std::floor (face.x + s.offset_x * face.width);
  int y = (int)std::floor (face.y + s.offset_y * face.height);
  int w = (int)std::lround (s.width * face.width);
  int h = (int)std::lround (s.height * face.height);
  if (even) { /* keep subsampled chroma aligned with luma */
    x &= ~1;
    y &= ~1;
  }
  return cv::Rect (x, y, w, h);
}

static void
draw_overlays (FaceOverlayFilterPrivate *priv, GstVideoFrame *frame,
    const std::vector<cv::Rect> &faces, const cv::Mat &bgra,
    const Settings &settings)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  bool subsampled = false;
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++)
    subsampled |= finfo->w_sub[c] || finfo->h_sub[c];

  for (const cv::Rect &face : faces) {
    cv::Rect r = overlay_rect (face, settings, subsampled);
    if (r.width < 1 || r.height < 1)
      continue;
    /* Entirely outside: nothing to scale. */
    if (r.x >= frame->info.width || r.y >= frame->info.height
        || r.x + r.width <= 0 || r.y + r.height <= 0)
      continue;
    const PreparedOverlay &prepared =
        get_prepared_overlay (priv, bgra, &frame->info, r.size ());
    for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++)
      blend_component (frame, c, prepared, r.x, r.y);
  }
}

static void
blur_faces (GstVideoFrame *frame, const std::vector<cv::Rect> &faces)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  for (guint plane = 0; plane < GST_VIDEO_FRAME_N_PLANES (frame); plane++) {
    /* The first component stored in this plane gives its geometry. */
    int comp = -1;
    for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++) {
      if (finfo->plane[c] == plane) {
        comp = (int)c;
        break;
      }
    }
    if (comp < 0)
      continue;
    int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, comp);
    int w = GST_VIDEO_FRAME_COMP_WIDTH (frame, comp);
    int h = GST_VIDEO_FRAME_COMP_HEIGHT (frame, comp);
    cv::Mat mat (h, w, CV_8UC (pstride),
        GST_VIDEO_FRAME_PLANE_DATA (frame, plane),
        GST_VIDEO_FRAME_PLANE_STRIDE (frame, plane));
    int ws = finfo->w_sub[comp], hs = finfo->h_sub[comp];
    for (const cv::Rect &face : faces) {
      cv::Rect r (face.x >> ws, face.y >> hs,
          GST_VIDEO_SUB_SCALE (ws, face.width),
          GST_VIDEO_SUB_SCALE (hs, face.height));
      r &= cv::Rect (0, 0, w, h);
      if (r.width < 2 || r.height < 2)
        continue;
      cv::Mat roi = mat (r);
      /* Two box passes approximate a Gaussian; a kernel of a quarter of the
       * face leaves nothing recognisable.  BORDER_ISOLATED keeps the pixels
       * around the face out of it. */
      int k = std::max (3, std::min (r.width, r.height) / 4) | 1;
      for (int pass = 0; pass < 2; pass++)
        cv::blur (roi, roi, cv::Size (k, k), cv::Point (-1, -1),
            cv::BORDER_REPLICATE | cv::BORDER_ISOLATED);
    }
  }
}

/* A grey full-resolution copy of @frame for the detector. */
static cv::Mat
grey_copy (GstVideoFrame *frame)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  cv::Mat grey;
  if (!GST_VIDEO_FORMAT_INFO_IS_RGB (finfo)) {
    /* The luma component is the grey image. */
    cv::Mat luma (h, w, CV_8UC (GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0)),
        GST_VIDEO_FRAME_COMP_DATA (frame, 0),
        GST_VIDEO_FRAME_COMP_STRIDE (frame, 0));
    if (luma.channels () == 1)
      luma.copyTo (grey);
    else
      cv::extractChannel (luma, grey, 0);
    return grey;
  }

  int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  int r_off = finfo->poffset[GST_VIDEO_COMP_R];
  int b_off = finfo->poffset[GST_VIDEO_COMP_B];
  cv::Mat packed (h, w, CV_8UC (pstride), GST_VIDEO_FRAME_PLANE_DATA (frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0));
  if (pstride == 3)
    cv::cvtColor (
        packed, grey, r_off == 0 ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  else if (r_off == 0 || b_off == 0) /* RGBA, RGBx, BGRA, BGRx */
    cv::cvtColor (
        packed, grey, r_off == 0 ? cv::COLOR_RGBA2GRAY : cv::COLOR_BGRA2GRAY);
  else { /* ARGB, xRGB, ABGR, xBGR: drop the leading byte first */
    cv::Mat colour (h, w, CV_8UC3);
    static const int from_to[] = {1, 0, 2, 1, 3, 2};
    cv::mixChannels (&packed, 1, &colour, 1, from_to, 3);
    cv::cvtColor (
        colour, grey, r_off == 1 ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  }
  return grey;
}

/* ---- Tracking and messages (worker thread, under priv->lock) ---- */

static double
iou (const cv::Rect2d &a, const cv::Rect2d &b)
{
  double inter = (a & b).area ();
  double uni = a.area () + b.area () - inter;
  return uni > 0 ? inter / uni : 0.0;
}

static cv::Rect
round_rect (const cv::Rect2d &r)
{
  return cv::Rect ((int)std::lround (r.x), (int)std::lround (r.y),
      (int)std::lround (r.width), (int)std::lround (r.height));
}

/* Folds one search's faces (of the frame at @running_time) into the tracked
 * ones. */
static void
update_tracks (FaceOverlayFilterPrivate *priv,
    const std::vector<cv::Rect2d> &detections, GstClockTime running_time)
{
  /* The shown faces first, then the lost ones. */
  size_t shown = priv->faces.size ();
  std::vector<TrackedFace> tracks = std::move (priv->faces);
  tracks.insert (
      tracks.end (), priv->lost_faces.begin (), priv->lost_faces.end ());
  priv->lost_faces.clear ();
  std::vector<bool> used (detections.size (), false);
  std::vector<bool> matched (tracks.size (), false);

  /* Greedy matching, best overlap first. */
  struct Pair {
    double overlap;
    size_t track, detection;
  };
  std::vector<Pair> pairs;
  for (size_t t = 0; t < tracks.size (); t++)
    for (size_t d = 0; d < detections.size (); d++) {
      double o = iou (tracks[t].smooth, detections[d]);
      if (o >= MATCH_IOU)
        pairs.push_back ({o, t, d});
    }
  std::sort (pairs.begin (), pairs.end (),
      [] (const Pair &a, const Pair &b) { return a.overlap > b.overlap; });
  for (const Pair &p : pairs) {
    if (matched[p.track] || used[p.detection])
      continue;
    matched[p.track] = used[p.detection] = true;
    TrackedFace &face = tracks[p.track];
    const cv::Rect2d &d = detections[p.detection];
    /* A lost face found again starts afresh from where it is now. */
    double k = p.track >= shown          ? 1.0
               : p.overlap >= JITTER_IOU ? SMOOTH_JITTER
                                         : SMOOTH_MOTION;
    face.smooth = cv::Rect2d (face.smooth.x + k * (d.x - face.smooth.x),
        face.smooth.y + k * (d.y - face.smooth.y),
        face.smooth.width + k * (d.width - face.smooth.width),
        face.smooth.height + k * (d.height - face.smooth.height));
    face.rect = round_rect (face.smooth);
    face.missed = 0;
    face.lost_since = GST_CLOCK_TIME_NONE;
  }

  std::vector<TrackedFace> kept;
  for (size_t t = 0; t < tracks.size (); t++) {
    TrackedFace &face = tracks[t];
    if (matched[t]) {
      kept.push_back (face);
    } else if (t < shown && ++face.missed < MAX_MISSED) {
      kept.push_back (face);
    } else if (t < shown) {
      face.lost_since = running_time;
      priv->lost_faces.push_back (face);
    } else if (GST_CLOCK_TIME_IS_VALID (running_time)
               && GST_CLOCK_TIME_IS_VALID (face.lost_since)
               && running_time >= face.lost_since
               && running_time - face.lost_since < LOST_SEARCH) {
      priv->lost_faces.push_back (face);
    }
  }
  for (size_t d = 0; d < detections.size (); d++) {
    if (used[d])
      continue;
    TrackedFace face;
    face.id = priv->next_face_id++;
    face.smooth = detections[d];
    face.rect = round_rect (face.smooth);
    kept.push_back (face);
  }
  priv->faces = std::move (kept);
}

/* Whether the faces differ enough from the last posted ones to tell. */
static bool
faces_changed (
    const std::vector<TrackedFace> &now, const std::vector<TrackedFace> &posted)
{
  if (now.size () != posted.size ())
    return true;
  for (const TrackedFace &f : now) {
    auto it = std::find_if (posted.begin (), posted.end (),
        [&f] (const TrackedFace &p) { return p.id == f.id; });
    if (it == posted.end ())
      return true;
    double limit = MOVE_FRACTION * std::max (it->rect.width, 1);
    if (std::abs (f.rect.x - it->rect.x) > limit
        || std::abs (f.rect.y - it->rect.y) > limit
        || std::abs (f.rect.width - it->rect.width) > limit
        || std::abs (f.rect.height - it->rect.height) > limit)
      return true;
  }
  return false;
}

static GstMessage *
faces_message (GstFaceOverlayFilter *self,
    const std::vector<TrackedFace> &faces, const DetectJob &job)
{
  GValue array = G_VALUE_INIT;
  gst_value_array_init (&array, faces.size ());
  for (const TrackedFace &f : faces) {
    GValue item = G_VALUE_INIT;
    g_value_init (&item, GST_TYPE_STRUCTURE);
    GstStructure *s = gst_structure_new ("face", "id", G_TYPE_UINT, f.id, "x",
        G_TYPE_INT, f.rect.x, "y", G_TYPE_INT, f.rect.y, "width", G_TYPE_INT,
        f.rect.width, "height", G_TYPE_INT, f.rect.height, NULL);
    g_value_take_boxed (&item, s);
    gst_value_array_append_and_take_value (&array, &item);
  }
  GstStructure *s = gst_structure_new ("faceoverlayfilter", "timestamp",
      G_TYPE_UINT64, job.timestamp, "stream-time", G_TYPE_UINT64,
      job.stream_time, "running-time", G_TYPE_UINT64, job.running_time, NULL);
  gst_structure_take_value (s, "faces", &array);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* Runs the cascade on @job; returns faces in frame pixels.  Always looks
 * around the faces shown (@known) and those lost lately (@lost), frame
 * pixels, at nearby sizes, which costs a small fraction; a full scan also
 * looks everywhere, and @full_scan is set when a shown face was not found. */
static std::vector<cv::Rect2d>
detect_faces (FaceOverlayFilterPrivate *priv, DetectJob &job,
    const std::vector<cv::Rect> &known, const std::vector<cv::Rect> &lost,
    bool &full_scan)
{
  std::vector<cv::Rect2d> faces;
  /* Keeps each face once: neighbouring searches overlap.  Only a face of
   * about the same size is the same one; a much larger one around it (a
   * face that grew faster than the local search's sizes) is kept. */
  auto add = [&faces] (const cv::Rect2d &r) {
    for (const cv::Rect2d &f : faces)
      if (iou (r, f) > 0.5)
        return;
    faces.push_back (r);
  };
  /* Around each known face, at nearby sizes, on the full-resolution frame:
   * the crop is small, so this costs little, and the finer grid keeps faces
   * the downscaled copy loses (a face 70 pixels wide is only 35 at 320). */
  cv::Size window = priv->classifier.getOriginalWindowSize ();
  std::vector<cv::Rect> around = known;
  around.insert (around.end (), lost.begin (), lost.end ());
  size_t found_around_known = 0;
  for (size_t i = 0; i < around.size (); i++) {
    if (i == known.size ())
      found_around_known = faces.size ();
    const cv::Rect &k = around[i];
    double w = k.width, h = k.height;
    double cx = k.x + w / 2, cy = k.y + h / 2;
    cv::Rect area ((int)(cx - w), (int)(cy - h), (int)(2 * w), (int)(2 * h));
    area &= cv::Rect (0, 0, job.grey.cols, job.grey.rows);
    bool is_lost = i >= known.size ();
    double smallest = is_lost ? LOST_MIN : job.track ? TRACK_MIN : LOCAL_MIN;
    double largest = !is_lost && job.track ? TRACK_MAX : LOCAL_MAX;
    cv::Size min_size ((int)(smallest * w), (int)(smallest * h));
    min_size.width = std::max (min_size.width, window.width);
    min_size.height = std::max (min_size.height, window.height);
    if (area.width < min_size.width || area.height < min_size.height)
      continue;
    std::vector<cv::Rect> here;
    priv->classifier.detectMultiScale (job.grey (area), here, job.scale_factor,
        job.min_neighbors, 0, min_size,
        cv::Size ((int)(largest * w) + 1, (int)(largest * h) + 1));
    for (const cv::Rect &r : here)
      add (cv::Rect2d (r.x + area.x, r.y + area.y, r.width, r.height));
  }
  /* Everywhere, on the downscaled copy, for new faces; also at once when a
   * known face was not found around its place (it moved away, or the scene
   * cut), rather than a detection later. */
  if (around.size () == known.size ())
    found_around_known = faces.size ();
  if (found_around_known < known.size ())
    full_scan = true;
  if (full_scan) {
    cv::Mat small;
    if (job.detect_width > 0 && job.grey.cols > job.detect_width) {
      double scale = (double)job.grey.cols / job.detect_width;
      int h = std::max (1, (int)std::lround (job.grey.rows / scale));
      cv::resize (job.grey, small, cv::Size (job.detect_width, h), 0, 0,
          cv::INTER_AREA);
    } else {
      small = job.grey;
    }
    double sx = (double)job.grey.cols / small.cols;
    double sy = (double)job.grey.rows / small.rows;
    /* No histogram equalisation: on real video it loses more faces (those
     * in dim, flat scenes) than it gains. */
    std::vector<cv::Rect> found;
    priv->classifier.detectMultiScale (
        small, found, job.scale_factor, job.min_neighbors);
    for (const cv::Rect &r : found)
      add (cv::Rect2d (r.x * sx, r.y * sy, r.width * sx, r.height * sy));
  }
  return faces;
}

/* Runs on the worker thread: searches one frame and folds the faces found
 * into the tracked ones. */
static void
detect_job (GstFaceOverlayFilter *self, DetectJob &job)
{
  FaceOverlayFilterPrivate *priv = PRIV (self);
  std::vector<cv::Rect> known, lost;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    for (const TrackedFace &f : priv->faces)
      known.push_back (f.rect);
    for (const TrackedFace &f : priv->lost_faces)
      lost.push_back (f.rect);
  }
  std::vector<cv::Rect2d> detections;
  std::string error;
  bool searched = false;
  gint64 began = g_get_monotonic_time ();
  try {
    /* A scene cut (or a fade from black) makes every known face stale and
     * may show new ones: look everywhere at once rather than at the next
     * detection. */
    bool cut = false;
    cv::Mat thumb;
    cv::resize (job.grey, thumb, cv::Size (THUMB_WIDTH, THUMB_HEIGHT), 0, 0,
        cv::INTER_AREA);
    if (!priv->last_thumb.empty ()
        && priv->last_caps_generation == job.caps_generation) {
      cv::Mat diff;
      cv::absdiff (thumb, priv->last_thumb, diff);
      cut = cv::mean (diff)[0] > CUT_LEVEL;
    }
    priv->last_thumb = thumb;
    priv->last_caps_generation = job.caps_generation;

    /* Look everywhere (for new faces) at least every full-scan-interval of
     * running time, on a cut and, at detections, whenever no face is
     * known; otherwise only where the known faces are (detect_faces also
     * looks everywhere when one of them is not found there).  A frame
     * given only for tracking with no face known needs no search. */
    bool full_scan =
        cut
        || (job.due
            && (known.empty () || !GST_CLOCK_TIME_IS_VALID (job.running_time)
                || !GST_CLOCK_TIME_IS_VALID (priv->last_full_scan)
                || job.running_time < priv->last_full_scan
                || job.running_time - priv->last_full_scan
                       >= job.full_scan_interval));
    if (full_scan || !known.empty () || !lost.empty ()) {
      detections = detect_faces (priv, job, known, lost, full_scan);
      searched = true;
      if (full_scan)
        priv->last_full_scan = job.running_time;
      GST_DEBUG_OBJECT (self, "%s (%s) found %zu faces in %.1f ms",
          job.due || cut ? "detection" : "tracking",
          full_scan ? (cut ? "full, scene cut" : "full") : "around known faces",
          detections.size (), (g_get_monotonic_time () - began) / 1000.0);
    }
  } catch (const cv::Exception &e) {
    error = e.what ();
  } catch (...) {
    error = "unknown exception";
  }
  job.grey.release ();

  GstMessage *msg = NULL;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (searched && error.empty ()
        && job.caps_generation == priv->caps_generation) {
      update_tracks (priv, detections, job.running_time);
      if (faces_changed (priv->faces, priv->posted_faces)) {
        priv->posted_faces = priv->faces;
        msg = faces_message (self, priv->faces, job);
      }
    }
  }

  if (!error.empty ())
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Face detection failed."),
        ("OpenCV: %s", error.c_str ()));
  if (msg)
    gst_element_post_message (GST_ELEMENT (self), msg);
}

/* ---- GstBaseTransform / GstVideoFilter ---- */

static gboolean
gst_face_overlay_filter_start (GstBaseTransform *trans)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (trans);
  FaceOverlayFilterPrivate *priv = PRIV (self);

  GST_OBJECT_LOCK (self);
  std::string cascade = priv->settings.cascade;
  GST_OBJECT_UNLOCK (self);

  std::string image_error;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    image_error = priv->image_error;
  }
  if (!image_error.empty ()) {
    GST_ELEMENT_ERROR (
        self, RESOURCE, OPEN_READ, ("%s", image_error.c_str ()), (NULL));
    return FALSE;
  }

  if (!g_file_test (cascade.c_str (), G_FILE_TEST_EXISTS)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Could not load cascade \"%s\": no such file.", cascade.c_str ()),
        (NULL));
    return FALSE;
  }
  std::string reason;
  try {
    if (!priv->classifier.load (cascade) || priv->classifier.empty ())
      reason = "not a cascade classifier file OpenCV can load";
  } catch (const cv::Exception &e) {
    reason = e.what ();
  } catch (...) {
    reason = "unknown exception";
  }
  if (!reason.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not load cascade \"%s\": %s.", cascade.c_str (),
            reason.c_str ()),
        (NULL));
    return FALSE;
  }

  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->faces.clear ();
    priv->posted_faces.clear ();
    priv->lost_faces.clear ();
    priv->started = true;
  }
  priv->last_detection = GST_CLOCK_TIME_NONE;
  priv->last_full_scan = GST_CLOCK_TIME_NONE;
  priv->last_thumb.release ();
  priv->last_caps_generation = 0;
  try {
    priv->worker.start ([self] (DetectJob &job) { detect_job (self, job); });
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not start the face detection thread."), ("%s", e.what ()));
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->started = false;
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_face_overlay_filter_stop (GstBaseTransform *trans)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (trans);
  FaceOverlayFilterPrivate *priv = PRIV (self);
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->started = false;
  }
  priv->worker.stop ();
  priv->last_thumb.release ();
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->faces.clear ();
  priv->posted_faces.clear ();
  priv->lost_faces.clear ();
  priv->overlays.clear ();
  return TRUE;
}

static gboolean
gst_face_overlay_filter_set_info (GstVideoFilter *filter, GstCaps *incaps,
    GstVideoInfo *in_info, GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (filter);
  FaceOverlayFilterPrivate *priv = PRIV (self);
  /* Faces of another frame size or format are meaningless now. */
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->caps_generation++;
  priv->faces.clear ();
  priv->posted_faces.clear ();
  priv->lost_faces.clear ();
  priv->overlays.clear ();
  priv->last_detection = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_face_overlay_filter_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  FaceOverlayFilterPrivate *priv = PRIV (GST_FACE_OVERLAY_FILTER (trans));
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* A frame from before the flush is not searched any more. */
      priv->worker.flush ();
      break;
    case GST_EVENT_EOS:
      /* Let the detection in flight report before the application sees
       * EOS. */
      priv->worker.drain ();
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* Decides before each buffer whether it will be drawn on: if not, it passes
 * through without being made writable. */
static void
gst_face_overlay_filter_before_transform (
    GstBaseTransform *trans, GstBuffer *buffer)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (trans);
  FaceOverlayFilterPrivate *priv = PRIV (self);
  GST_OBJECT_LOCK (self);
  GstFaceOverlayFilterMode mode = priv->settings.mode;
  GST_OBJECT_UNLOCK (self);
  bool draws;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    draws = !priv->faces.empty ()
            && (mode == GST_FACE_OVERLAY_FILTER_MODE_BLUR || priv->image);
  }
  gst_base_transform_set_passthrough (trans, !draws);
}

static GstFlowReturn
gst_face_overlay_filter_transform_frame_ip (
    GstVideoFilter *filter, GstVideoFrame *frame)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (filter);
  FaceOverlayFilterPrivate *priv = PRIV (self);
  GstBaseTransform *trans = GST_BASE_TRANSFORM (filter);

  GST_OBJECT_LOCK (self);
  Settings settings = priv->settings;
  GST_OBJECT_UNLOCK (self);

  GstClockTime pts = GST_BUFFER_PTS (frame->buffer);
  GstClockTime running_time =
      gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts);
  GstClockTime stream_time =
      gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, pts);

  try {
    /* Hand the frame to the worker if it is idle: for a detection when the
     * interval is up, otherwise (with `track`) to follow the known faces and
     * watch for a scene cut. */
    bool due = !GST_CLOCK_TIME_IS_VALID (running_time)
               || !GST_CLOCK_TIME_IS_VALID (priv->last_detection)
               || running_time < priv->last_detection
               || running_time - priv->last_detection
                      >= settings.interval_ms * GST_MSECOND;
    bool submit = false;
    guint caps_generation = 0;
    {
      /* With `track`, every frame is handed over: while the worker is busy
       * it waits in place of the one before (the worker takes the newest
       * frame as soon as it is free).  Only this thread submits, so the
       * worker can only become idle meanwhile. */
      bool idle = priv->worker.idle ();
      std::lock_guard<std::mutex> guard (priv->lock);
      if (priv->started && (settings.track || (due && idle))) {
        submit = true;
        caps_generation = priv->caps_generation;
      }
    }
    if (submit) {
      DetectJob job;
      job.grey = grey_copy (frame);
      job.due = due;
      job.track = settings.track;
      job.detect_width = settings.detect_width;
      job.min_neighbors = settings.min_neighbors;
      job.scale_factor = settings.scale_factor;
      job.full_scan_interval = settings.full_scan_ms * GST_MSECOND;
      job.caps_generation = caps_generation;
      job.timestamp = pts;
      job.stream_time = stream_time;
      job.running_time = running_time;
      if (due)
        priv->last_detection = running_time;
      /* A detection due on a frame still waiting stays due. */
      priv->worker.submit (
          std::move (job), [] (DetectJob &newest, DetectJob &replaced) {
            newest.due = newest.due || replaced.due;
          });
    }

    if (gst_base_transform_is_passthrough (trans))
      return GST_FLOW_OK;

    std::vector<cv::Rect> faces;
    std::shared_ptr<const cv::Mat> image;
    guint image_generation;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      for (const TrackedFace &f : priv->faces)
        faces.push_back (f.rect);
      image = priv->image;
      image_generation = priv->image_generation;
    }
    if (image_generation != priv->overlays_image_generation) {
      priv->overlays.clear ();
      priv->overlays_image_generation = image_generation;
    }

    if (settings.mode == GST_FACE_OVERLAY_FILTER_MODE_BLUR)
      blur_faces (frame, faces);
    else if (image)
      draw_overlays (priv, frame, faces, *image, settings);
  } catch (const cv::Exception &e) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Could not process a frame."),
        ("OpenCV: %s", e.what ()));
    return GST_FLOW_ERROR;
  } catch (...) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Could not process a frame."),
        ("unknown exception"));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

/* ---- GObject ---- */

static void
gst_face_overlay_filter_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (object);
  FaceOverlayFilterPrivate *priv = PRIV (self);

  if (prop_id == PROP_IMAGE) {
    const gchar *path = g_value_get_string (value);
    std::string p = path ? path : "";
    GST_OBJECT_LOCK (self);
    priv->settings.image = p;
    GST_OBJECT_UNLOCK (self);
    std::string error;
    if (!gst_face_overlay_filter_update_image (self, p, error)) {
      bool started;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        started = priv->started;
      }
      /* Before start the error is reported by start(), which then fails. */
      if (started)
        GST_ELEMENT_ERROR (
            self, RESOURCE, OPEN_READ, ("%s", error.c_str ()), (NULL));
      else
        GST_WARNING_OBJECT (self, "%s", error.c_str ());
    }
    return;
  }

  GST_OBJECT_LOCK (self);
  Settings &s = priv->settings;
  switch (prop_id) {
    case PROP_CASCADE: {
      const gchar *path = g_value_get_string (value);
      s.cascade = path && *path ? path : DEFAULT_CASCADE;
      break;
    }
    case PROP_OFFSET_X:
      s.offset_x = g_value_get_double (value);
      break;
    case PROP_OFFSET_Y:
      s.offset_y = g_value_get_double (value);
      break;
    case PROP_WIDTH:
      s.width = g_value_get_double (value);
      break;
    case PROP_HEIGHT:
      s.height = g_value_get_double (value);
      break;
    case PROP_MODE:
      s.mode = (GstFaceOverlayFilterMode)g_value_get_enum (value);
      break;
    case PROP_INTERVAL:
      s.interval_ms = g_value_get_uint (value);
      break;
    case PROP_DETECT_WIDTH:
      s.detect_width = g_value_get_int (value);
      break;
    case PROP_MIN_NEIGHBORS:
      s.min_neighbors = g_value_get_int (value);
      break;
    case PROP_SCALE_FACTOR:
      s.scale_factor = g_value_get_double (value);
      break;
    case PROP_FULL_SCAN_INTERVAL:
      s.full_scan_ms = g_value_get_uint (value);
      break;
    case PROP_TRACK:
      s.track = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_face_overlay_filter_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (object);
  GST_OBJECT_LOCK (self);
  const Settings &s = PRIV (self)->settings;
  switch (prop_id) {
    case PROP_CASCADE:
      g_value_set_string (value, s.cascade.c_str ());
      break;
    case PROP_IMAGE:
      g_value_set_string (value, s.image.empty () ? NULL : s.image.c_str ());
      break;
    case PROP_OFFSET_X:
      g_value_set_double (value, s.offset_x);
      break;
    case PROP_OFFSET_Y:
      g_value_set_double (value, s.offset_y);
      break;
    case PROP_WIDTH:
      g_value_set_double (value, s.width);
      break;
    case PROP_HEIGHT:
      g_value_set_double (value, s.height);
      break;
    case PROP_MODE:
      g_value_set_enum (value, s.mode);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, s.interval_ms);
      break;
    case PROP_DETECT_WIDTH:
      g_value_set_int (value, s.detect_width);
      break;
    case PROP_MIN_NEIGHBORS:
      g_value_set_int (value, s.min_neighbors);
      break;
    case PROP_SCALE_FACTOR:
      g_value_set_double (value, s.scale_factor);
      break;
    case PROP_FULL_SCAN_INTERVAL:
      g_value_set_uint (value, s.full_scan_ms);
      break;
    case PROP_TRACK:
      g_value_set_boolean (value, s.track);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_face_overlay_filter_finalize (GObject *object)
{
  GstFaceOverlayFilter *self = GST_FACE_OVERLAY_FILTER (object);
  FaceOverlayFilterPrivate *priv = PRIV (self);
  priv->worker.stop (); /* stop() normally did */
  delete priv;
  self->priv = NULL;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_face_overlay_filter_class_init (GstFaceOverlayFilterClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags live = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);

  gobject_class->set_property = gst_face_overlay_filter_set_property;
  gobject_class->get_property = gst_face_overlay_filter_get_property;
  gobject_class->finalize = gst_face_overlay_filter_finalize;

  g_object_class_install_property (gobject_class, PROP_CASCADE,
      g_param_spec_string ("cascade", "Cascade",
          "Haar or LBP cascade file (OpenCV XML) used to find faces",
          DEFAULT_CASCADE, ready));
  g_object_class_install_property (gobject_class, PROP_IMAGE,
      g_param_spec_string ("image", "Image",
          "PNG or JPEG file drawn over each face, alpha respected (none: only "
          "detect)",
          DEFAULT_IMAGE, live));
  g_object_class_install_property (gobject_class, PROP_OFFSET_X,
      g_param_spec_double ("offset-x", "Offset X",
          "Left edge of the image from the face's, in face widths", -100.0,
          100.0, DEFAULT_OFFSET_X, live));
  g_object_class_install_property (gobject_class, PROP_OFFSET_Y,
      g_param_spec_double ("offset-y", "Offset Y",
          "Top edge of the image from the face's, in face heights (negative "
          "is up)",
          -100.0, 100.0, DEFAULT_OFFSET_Y, live));
  g_object_class_install_property (gobject_class, PROP_WIDTH,
      g_param_spec_double ("width", "Width",
          "Width of the image in face widths", 0.0, 100.0, DEFAULT_WIDTH,
          live));
  g_object_class_install_property (gobject_class, PROP_HEIGHT,
      g_param_spec_double ("height", "Height",
          "Height of the image in face heights", 0.0, 100.0, DEFAULT_HEIGHT,
          live));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "Draw the image over faces or blur them",
          GST_TYPE_FACE_OVERLAY_FILTER_MODE, DEFAULT_MODE, live));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Least running time between two detections in milliseconds (0: "
          "whenever the detector is idle)",
          0, G_MAXUINT, DEFAULT_INTERVAL, live));
  g_object_class_install_property (gobject_class, PROP_DETECT_WIDTH,
      g_param_spec_int ("detect-width", "Detect width",
          "Width the frame is scaled down to for detection (0: full width)", 0,
          G_MAXINT, DEFAULT_DETECT_WIDTH, live));
  g_object_class_install_property (gobject_class, PROP_MIN_NEIGHBORS,
      g_param_spec_int ("min-neighbors", "Min neighbours",
          "Overlapping candidate hits needed to accept a face (higher: fewer "
          "false faces)",
          0, 1000, DEFAULT_MIN_NEIGHBORS, live));
  g_object_class_install_property (gobject_class, PROP_SCALE_FACTOR,
      g_param_spec_double ("scale-factor", "Scale factor",
          "Size step between detector scales (smaller: finds more, costs more)",
          1.01, 10.0, DEFAULT_SCALE_FACTOR, live));

  g_object_class_install_property (gobject_class, PROP_FULL_SCAN_INTERVAL,
      g_param_spec_uint ("full-scan-interval", "Full scan interval",
          "Least running time in ms between two searches of the whole frame; "
          "detections in between only search around the faces already found "
          "(0: always the whole frame)",
          0, G_MAXUINT, DEFAULT_FULL_SCAN_INTERVAL, live));
  g_object_class_install_property (gobject_class, PROP_TRACK,
      g_param_spec_boolean ("track", "Track",
          "Between detections, follow each known face from frame to frame (a "
          "search around it at nearby sizes; the newest frame when the "
          "detector is busy) and search the whole frame at once on a scene "
          "cut",
          DEFAULT_TRACK, live));

  gst_element_class_set_static_metadata (element_class, "Face overlay filter",
      "Filter/Effect/Video",
      "Draws an image over every face, or blurs faces (OpenCV)", "gst-rooms");
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_PAD);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_face_overlay_filter_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_face_overlay_filter_stop);
  trans_class->sink_event =
      GST_DEBUG_FUNCPTR (gst_face_overlay_filter_sink_event);
  trans_class->before_transform =
      GST_DEBUG_FUNCPTR (gst_face_overlay_filter_before_transform);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_face_overlay_filter_set_info);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_face_overlay_filter_transform_frame_ip);

  gst_type_mark_as_plugin_api (
      GST_TYPE_FACE_OVERLAY_FILTER_MODE, (GstPluginAPIFlags)0);
  GST_DEBUG_CATEGORY_INIT (gst_face_overlay_filter_debug, "faceoverlayfilter",
      0, "faceoverlayfilter: an image on every face");
}

static void
gst_face_overlay_filter_init (GstFaceOverlayFilter *self)
{
  self->priv = new FaceOverlayFilterPrivate ();
  self->priv->settings.cascade = DEFAULT_CASCADE;
}
