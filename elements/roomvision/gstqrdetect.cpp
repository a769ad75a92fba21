/* gst-rooms: qrdetect, a pass-through filter that reports QR codes in video.
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/**
 * SECTION:element-qrdetect
 * @title: qrdetect
 *
 * Finds QR codes in a video stream with OpenCV and reports each one as an
 * element message on the bus. Frames flow through at full rate and are not
 * modified (unless #GstQrDetect:draw is set, which outlines every code found
 * by the latest scan) and never wait for detection: scanning runs on a worker
 * thread on the newest frame, downscaled to #GstQrDetect:scan-width, at most
 * every #GstQrDetect:interval milliseconds of running time. While a scan is
 * still running, new frames are passed on without being scanned.
 *
 * A code is reported when it appears, and again every
 * #GstQrDetect:repeat-interval milliseconds while it stays in view. A code
 * that is absent for two scans in a row is forgotten, so it is reported
 * again when it comes back. Several codes in one frame are each reported.
 *
 * Accepted formats: every 8-bit YUV format whose luma is its own plane or is
 * interleaved (I420, YV12, NV12, YUY2, ...), GRAY8, and packed RGB formats
 * (RGB, BGRx, RGBA, ...), which are turned into luma for scanning.
 *
 * A cheap look for finder patterns in the downscaled luma comes first: frames
 * without any cost well under a millisecond. Three finders in a right
 * isosceles triangle give a code's grid; the code is cut out of the full-size
 * luma there and decoded with OpenCV's WeChat decoder, so small codes decode
 * as long as their finders show at #GstQrDetect:scan-width. A code that the
 * previous scan decoded at the same place, with the same modules, is not
 * decoded again (#GstQrDetect:decodes counts the decodings); a different
 * code at the same place is. OpenCV's QRCodeDetector is the fallback when
 * finders are left unexplained. The read-only #GstQrDetect:scans property
 * counts the frames scanned. Late frames are never dropped (QoS is off). At
 * EOS the element waits for the scan in flight, so its codes are posted
 * before EOS.
 *
 * ## Messages
 *
 * One `qrdetect` element message per code reported, with the fields:
 *
 * - `symbol` (string): the decoded text.
 * - `type` (string): always `QR-Code`.
 * - `points` (GstValueArray): the four corners of the code in pixels of the
 *   frame (not of the downscaled scan), each a GstValueArray `< x, y >` of two
 *   ints, going round the code (starting at any corner).
 * - `timestamp` (guint64): the PTS of the frame scanned.
 * - `stream-time` (guint64): its stream time.
 * - `running-time` (guint64): its running time.
 * - `duration` (guint64): its duration.
 *
 * `gst-launch-1.0 -m` prints them like this:
 * |[
 * qrdetect, symbol=(string)"hello\ rooms", type=(string)QR-Code,
 *   points=(int)< < (int)48, (int)47 >, < (int)300, (int)47 >,
 *   < (int)300, (int)299 >, < (int)48, (int)299 > >, timestamp=(guint64)0,
 *   stream-time=(guint64)0, running-time=(guint64)0,
 *   duration=(guint64)40000000;
 * ]|
 *
 * ## Example launch line
 * |[
 * qrencode -s 12 -o /tmp/qr.png 'hello rooms' && gst-launch-1.0 -m \
 *   filesrc location=/tmp/qr.png ! pngdec ! imagefreeze num-buffers=30 ! \
 *   videoconvert ! qrdetect draw=true ! videoconvert ! fakesink
 * ]| posts one `qrdetect` message with `symbol=hello rooms` (the picture
 * stays for one second, shorter than #GstQrDetect:repeat-interval).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstqrdetect.h"

#include "analysisworker.h"

#include <gst/video/video.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/wechat_qrcode.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_qr_detect_debug);
#define GST_CAT_DEFAULT gst_qr_detect_debug

enum {
  PROP_0,
  PROP_SCAN_WIDTH,
  PROP_INTERVAL,
  PROP_REPEAT_INTERVAL,
  PROP_DRAW,
  PROP_MESSAGE,
  PROP_SCANS,
  PROP_DECODES,
};

#define DEFAULT_SCAN_WIDTH 640
#define DEFAULT_INTERVAL 100
#define DEFAULT_REPEAT_INTERVAL 1000
#define DEFAULT_DRAW FALSE
#define DEFAULT_MESSAGE TRUE

/* A code missing from this many scans in a row is forgotten, so a single
 * scan that misses a code (blur, a hand passing) does not repeat it. */
#define MISSED_SCANS_TO_FORGET 2

/* A code with more unsure modules (percent), sampled between dark and light,
 * is decoded again rather than compared with the previous scan's. */
#define QR_CACHE_MAX_UNSURE_PERCENT 10

/* Bounds the detect-and-erase rounds of one scan. */
#define MAX_CODES_PER_FRAME 8

#define QR_FORMATS                                                             \
  "{ GRAY8, I420, YV12, NV12, NV21, Y41B, Y42B, Y444, NV16, NV61, NV24, "      \
  "A420, YUV9, YVU9, YUY2, YVYU, UYVY, VYUY, AYUV, RGB, BGR, RGBx, BGRx, "     \
  "xRGB, xBGR, RGBA, BGRA, ARGB, ABGR }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (QR_FORMATS)));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (QR_FORMATS)));

/* A frame handed to the worker: a copy of the plane holding the luma. */
struct QrScanJob {
  cv::Mat plane;      /* width x height, channels = bytes per pixel */
  int luma_channel;   /* where the luma is, or -1 for packed RGB */
  int rgb_channel[3]; /* R, G, B positions for packed RGB */
  GstClockTime timestamp, duration, running_time, stream_time;
};

struct QrTracked {
  GstClockTime last_posted; /* running time of the last message */
  int missed_scans;         /* scans in a row without this code */
};

struct QrCode {
  std::string symbol;
  std::vector<cv::Point> corners; /* frame pixels */
};

/* Where the modules of a code are: module (u, v), counted from the code's
 * top-left corner in its own axes, is at origin + u * du + v * dv. Built
 * from the three finder centres, so it ignores perspective; good enough to
 * cut out the code for the decoder and to sample its modules. */
struct QrGrid {
  cv::Point2f origin, du, dv;
  int size;      /* modules per side */
  int finder[3]; /* the finders it was built from */

  cv::Point2f at (float u, float v) const { return origin + u * du + v * dv; }
  QrGrid scaled (float sx, float sy) const
  {
    QrGrid g = *this;
    g.origin = cv::Point2f (origin.x * sx, origin.y * sy);
    g.du = cv::Point2f (du.x * sx, du.y * sy);
    g.dv = cv::Point2f (dv.x * sx, dv.y * sy);
    return g;
  }
  std::vector<cv::Point2f> quad () const
  {
    float n = (float)size;
    return {at (0, 0), at (n, 0), at (n, n), at (0, n)};
  }
  /* Module coordinates of a pixel. */
  cv::Point2f uv (cv::Point2f p) const
  {
    float det = du.x * dv.y - du.y * dv.x;
    cv::Point2f d = p - origin;
    return cv::Point2f (
        (d.x * dv.y - d.y * dv.x) / det, (du.x * d.y - du.y * d.x) / det);
  }
};

/* A code decoded by the previous scan, kept so that the same code at the
 * same place is not decoded again. */
struct QrCached {
  QrGrid grid; /* frame pixels */
  std::vector<guint8> modules;
  std::string symbol;
  std::vector<cv::Point2f> corners_uv; /* its corners, in module units */
};

/* Locks: the object lock guards the settings and the latest scan's results;
 * the worker's own lock (analysisworker.h) is taken after it, if at all. */
struct GstQrDetectPrivate {
  /* Settings, guarded by the object lock. */
  int scan_width = DEFAULT_SCAN_WIDTH;
  guint interval_ms = DEFAULT_INTERVAL;
  guint repeat_interval_ms = DEFAULT_REPEAT_INTERVAL;
  bool draw = DEFAULT_DRAW;
  bool message = DEFAULT_MESSAGE;

  /* Results, guarded by the object lock. */
  guint64 decodes = 0;                          /* runs of the decoder */
  std::vector<std::vector<cv::Point>> outlines; /* of the latest scan */

  /* Streaming thread only. */
  GstClockTime last_handoff = GST_CLOCK_TIME_NONE;

  /* Worker thread only (and start/stop when it is not running). */
  std::map<std::string, QrTracked> tracked;
  std::vector<QrCached> cache; /* codes decoded by the previous scan */
  /* Made on the worker at its first scan, kept until finalize. */
  std::unique_ptr<cv::QRCodeDetector> detector;
  std::unique_ptr<cv::wechat_qrcode::WeChatQRCode> decoder;

  /* Scans the newest frame; declared last, so destroyed (stopped) first. */
  AnalysisWorker<QrScanJob> worker;
};

struct _GstQrDetect {
  GstVideoFilter parent;
  GstQrDetectPrivate *priv;
};

#define gst_qr_detect_parent_class parent_class
G_DEFINE_TYPE (GstQrDetect, gst_qr_detect, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (
    qrdetect, "qrdetect", GST_RANK_NONE, GST_TYPE_QR_DETECT);

static void gst_qr_detect_finalize (GObject *object);
static void gst_qr_detect_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_qr_detect_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static gboolean gst_qr_detect_start (GstBaseTransform *trans);
static gboolean gst_qr_detect_stop (GstBaseTransform *trans);
static gboolean gst_qr_detect_sink_event (
    GstBaseTransform *trans, GstEvent *event);
static GstFlowReturn gst_qr_detect_transform_frame_ip (
    GstVideoFilter *filter, GstVideoFrame *frame);

static void
gst_qr_detect_class_init (GstQrDetectClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->finalize = gst_qr_detect_finalize;
  gobject_class->set_property = gst_qr_detect_set_property;
  gobject_class->get_property = gst_qr_detect_get_property;

  g_object_class_install_property (gobject_class, PROP_SCAN_WIDTH,
      g_param_spec_int ("scan-width", "Scan width",
          "Width in pixels the frame is downscaled to before scanning "
          "(never upscaled; 0 = scan at full size)",
          0, G_MAXINT, DEFAULT_SCAN_WIDTH,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Least running time in milliseconds between two scanned frames "
          "(0 = scan whenever the previous scan is done)",
          0, G_MAXUINT, DEFAULT_INTERVAL,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_REPEAT_INTERVAL,
      g_param_spec_uint ("repeat-interval", "Repeat interval",
          "Milliseconds of running time after which a code still in view is "
          "reported again (0 = report only when it appears)",
          0, G_MAXUINT, DEFAULT_REPEAT_INTERVAL,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_DRAW,
      g_param_spec_boolean ("draw", "Draw",
          "Outline on each frame the codes found by the latest scan "
          "(otherwise frames pass unmodified)",
          DEFAULT_DRAW,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_MESSAGE,
      g_param_spec_boolean ("message", "Message",
          "Post a qrdetect element message for each code reported",
          DEFAULT_MESSAGE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
                        | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_SCANS,
      g_param_spec_uint64 ("scans", "Scans",
          "Number of frames scanned since the element started", 0, G_MAXUINT64,
          0, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_DECODES,
      g_param_spec_uint64 ("decodes", "Decodes",
          "Number of times a code was decoded since the element started (a "
          "code the previous scan decoded at the same place is not decoded "
          "again)",
          0, G_MAXUINT64, 0,
          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_set_static_metadata (element_class, "QR code detector",
      "Filter/Analyzer/Video",
      "Reports QR codes in a video stream as bus messages, without delaying "
      "frames",
      "gst-rooms developers");
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &sink_template, GST_TYPE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_PAD);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_qr_detect_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_qr_detect_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_qr_detect_sink_event);
  /* Scan in passthrough too: passthrough only means "not drawing". */
  trans_class->transform_ip_on_passthrough = TRUE;
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_qr_detect_transform_frame_ip);

  GST_DEBUG_CATEGORY_INIT (
      gst_qr_detect_debug, "qrdetect", 0, "QR code detector");
}

static void
gst_qr_detect_init (GstQrDetect *self)
{
  self->priv = new GstQrDetectPrivate ();
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* An analyser must not drop late frames: they go on as they came. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), !DEFAULT_DRAW);
}

static void
gst_qr_detect_finalize (GObject *object)
{
  GstQrDetect *self = GST_QR_DETECT (object);

  /* stop() joined the worker; this covers an element never stopped. */
  self->priv->worker.stop ();
  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_qr_detect_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstQrDetect *self = GST_QR_DETECT (object);
  GstQrDetectPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_SCAN_WIDTH:
      GST_OBJECT_LOCK (self);
      priv->scan_width = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_INTERVAL:
      GST_OBJECT_LOCK (self);
      priv->interval_ms = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_REPEAT_INTERVAL:
      GST_OBJECT_LOCK (self);
      priv->repeat_interval_ms = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DRAW: {
      gboolean draw = g_value_get_boolean (value);
      GST_OBJECT_LOCK (self);
      priv->draw = draw;
      GST_OBJECT_UNLOCK (self);
      /* Drawing needs a writable frame; without it the buffer goes through
       * untouched (and uncopied). */
      gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), !draw);
      break;
    }
    case PROP_MESSAGE:
      GST_OBJECT_LOCK (self);
      priv->message = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_qr_detect_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstQrDetect *self = GST_QR_DETECT (object);
  GstQrDetectPrivate *priv = self->priv;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SCAN_WIDTH:
      g_value_set_int (value, priv->scan_width);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, priv->interval_ms);
      break;
    case PROP_REPEAT_INTERVAL:
      g_value_set_uint (value, priv->repeat_interval_ms);
      break;
    case PROP_DRAW:
      g_value_set_boolean (value, priv->draw);
      break;
    case PROP_MESSAGE:
      g_value_set_boolean (value, priv->message);
      break;
    case PROP_SCANS:
      g_value_set_uint64 (value, priv->worker.finished ());
      break;
    case PROP_DECODES:
      g_value_set_uint64 (value, priv->decodes);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Luma of the job's frame, as one 8-bit channel. */
static cv::Mat
qr_job_luma (const QrScanJob &job)
{
  if (job.plane.channels () == 1)
    return job.plane;

  cv::Mat luma;
  if (job.luma_channel >= 0) {
    cv::extractChannel (job.plane, luma, job.luma_channel);
    return luma;
  }

  /* BT.601 weights, placed where the format keeps R, G and B. */
  cv::Mat weights = cv::Mat::zeros (1, job.plane.channels (), CV_32F);
  weights.at<float> (0, job.rgb_channel[0]) = 0.299f;
  weights.at<float> (0, job.rgb_channel[1]) = 0.587f;
  weights.at<float> (0, job.rgb_channel[2]) = 0.114f;
  cv::transform (job.plane, luma, weights);
  return luma;
}

static GstMessage *
qr_code_message (GstQrDetect *self, const QrScanJob &job, const QrCode &code)
{
  GValue points = G_VALUE_INIT;
  g_value_init (&points, GST_TYPE_ARRAY);
  for (const cv::Point &corner : code.corners) {
    GValue pair = G_VALUE_INIT, coord = G_VALUE_INIT;
    g_value_init (&pair, GST_TYPE_ARRAY);
    g_value_init (&coord, G_TYPE_INT);
    g_value_set_int (&coord, corner.x);
    gst_value_array_append_value (&pair, &coord);
    g_value_set_int (&coord, corner.y);
    gst_value_array_append_value (&pair, &coord);
    gst_value_array_append_and_take_value (&points, &pair);
    g_value_unset (&coord);
  }

  GstStructure *s = gst_structure_new ("qrdetect", "symbol", G_TYPE_STRING,
      code.symbol.c_str (), "type", G_TYPE_STRING, "QR-Code", NULL);
  gst_structure_take_value (s, "points", &points);
  gst_structure_set (s, "timestamp", G_TYPE_UINT64, job.timestamp,
      "stream-time", G_TYPE_UINT64, job.stream_time, "running-time",
      G_TYPE_UINT64, job.running_time, "duration", G_TYPE_UINT64, job.duration,
      NULL);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* Decodes the code inside one quadrangle of the full-size luma: the quad is
 * straightened into a square with a light border as quiet zone, so the
 * decoder only sees that code (and never the whole frame). CORNERS gets the
 * decoder's corners of the code, in frame pixels, or the quad itself. */
static std::string
qr_decode_quad (cv::wechat_qrcode::WeChatQRCode &decoder, const cv::Mat &luma,
    const std::vector<cv::Point2f> &quad, std::vector<cv::Point2f> &corners)
{
  double edge = 0;
  for (size_t c = 0; c < 4; c++)
    edge = std::max (edge, cv::norm (quad[c] - quad[(c + 1) % 4]));
  /* Enough pixels per module for the decoder, without blowing up big codes. */
  float side = (float)std::clamp (edge, 64.0, 480.0);
  float margin = side * 0.15f;
  std::vector<cv::Point2f> square = {{margin, margin}, {margin + side, margin},
      {margin + side, margin + side}, {margin, margin + side}};
  cv::Mat warp = cv::getPerspectiveTransform (quad, square);
  int out = (int)std::lround (side + 2 * margin);
  cv::Mat straight;
  cv::warpPerspective (luma, straight, warp, cv::Size (out, out),
      cv::INTER_LINEAR, cv::BORDER_REPLICATE);

  std::vector<cv::Mat> points;
  std::vector<std::string> symbols = decoder.detectAndDecode (straight, points);
  for (size_t i = 0; i < symbols.size (); i++) {
    if (symbols[i].empty ())
      continue;
    corners = quad;
    if (i < points.size () && points[i].total () == 4
        && points[i].type () == CV_32FC1 && points[i].cols == 2) {
      std::vector<cv::Point2f> found;
      for (int r = 0; r < 4; r++)
        found.emplace_back (
            points[i].at<float> (r, 0), points[i].at<float> (r, 1));
      cv::perspectiveTransform (found, corners, warp.inv ());
    }
    return symbols[i];
  }
  return std::string ();
}

/* Whether runs dark-light-dark-light-dark have the 1:1:3:1:1 ratio of a
 * finder pattern (half a module of slack each), and their module size. */
static bool
qr_finder_ratio (const int runs[5], float *module)
{
  int total = runs[0] + runs[1] + runs[2] + runs[3] + runs[4];
  if (total < 10)
    return false;
  float m = total / 7.0f;
  float slack = m * 0.5f + 0.5f;
  *module = m;
  return std::abs (runs[0] - m) <= slack && std::abs (runs[1] - m) <= slack
         && std::abs (runs[2] - 3 * m) <= 3 * slack
         && std::abs (runs[3] - m) <= slack && std::abs (runs[4] - m) <= slack;
}

/* Whether the column through (x, y), the middle of a dark run, also crosses
 * a finder pattern of about the same module size. */
static bool
qr_finder_vertical (const cv::Mat &binary, int x, int y, float module)
{
  auto dark = [&binary, x] (
                  int row) { return binary.at<guint8> (row, x) == 0; };
  int reach = (int)(module * 7) + 2;
  int runs[5] = {0, 0, 0, 0, 0};
  /* Up from the centre: centre (dark), light, dark. */
  int row = y;
  for (int run = 2; run >= 0; run--) {
    bool is_dark = run != 1;
    while (row >= 0 && dark (row) == is_dark && y - row <= reach) {
      runs[run]++;
      row--;
    }
    if (row < 0 || y - row > reach)
      return false;
  }
  /* Down: centre, light, dark. */
  row = y + 1;
  for (int run = 2; run <= 4; run++) {
    bool is_dark = run != 3;
    int count = 0;
    while (row < binary.rows && dark (row) == is_dark && row - y <= reach) {
      count++;
      row++;
    }
    runs[run] += count;
    if (row >= binary.rows || row - y > reach)
      return false;
  }
  float vertical;
  return qr_finder_ratio (runs, &vertical) && vertical < module * 1.6f
         && vertical > module / 1.6f;
}

/* A finder pattern seen by the first look: the mean of the row hits that
 * crossed it, in pixels of the scanned image. */
struct QrFinder {
  cv::Point2f centre;
  float module;
  int hits;
};

/* A cheap first look, as QRCodeDetector takes several milliseconds even on
 * frames without any code (most frames): things shaped like a finder pattern,
 * runs dark-light-dark-light-dark in the ratio 1:1:3:1:1 across a row and
 * down the column through its middle. A finder pattern spans 7 modules, so
 * rows every other line cross each one several times; hits close together
 * are merged into one finder. Returns the total number of hits. */
static int
qr_find_finders (const cv::Mat &gray, std::vector<QrFinder> &finders)
{
  cv::Mat binary; /* 0 = dark */
  int block = std::max (3, (gray.cols / 8) | 1);
  cv::adaptiveThreshold (gray, binary, 255, cv::ADAPTIVE_THRESH_MEAN_C,
      cv::THRESH_BINARY, block, 14);

  struct Sum {
    double x, y, module;
    int hits;
  };
  std::vector<Sum> sums;
  int hits = 0;
  std::vector<int> runs;
  for (int y = 0; y < binary.rows; y += 2) {
    const guint8 *row = binary.ptr<guint8> (y);
    runs.clear ();
    int start = 0;
    for (int x = 1; x <= binary.cols; x++) {
      if (x < binary.cols && row[x] == row[start])
        continue;
      runs.push_back (x - start);
      start = x;
    }
    /* Runs alternate; the first one is dark when row[0] is. */
    size_t first_dark = row[0] == 0 ? 0 : 1;
    int x0 = 0;
    for (size_t i = 0; i < first_dark && i < runs.size (); i++)
      x0 += runs[i];
    for (size_t i = first_dark; i + 4 < runs.size (); i += 2) {
      float module;
      int left = x0 + runs[i] + runs[i + 1];
      int centre = left + runs[i + 2] / 2;
      if (qr_finder_ratio (&runs[i], &module)
          && qr_finder_vertical (binary, centre, y, module)) {
        hits++;
        float cx = left + runs[i + 2] * 0.5f;
        auto near = std::find_if (
            sums.begin (), sums.end (), [cx, y, module] (const Sum &s) {
              float m = s.module / s.hits;
              return std::abs (s.x / s.hits - cx) < 2.5f * m
                     && std::abs (s.y / s.hits - y) < 4.5f * m
                     && module < 1.6f * m && module > m / 1.6f;
            });
        if (near == sums.end ())
          sums.push_back (Sum{cx, (double)y, module, 1});
        else
          *near = Sum{
              near->x + cx, near->y + y, near->module + module, near->hits + 1};
      }
      x0 += runs[i] + runs[i + 1];
    }
  }

  finders.clear ();
  for (const Sum &s : sums) {
    finders.push_back (
        QrFinder{cv::Point2f ((float)(s.x / s.hits), (float)(s.y / s.hits)),
            (float)(s.module / s.hits), s.hits});
  }
  return hits;
}

/* Whether the first look saw enough to be worth a QRCodeDetector run. */
#define FIRST_LOOK_HITS 6

static bool
qr_has_symbol (const std::vector<QrCode> &codes, const std::string &symbol)
{
  return std::any_of (codes.begin (), codes.end (),
      [&symbol] (const QrCode &code) { return code.symbol == symbol; });
}

/* Finders sharing a code: three of about the same module size, one at the
 * right angle of an isosceles triangle, the other two 10 to 170 modules away
 * from it. Best-shaped triangles first, each finder used once. */
static std::vector<QrGrid>
qr_group_finders (const std::vector<QrFinder> &finders)
{
  std::vector<int> cand;
  for (size_t i = 0; i < finders.size (); i++) {
    if (finders[i].hits >= 2)
      cand.push_back ((int)i);
  }
  std::sort (cand.begin (), cand.end (),
      [&finders] (int x, int y) { return finders[x].hits > finders[y].hits; });
  if (cand.size () > 16)
    cand.resize (16);

  std::vector<std::pair<float, QrGrid>> scored;
  for (size_t i = 0; i < cand.size (); i++)
    for (size_t j = i + 1; j < cand.size (); j++)
      for (size_t k = j + 1; k < cand.size (); k++) {
        int idx[3] = {cand[i], cand[j], cand[k]};
        float m[3] = {finders[idx[0]].module, finders[idx[1]].module,
            finders[idx[2]].module};
        float lo = std::min ({m[0], m[1], m[2]});
        float hi = std::max ({m[0], m[1], m[2]});
        if (hi > 1.5f * lo)
          continue;
        float module = (m[0] + m[1] + m[2]) / 3;
        for (int corner = 0; corner < 3; corner++) {
          int a = idx[corner], b = idx[(corner + 1) % 3],
              c = idx[(corner + 2) % 3];
          cv::Point2f ab = finders[b].centre - finders[a].centre;
          cv::Point2f ac = finders[c].centre - finders[a].centre;
          float d1 = (float)cv::norm (ab), d2 = (float)cv::norm (ac);
          if (std::min (d1, d2) < 10 * module
              || std::max (d1, d2) > 170 * module)
            continue;
          float ratio = d1 / d2;
          float cosine = ab.dot (ac) / (d1 * d2);
          if (ratio < 0.8f || ratio > 1.25f || std::abs (cosine) > 0.2f)
            continue;
          /* b is the top-right finder: clockwise from a to b to c. */
          if (ab.x * ac.y - ab.y * ac.x < 0) {
            std::swap (b, c);
            std::swap (ab, ac);
          }
          float estimate = (d1 + d2) / 2 / module + 7;
          int version =
              std::clamp ((int)std::lround ((estimate - 17) / 4), 1, 40);
          QrGrid g;
          g.size = 17 + 4 * version;
          g.du = ab / (float)(g.size - 7);
          g.dv = ac / (float)(g.size - 7);
          g.origin = finders[a].centre - 3.5f * g.du - 3.5f * g.dv;
          g.finder[0] = a;
          g.finder[1] = b;
          g.finder[2] = c;
          scored.emplace_back (std::abs (ratio - 1) + std::abs (cosine), g);
        }
      }
  std::stable_sort (scored.begin (), scored.end (),
      [] (const auto &x, const auto &y) { return x.first < y.first; });

  std::vector<QrGrid> grids;
  std::vector<bool> used (finders.size (), false);
  for (const auto &entry : scored) {
    const QrGrid &g = entry.second;
    if (used[g.finder[0]] || used[g.finder[1]] || used[g.finder[2]])
      continue;
    for (int f : g.finder)
      used[f] = true;
    grids.push_back (g);
  }
  return grids;
}

/* What a sampled module looks like. */
enum QrModule : guint8 { QR_MODULE_DARK, QR_MODULE_LIGHT, QR_MODULE_UNSURE };

/* The code's modules, sampled at their centres in the full-size luma: dark,
 * light, or unsure when the sample is in between (on an edge, as the grid is
 * approximate); empty when the code reaches out of the frame or has no
 * contrast. */
static std::vector<guint8>
qr_sample_modules (const cv::Mat &luma, const QrGrid &grid)
{
  std::vector<guint8> values;
  values.reserve ((size_t)grid.size * grid.size);
  for (int v = 0; v < grid.size; v++)
    for (int u = 0; u < grid.size; u++) {
      cv::Point2f p = grid.at (u + 0.5f, v + 0.5f);
      int x = (int)std::lround (p.x), y = (int)std::lround (p.y);
      if (x < 0 || y < 0 || x >= luma.cols || y >= luma.rows)
        return {};
      values.push_back (luma.at<guint8> (y, x));
    }
  std::vector<guint8> sorted = values;
  auto tenth = sorted.begin () + sorted.size () / 10;
  std::nth_element (sorted.begin (), tenth, sorted.end ());
  int dark = *tenth;
  auto ninetieth = sorted.end () - 1 - sorted.size () / 10;
  std::nth_element (sorted.begin (), ninetieth, sorted.end ());
  int light = *ninetieth;
  if (light - dark < 20)
    return {};
  int quarter = (light - dark) / 4;
  for (guint8 &value : values) {
    value = value < dark + quarter    ? QR_MODULE_DARK
            : value > light - quarter ? QR_MODULE_LIGHT
                                      : QR_MODULE_UNSURE;
  }
  return values;
}

/* The previous scan's code that this one is: same size, finder centres
 * within a few pixels, few unsure modules and not one module seen surely
 * dark in one and surely light in the other. Two different symbols of the
 * same size differ in at least 8 modules (their Reed-Solomon codewords), in
 * practice in dozens, so a changed code is decoded again; noise or a shift
 * that flips a module only costs a decoding. */
static const QrCached *
qr_cache_find (const std::vector<QrCached> &cache, const QrGrid &grid,
    const std::vector<guint8> &modules)
{
  if (modules.empty ())
    return nullptr;
  size_t unsure =
      std::count (modules.begin (), modules.end (), QR_MODULE_UNSURE);
  if (unsure * 100 > modules.size () * QR_CACHE_MAX_UNSURE_PERCENT)
    return nullptr;
  float n = (float)grid.size;
  const cv::Point2f where[3] = {
      {3.5f, 3.5f}, {n - 3.5f, 3.5f}, {3.5f, n - 3.5f}};
  float tolerance = std::max (4.0f, (float)cv::norm (grid.du));
  for (const QrCached &cached : cache) {
    if (cached.grid.size != grid.size
        || cached.modules.size () != modules.size ())
      continue;
    bool near = true;
    for (const cv::Point2f &w : where) {
      if (cv::norm (cached.grid.at (w.x, w.y) - grid.at (w.x, w.y)) > tolerance)
        near = false;
    }
    if (!near)
      continue;
    size_t differ = 0;
    for (size_t i = 0; i < modules.size (); i++) {
      differ += cached.modules[i] != QR_MODULE_UNSURE
                && modules[i] != QR_MODULE_UNSURE
                && cached.modules[i] != modules[i];
    }
    GST_LOG ("cached '%s': %zu of %zu modules differ, %zu unsure",
        cached.symbol.c_str (), differ, modules.size (), unsure);
    if (differ == 0)
      return &cached;
  }
  return nullptr;
}

/* Runs on the worker thread: finds the codes in one frame.
 *
 * Debian's OpenCV 4.6 is built without the quirc decoder that
 * QRCodeDetector's own decoding needs, and QRCodeDetector::detect() costs
 * ~7 ms (it rescales every image to 512 px). So codes are located from the
 * finder patterns of the cheap first look, in the downscaled luma: three
 * finders in a right isosceles triangle give the code's grid. Each code is
 * then cut out of the full-size luma, straightened, and decoded by OpenCV's
 * WeChat decoder (contrib module wechat_qrcode) -- unless the previous scan
 * decoded the same code at the same place (finder centres within a few
 * pixels and none of its modules surely different), whose symbol is
 * reused. Most frames have no code and stop after the first look.
 *
 * QRCodeDetector remains the fallback, when finders are left unexplained by
 * the codes decoded (a code too distorted for the grid, finders missed): the
 * codes found are erased from the downscaled luma and detect() runs until it
 * finds none, or until the first look sees no finder pattern left. detect()
 * fails when it sees several codes, so when it finds nothing at first
 * detectMulti tries (it is slower, misses lone codes and often finds only
 * some of several, which the next rounds pick up). WeChat on a whole frame
 * would be simpler but takes ~50 ms on a textured frame without codes. */
static std::vector<QrCode>
qr_detect_scan (GstQrDetect *self, cv::QRCodeDetector &detector,
    cv::wechat_qrcode::WeChatQRCode &decoder, const QrScanJob &job,
    int scan_width)
{
  GstQrDetectPrivate *priv = self->priv;
  cv::Mat luma = qr_job_luma (job);
  cv::Mat scanned = luma;
  if (scan_width > 0 && luma.cols > scan_width) {
    int scan_height = std::max (
        1, (int)std::lround ((double)luma.rows * scan_width / luma.cols));
    cv::resize (luma, scanned, cv::Size (scan_width, scan_height), 0, 0,
        cv::INTER_AREA);
  }
  /* The exact factor of each axis, as the height was rounded. */
  float back_x = (float)luma.cols / scanned.cols;
  float back_y = (float)luma.rows / scanned.rows;

  std::vector<QrCode> codes;
  std::vector<QrFinder> finders;
  std::vector<QrCached> cache;
  guint decodes = 0;
  int hits = qr_find_finders (scanned, finders);
  if (hits < FIRST_LOOK_HITS) {
    priv->cache.clear ();
    return codes;
  }

  /* Codes located from their finders. */
  std::vector<bool> explained (finders.size (), false);
  std::vector<std::vector<cv::Point2f>> erase; /* scan pixels */
  for (const QrGrid &grid : qr_group_finders (finders)) {
    QrGrid full = grid.scaled (back_x, back_y);
    std::vector<guint8> modules = qr_sample_modules (luma, full);
    QrCached entry;
    entry.grid = full;
    entry.modules = modules;
    std::vector<cv::Point2f> corners;
    if (const QrCached *same = qr_cache_find (priv->cache, full, modules)) {
      entry.symbol = same->symbol;
      entry.corners_uv = same->corners_uv;
      for (const cv::Point2f &uv : same->corners_uv)
        corners.push_back (full.at (uv.x, uv.y));
    } else {
      decodes++;
      entry.symbol = qr_decode_quad (decoder, luma, full.quad (), corners);
      for (const cv::Point2f &p : corners)
        entry.corners_uv.push_back (full.uv (p));
    }
    if (entry.symbol.empty ())
      continue;
    for (int f : grid.finder)
      explained[f] = true;
    erase.push_back (grid.quad ());
    if (!qr_has_symbol (codes, entry.symbol)) {
      QrCode code;
      code.symbol = entry.symbol;
      for (const cv::Point2f &p : corners)
        code.corners.emplace_back (
            (int)std::lround (p.x), (int)std::lround (p.y));
      codes.push_back (std::move (code));
    }
    if (!modules.empty ())
      cache.push_back (std::move (entry));
  }
  priv->cache = std::move (cache);

  /* Finders inside a decoded code are its own data, not another code. */
  bool unexplained = false;
  for (size_t i = 0; i < finders.size (); i++) {
    if (explained[i] || finders[i].hits < 3)
      continue;
    bool inside = false;
    for (const auto &quad : erase) {
      if (cv::pointPolygonTest (quad, finders[i].centre, false) >= 0)
        inside = true;
    }
    unexplained |= !inside;
  }

  cv::Mat remaining = scanned; /* copied before the first code is erased */
  auto erase_quad = [&remaining, &scanned] (const cv::Point2f *at) {
    if (remaining.data == scanned.data)
      remaining = scanned.clone ();
    cv::Point2f centre = (at[0] + at[2]) * 0.5f;
    std::vector<cv::Point> cover;
    for (size_t c = 0; c < 4; c++)
      cover.push_back (centre + (at[c] - centre) * 1.15f);
    cv::fillConvexPoly (remaining, cover, cv::Scalar (255));
  };
  if (codes.empty () || unexplained) {
    for (const auto &quad : erase)
      erase_quad (quad.data ());
  }
  bool fallback = codes.empty () || unexplained;
  for (int round = 0; fallback && round < MAX_CODES_PER_FRAME; round++) {
    /* Also after erasing: usually no other code is left. */
    if ((round > 0 || !erase.empty ())
        && qr_find_finders (remaining, finders) < FIRST_LOOK_HITS)
      break;
    std::vector<cv::Point2f> corners;
    bool found = detector.detect (remaining, corners) && corners.size () >= 4;
    /* detect() fails when it sees several codes; detectMulti only then, as
     * it is slower and misses lone codes. Once a code is found and erased,
     * fewer remain, so detect() suffices. */
    if (!found && codes.empty ())
      found = detector.detectMulti (remaining, corners) && !corners.empty ();
    if (!found)
      break;

    for (size_t i = 0; 4 * i + 3 < corners.size (); i++) {
      const cv::Point2f *at = &corners[4 * i];
      std::vector<cv::Point2f> quad;
      for (size_t c = 0; c < 4; c++)
        quad.emplace_back (at[c].x * back_x, at[c].y * back_y);
      QrCode code;
      std::vector<cv::Point2f> decoded;
      decodes++;
      code.symbol = qr_decode_quad (decoder, luma, quad, decoded);
      if (!code.symbol.empty () && !qr_has_symbol (codes, code.symbol)) {
        for (const cv::Point2f &p : decoded)
          code.corners.emplace_back (
              (int)std::lround (p.x), (int)std::lround (p.y));
        codes.push_back (std::move (code));
      }
      /* Erased even when it does not decode, or it would hide the rest. */
      erase_quad (at);
    }
  }

  GST_OBJECT_LOCK (self);
  priv->decodes += decodes;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "scanned %dx%d: %zu codes, %u decoded%s", scanned.cols,
      scanned.rows, codes.size (), decodes,
      fallback ? " (with QRCodeDetector)" : "");
  return codes;
}

/* Runs on the worker thread: decides which codes to report now. */
static std::vector<const QrCode *>
qr_detect_track (GstQrDetectPrivate *priv, const std::vector<QrCode> &codes,
    GstClockTime running_time, guint repeat_interval_ms)
{
  std::vector<const QrCode *> to_post;

  for (auto &entry : priv->tracked)
    entry.second.missed_scans++;

  for (const QrCode &code : codes) {
    auto it = priv->tracked.find (code.symbol);
    if (it == priv->tracked.end ()) {
      priv->tracked[code.symbol] = QrTracked{running_time, 0};
      to_post.push_back (&code);
      continue;
    }
    QrTracked &seen = it->second;
    if (seen.missed_scans == 0)
      continue; /* the same symbol twice in one frame */
    seen.missed_scans = 0;
    GstClockTime repeat = repeat_interval_ms * GST_MSECOND;
    bool due = repeat_interval_ms > 0
               && (!GST_CLOCK_TIME_IS_VALID (running_time)
                   || !GST_CLOCK_TIME_IS_VALID (seen.last_posted)
                   || running_time < seen.last_posted
                   || running_time - seen.last_posted >= repeat);
    if (due) {
      seen.last_posted = running_time;
      to_post.push_back (&code);
    }
  }

  for (auto it = priv->tracked.begin (); it != priv->tracked.end ();) {
    if (it->second.missed_scans >= MISSED_SCANS_TO_FORGET)
      it = priv->tracked.erase (it);
    else
      ++it;
  }
  return to_post;
}

/* Runs on the worker thread: scans one frame, posts its codes and keeps
 * their outlines for drawing. */
static void
qr_detect_scan_job (GstQrDetect *self, QrScanJob &job)
{
  GstQrDetectPrivate *priv = self->priv;

  GST_OBJECT_LOCK (self);
  int scan_width = priv->scan_width;
  guint repeat_interval_ms = priv->repeat_interval_ms;
  bool post = priv->message;
  GST_OBJECT_UNLOCK (self);

  std::vector<QrCode> codes;
  bool failed = false;
  std::string error;
  try {
    if (!priv->decoder) {
      priv->detector.reset (new cv::QRCodeDetector ());
      priv->decoder.reset (new cv::wechat_qrcode::WeChatQRCode ());
    }
    codes =
        qr_detect_scan (self, *priv->detector, *priv->decoder, job, scan_width);
  } catch (const cv::Exception &e) {
    failed = true;
    error = e.what ();
  } catch (const std::exception &e) {
    failed = true;
    error = e.what ();
  } catch (...) {
    failed = true;
    error = "unknown exception";
  }
  if (failed) {
    GST_ELEMENT_WARNING (
        self, LIBRARY, FAILED, ("QR code scan failed"), ("%s", error.c_str ()));
  }

  std::vector<const QrCode *> to_post =
      qr_detect_track (priv, codes, job.running_time, repeat_interval_ms);
  for (const QrCode *code : to_post) {
    GST_DEBUG_OBJECT (self, "code '%s' at %" GST_TIME_FORMAT,
        code->symbol.c_str (), GST_TIME_ARGS (job.running_time));
    if (post) {
      gst_element_post_message (
          GST_ELEMENT (self), qr_code_message (self, job, *code));
    }
  }

  std::vector<std::vector<cv::Point>> outlines;
  for (const QrCode &code : codes) {
    if (!code.corners.empty ())
      outlines.push_back (code.corners);
  }
  GST_OBJECT_LOCK (self);
  priv->outlines = std::move (outlines);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_qr_detect_start (GstBaseTransform *trans)
{
  GstQrDetect *self = GST_QR_DETECT (trans);
  GstQrDetectPrivate *priv = self->priv;

  priv->tracked.clear ();
  priv->cache.clear ();
  priv->last_handoff = GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (self);
  priv->decodes = 0;
  priv->outlines.clear ();
  GST_OBJECT_UNLOCK (self);
  try {
    priv->worker.start (
        [self] (QrScanJob &job) { qr_detect_scan_job (self, job); });
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not start the QR code scanning thread"), ("%s", e.what ()));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_qr_detect_stop (GstBaseTransform *trans)
{
  GstQrDetect *self = GST_QR_DETECT (trans);
  GstQrDetectPrivate *priv = self->priv;

  priv->worker.stop ();
  GST_OBJECT_LOCK (self);
  priv->outlines.clear ();
  GST_OBJECT_UNLOCK (self);
  priv->tracked.clear ();
  priv->cache.clear ();
  return TRUE;
}

static gboolean
gst_qr_detect_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstQrDetect *self = GST_QR_DETECT (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* A frame from before the flush is not scanned any more. */
      self->priv->worker.flush ();
      break;
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      /* Running time starts again: scan the next frame. */
      self->priv->last_handoff = GST_CLOCK_TIME_NONE;
      break;
    case GST_EVENT_EOS:
      /* Let the scan in flight report before the application sees EOS. */
      self->priv->worker.drain ();
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* Copies the plane with the luma into the job, and says where the luma is. */
static void
qr_fill_job (QrScanJob &job, GstVideoFrame *frame)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  int width = GST_VIDEO_FRAME_WIDTH (frame);
  int height = GST_VIDEO_FRAME_HEIGHT (frame);
  int pixel_stride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);

  cv::Mat plane (height, width, CV_8UC (pixel_stride),
      GST_VIDEO_FRAME_PLANE_DATA (frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0));
  plane.copyTo (job.plane);

  if (GST_VIDEO_FORMAT_INFO_IS_RGB (finfo)) {
    job.luma_channel = -1;
    for (int c = 0; c < 3; c++)
      job.rgb_channel[c] = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c);
  } else {
    job.luma_channel = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, 0);
  }
}

/* Outlines each code on every plane, in green. */
static void
qr_draw_outlines (
    GstVideoFrame *frame, const std::vector<std::vector<cv::Point>> &outlines)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  bool rgb = GST_VIDEO_FORMAT_INFO_IS_RGB (finfo);
  bool gray = GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo);
  /* Green: RGB (0, 255, 0), BT.601 YUV (145, 54, 34); white on gray. */
  const double rgb_green[4] = {0, 255, 0, 255};
  const double yuv_green[4] = {145, 54, 34, 255};
  const double *value = rgb ? rgb_green : yuv_green;
  int thickness = std::max (2, GST_VIDEO_FRAME_WIDTH (frame) / 320);

  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame); p++) {
    int channels = 0;
    cv::Scalar colour = cv::Scalar::all (128);
    int w_sub = 0, h_sub = 0;
    int comp_width = 0, comp_height = 0;
    for (guint c = 0; c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo); c++) {
      if (GST_VIDEO_FORMAT_INFO_PLANE (finfo, c) != p)
        continue;
      int pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, c);
      if (channels == 0) {
        /* The first component of a plane sets its pixel layout. */
        channels = pstride;
        w_sub = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, c);
        h_sub = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, c);
        comp_width = GST_VIDEO_FRAME_COMP_WIDTH (frame, c);
        comp_height = GST_VIDEO_FRAME_COMP_HEIGHT (frame, c);
      }
      int offset = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c);
      /* Interleaved chroma of YUY2 and the like stays neutral. */
      if (pstride == channels && offset < 4)
        colour[offset] = gray ? 255 : value[c];
    }
    if (channels < 1 || channels > 4)
      continue;

    cv::Mat mat (comp_height, comp_width, CV_8UC (channels),
        GST_VIDEO_FRAME_PLANE_DATA (frame, p),
        GST_VIDEO_FRAME_PLANE_STRIDE (frame, p));
    std::vector<std::vector<cv::Point>> scaled;
    for (const auto &outline : outlines) {
      std::vector<cv::Point> points;
      for (const cv::Point &pt : outline)
        points.emplace_back (pt.x >> w_sub, pt.y >> h_sub);
      scaled.push_back (std::move (points));
    }
    cv::polylines (mat, scaled, true, colour,
        std::max (1, thickness >> std::max (w_sub, h_sub)));
  }
}

static GstFlowReturn
gst_qr_detect_transform_frame_ip (GstVideoFilter *filter, GstVideoFrame *frame)
{
  GstQrDetect *self = GST_QR_DETECT (filter);
  GstQrDetectPrivate *priv = self->priv;
  GstBaseTransform *trans = GST_BASE_TRANSFORM (filter);
  GstBuffer *buf = frame->buffer;

  GST_OBJECT_LOCK (self);
  guint interval_ms = priv->interval_ms;
  bool draw = priv->draw;
  GST_OBJECT_UNLOCK (self);

  /* Without a time segment or PTS, interval cannot apply: scan when idle. */
  bool timed = trans->segment.format == GST_FORMAT_TIME;
  GstClockTime timestamp = GST_BUFFER_PTS (buf);
  GstClockTime running_time = timed ? gst_segment_to_running_time (
                                  &trans->segment, GST_FORMAT_TIME, timestamp)
                                    : GST_CLOCK_TIME_NONE;

  /* Hand the frame over only when the previous scan is done and the interval
   * has passed; otherwise it just flows on. */
  bool interval_passed =
      !GST_CLOCK_TIME_IS_VALID (running_time)
      || !GST_CLOCK_TIME_IS_VALID (priv->last_handoff)
      || running_time < priv->last_handoff
      || running_time - priv->last_handoff >= interval_ms * GST_MSECOND;

  std::vector<std::vector<cv::Point>> outlines;
  try {
    /* Only this thread submits: the worker can only become idle meanwhile. */
    if (interval_passed && priv->worker.idle ()) {
      QrScanJob job;
      qr_fill_job (job, frame);
      job.timestamp = timestamp;
      job.duration = GST_BUFFER_DURATION (buf);
      job.running_time = running_time;
      job.stream_time = timed ? gst_segment_to_stream_time (
                            &trans->segment, GST_FORMAT_TIME, timestamp)
                              : GST_CLOCK_TIME_NONE;
      if (priv->worker.submit (std::move (job)))
        priv->last_handoff = running_time;
    }
    if (draw) {
      GST_OBJECT_LOCK (self);
      outlines = priv->outlines;
      GST_OBJECT_UNLOCK (self);
    }

    /* Passthrough maps the frame read-only: draw only on a writable one. */
    if (draw && !outlines.empty ()
        && !gst_base_transform_is_passthrough (trans))
      qr_draw_outlines (frame, outlines);
  } catch (const cv::Exception &e) {
    GST_ELEMENT_WARNING (
        self, LIBRARY, FAILED, ("QR code detection failed"), ("%s", e.what ()));
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING (
        self, LIBRARY, FAILED, ("QR code detection failed"), ("%s", e.what ()));
  }

  return GST_FLOW_OK;
}
