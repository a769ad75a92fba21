/* gst-rooms: tests of qrdetect on QR codes made by the test with OpenCV's
 * encoder, drawn at several sizes, rotations, blur and noise. */

#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

/* After the C++ headers: check.h defines a fail() macro. */
#include "roomcheck.h"

#define MS (GST_MSECOND)

/* The QR code of TEXT, one pixel per module, without quiet zone. */
static cv::Mat
encode_modules (const std::string &text)
{
  cv::Ptr<cv::QRCodeEncoder> encoder = cv::QRCodeEncoder::create ();
  cv::Mat encoded;
  encoder->encode (text, encoded);
  cv::Mat dark = encoded < 128;
  cv::Rect box = cv::boundingRect (dark);
  return encoded (box).clone ();
}

/* Draws the code of TEXT into LUMA, CODE_PX wide (quiet zone not counted),
 * centred on CENTRE and turned by ANGLE degrees (counter-clockwise); returns
 * its four corners in frame pixels. */
static std::vector<cv::Point2f>
draw_code (cv::Mat &luma, const std::string &text, int code_px,
    cv::Point2f centre, double angle)
{
  cv::Mat modules = encode_modules (text);
  int n = modules.cols;
  int quiet = code_px * 4 / n;
  cv::Mat code;
  cv::resize (
      modules, code, cv::Size (code_px, code_px), 0, 0, cv::INTER_NEAREST);
  cv::Mat canvas;
  cv::copyMakeBorder (code, canvas, quiet, quiet, quiet, quiet,
      cv::BORDER_CONSTANT, cv::Scalar (255));

  cv::Point2f canvas_centre (canvas.cols / 2.0f, canvas.rows / 2.0f);
  cv::Mat m = cv::getRotationMatrix2D (canvas_centre, angle, 1.0);
  m.at<double> (0, 2) += centre.x - canvas_centre.x;
  m.at<double> (1, 2) += centre.y - canvas_centre.y;

  cv::Mat warped, mask;
  cv::warpAffine (canvas, warped, m, luma.size (), cv::INTER_LINEAR,
      cv::BORDER_CONSTANT, cv::Scalar (0));
  cv::warpAffine (cv::Mat (canvas.size (), CV_8UC1, cv::Scalar (255)), mask, m,
      luma.size (), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar (0));
  warped.copyTo (luma, mask);

  std::vector<cv::Point2f> corners = {{(float)quiet, (float)quiet},
      {(float)(quiet + code_px), (float)quiet},
      {(float)(quiet + code_px), (float)(quiet + code_px)},
      {(float)quiet, (float)(quiet + code_px)}};
  cv::transform (corners, corners, m);
  return corners;
}

static cv::Mat
background (int width, int height)
{
  /* A soft gradient, so the frame is not trivially flat. */
  cv::Mat luma (height, width, CV_8UC1);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      luma.at<guint8> (y, x) = (guint8)(90 + 60 * x / width + 20 * y / height);
  return luma;
}

/* A buffer of FORMAT whose luma is LUMA (and neutral chroma). */
static GstBuffer *
make_buffer (const cv::Mat &luma, GstVideoFormat format, GstClockTime pts)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, format, luma.cols, luma.rows);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));

  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    guint8 *data = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gsize size = (gsize)GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p)
                 * GST_VIDEO_FRAME_COMP_HEIGHT (&frame, p);
    memset (data, 128, size);
  }

  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  void *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8:
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_NV12:
      luma.copyTo (cv::Mat (luma.rows, luma.cols, CV_8UC1, data, stride));
      break;
    case GST_VIDEO_FORMAT_YUY2: {
      cv::Mat packed (luma.rows, luma.cols, CV_8UC2, data, stride);
      cv::Mat chroma (luma.size (), CV_8UC1, cv::Scalar (128));
      cv::merge (std::vector<cv::Mat>{luma, chroma}, packed);
      break;
    }
    case GST_VIDEO_FORMAT_BGRx:
      cv::cvtColor (luma, cv::Mat (luma.rows, luma.cols, CV_8UC4, data, stride),
          cv::COLOR_GRAY2BGRA);
      break;
    case GST_VIDEO_FORMAT_RGB:
      cv::cvtColor (luma, cv::Mat (luma.rows, luma.cols, CV_8UC3, data, stride),
          cv::COLOR_GRAY2RGB);
      break;
    default:
      fail ("format not handled by the test");
  }
  gst_video_frame_unmap (&frame);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = 33 * MS;
  return buf;
}

struct Fixture {
  GstHarness *h;
  GstBus *bus;
};

static Fixture
fixture_new (GstVideoFormat format, int width, int height)
{
  Fixture f;
  f.h = gst_harness_new ("qrdetect");
  f.bus = gst_bus_new ();
  gst_element_set_bus (f.h->element, f.bus);
  gchar *caps = g_strdup_printf (
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1",
      gst_video_format_to_string (format), width, height);
  gst_harness_set_src_caps_str (f.h, caps);
  g_free (caps);
  return f;
}

static void
fixture_free (Fixture &f)
{
  gst_element_set_bus (f.h->element, NULL);
  gst_bus_set_flushing (f.bus, TRUE);
  gst_object_unref (f.bus);
  gst_harness_teardown (f.h);
}

static guint64
scans (Fixture &f)
{
  guint64 n = 0;
  g_object_get (f.h->element, "scans", &n, NULL);
  return n;
}

/* Waits (bounded) until the element has finished N scans. */
static void
wait_scans (Fixture &f, guint64 n)
{
  for (int i = 0; i < 20000 && scans (f) < n; i++)
    g_usleep (1000);
  fail_unless (scans (f) >= n, "scan %" G_GUINT64_FORMAT " never finished", n);
}

/* Pushes one frame, checks it comes out, and waits for its scan. */
static void
push_scanned (
    Fixture &f, const cv::Mat &luma, GstVideoFormat format, GstClockTime pts)
{
  guint64 before = scans (f);
  fail_unless_equals_int (
      gst_harness_push (f.h, make_buffer (luma, format, pts)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (f.h));
  wait_scans (f, before + 1);
}

static GstMessage *
pop_code (Fixture &f, GstClockTime timeout = 0)
{
  return gst_bus_timed_pop_filtered (f.bus, timeout, GST_MESSAGE_ELEMENT);
}

/* The symbol, valid as long as MSG. */
static const gchar *
message_symbol (GstMessage *msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  fail_unless (gst_structure_has_name (s, "qrdetect"));
  fail_unless_equals_string (gst_structure_get_string (s, "type"), "QR-Code");
  return gst_structure_get_string (s, "symbol");
}

static GstClockTime
message_running_time (GstMessage *msg)
{
  guint64 t = GST_CLOCK_TIME_NONE;
  fail_unless (gst_structure_get_uint64 (
      gst_message_get_structure (msg), "running-time", &t));
  return t;
}

static std::vector<cv::Point2f>
message_points (GstMessage *msg)
{
  const GValue *points =
      gst_structure_get_value (gst_message_get_structure (msg), "points");
  fail_unless (points != NULL && GST_VALUE_HOLDS_ARRAY (points));
  std::vector<cv::Point2f> out;
  for (guint i = 0; i < gst_value_array_get_size (points); i++) {
    const GValue *pair = gst_value_array_get_value (points, i);
    fail_unless_equals_int (gst_value_array_get_size (pair), 2);
    out.emplace_back (
        (float)g_value_get_int (gst_value_array_get_value (pair, 0)),
        (float)g_value_get_int (gst_value_array_get_value (pair, 1)));
  }
  return out;
}

/* Every expected corner has a reported corner within TOLERANCE pixels. */
static void
assert_corners (const std::vector<cv::Point2f> &got,
    const std::vector<cv::Point2f> &expected, double tolerance)
{
  fail_unless_equals_int (got.size (), 4);
  for (const cv::Point2f &e : expected) {
    double nearest = 1e9;
    for (const cv::Point2f &g : got)
      nearest = std::min (nearest, (double)cv::norm (g - e));
    fail_unless (nearest <= tolerance,
        "corner (%.0f, %.0f) reported %.1f px away (tolerance %.1f)", e.x, e.y,
        nearest, tolerance);
  }
}

struct Variant {
  const char *symbol;
  int code_px;
  double angle, blur_sigma, noise_sigma;
};

GST_START_TEST (test_sizes_rotations_blur_noise)
{
  const Variant variants[] = {
      {"room-42", 300, 0, 0, 0},
      {"https://rooms.example/join/abc", 180, 0, 0, 0},
      {"big code, full height-ish", 560, 0, 0, 0},
      {"turned 30", 300, 30, 0, 0},
      {"upside down", 260, 180, 0, 0},
      {"turned 285", 320, 285, 0, 0},
      {"blurred", 300, 10, 2.0, 0},
      {"noisy", 300, -15, 0, 12},
      {"blur and noise", 360, 45, 1.5, 8},
      {"low contrast", 300, 5, 1.0, 4},
  };

  for (const Variant &v : variants) {
    Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 1280, 720);
    cv::Mat luma = background (1280, 720);
    std::vector<cv::Point2f> corners =
        draw_code (luma, v.symbol, v.code_px, {700, 370}, v.angle);
    if (g_str_equal (v.symbol, "low contrast")) /* a dim, grey print */
      luma.convertTo (luma, -1, 0.25, 90);
    if (v.blur_sigma > 0)
      cv::GaussianBlur (luma, luma, cv::Size (0, 0), v.blur_sigma);
    if (v.noise_sigma > 0) {
      cv::Mat noise (luma.size (), CV_16SC1);
      cv::theRNG ().state = 42;
      cv::randn (noise, 0, v.noise_sigma);
      cv::Mat noisy;
      luma.convertTo (noisy, CV_16SC1);
      noisy += noise;
      noisy.convertTo (luma, CV_8UC1);
    }
    push_scanned (f, luma, GST_VIDEO_FORMAT_I420, 0);

    GstMessage *msg = pop_code (f);
    fail_unless (msg != NULL, "'%s' not found", v.symbol);
    fail_unless_equals_string (message_symbol (msg), v.symbol);
    assert_corners (
        message_points (msg), corners, std::max (8.0, 0.05 * v.code_px));
    fail_unless_equals_uint64 (message_running_time (msg), 0);
    gst_message_unref (msg);
    fail_unless (pop_code (f) == NULL, "'%s' posted twice", v.symbol);
    fixture_free (f);
  }
}

GST_END_TEST;

GST_START_TEST (test_formats)
{
  const GstVideoFormat formats[] = {GST_VIDEO_FORMAT_GRAY8,
      GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_BGRx,
      GST_VIDEO_FORMAT_RGB};
  for (GstVideoFormat format : formats) {
    Fixture f = fixture_new (format, 640, 480);
    cv::Mat luma = background (640, 480);
    std::string text =
        std::string ("format ") + gst_video_format_to_string (format);
    std::vector<cv::Point2f> corners =
        draw_code (luma, text, 200, {300, 250}, 20);
    push_scanned (f, luma, format, 0);
    GstMessage *msg = pop_code (f);
    fail_unless (msg != NULL, "nothing found in %s", text.c_str ());
    fail_unless_equals_string (message_symbol (msg), text.c_str ());
    assert_corners (message_points (msg), corners, 8);
    gst_message_unref (msg);
    fixture_free (f);
  }
}

GST_END_TEST;

GST_START_TEST (test_two_codes)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 1280, 720);
  cv::Mat luma = background (1280, 720);
  std::vector<cv::Point2f> left = draw_code (luma, "left", 280, {300, 360}, 0);
  std::vector<cv::Point2f> right =
      draw_code (luma, "right one", 240, {950, 330}, 25);
  push_scanned (f, luma, GST_VIDEO_FORMAT_I420, 0);

  bool seen_left = false, seen_right = false;
  for (int i = 0; i < 2; i++) {
    GstMessage *msg = pop_code (f);
    fail_unless (msg != NULL, "only %d of 2 codes posted", i);
    std::string symbol = message_symbol (msg);
    if (symbol == "left") {
      seen_left = true;
      assert_corners (message_points (msg), left, 10);
    } else {
      fail_unless_equals_string (symbol.c_str (), "right one");
      seen_right = true;
      assert_corners (message_points (msg), right, 10);
    }
    gst_message_unref (msg);
  }
  fail_unless (seen_left && seen_right);
  fail_unless (pop_code (f) == NULL);
  fixture_free (f);
}

GST_END_TEST;

static guint64
decodes (Fixture &f)
{
  guint64 n = 0;
  g_object_get (f.h->element, "decodes", &n, NULL);
  return n;
}

/* Pops one message and checks its symbol and corners. */
static void
expect_code (Fixture &f, const char *symbol,
    const std::vector<cv::Point2f> &corners, GstClockTime running_time)
{
  GstMessage *msg = pop_code (f);
  fail_unless (msg != NULL, "'%s' not posted", symbol);
  fail_unless_equals_string (message_symbol (msg), symbol);
  assert_corners (message_points (msg), corners, 8);
  fail_unless_equals_uint64 (message_running_time (msg), running_time);
  gst_message_unref (msg);
  fail_unless (pop_code (f) == NULL);
}

/* A code that stays (or drifts a pixel or two) is decoded once: later scans
 * reuse its symbol, still posted per repeat-interval at its new corners. */
GST_START_TEST (test_cache_same_code)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 1280, 720);
  g_object_set (f.h->element, "interval", 0, "repeat-interval", 1, NULL);
  cv::Mat luma = background (1280, 720);
  std::vector<cv::Point2f> corners =
      draw_code (luma, "same place", 300, {640, 360}, 12);
  push_scanned (f, luma, GST_VIDEO_FORMAT_I420, 0);
  expect_code (f, "same place", corners, 0);
  fail_unless_equals_uint64 (decodes (f), 1);

  push_scanned (f, luma, GST_VIDEO_FORMAT_I420, 33 * MS);
  expect_code (f, "same place", corners, 33 * MS);

  cv::Mat moved = background (1280, 720);
  corners = draw_code (moved, "same place", 300, {642, 359}, 12.3);
  push_scanned (f, moved, GST_VIDEO_FORMAT_I420, 66 * MS);
  expect_code (f, "same place", corners, 66 * MS);
  fail_unless_equals_uint64 (decodes (f), 1);

  /* Far away: decoded again. */
  cv::Mat away = background (1280, 720);
  corners = draw_code (away, "same place", 300, {400, 360}, 12);
  push_scanned (f, away, GST_VIDEO_FORMAT_I420, 99 * MS);
  expect_code (f, "same place", corners, 99 * MS);
  fail_unless_equals_uint64 (decodes (f), 2);
  fixture_free (f);
}

GST_END_TEST;

/* Another symbol of the same size at the same place is decoded, never
 * reported with the previous symbol. */
GST_START_TEST (test_cache_changed_symbol)
{
  const char *symbols[] = {"https://rooms.example/r/0001",
      "https://rooms.example/r/0002", "https://rooms.example/x/9999",
      "https://rooms.example/r/0001"};
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 1280, 720);
  g_object_set (f.h->element, "interval", 0, "repeat-interval", 1, NULL);
  int n = encode_modules (symbols[0]).cols;
  for (int i = 0; i < 4; i++) {
    fail_unless_equals_int (encode_modules (symbols[i]).cols, n);
    cv::Mat luma = background (1280, 720);
    std::vector<cv::Point2f> corners =
        draw_code (luma, symbols[i], 280, {640, 360}, 0);
    push_scanned (f, luma, GST_VIDEO_FORMAT_I420, i * 33 * MS);
    expect_code (f, symbols[i], corners, i * 33 * MS);
    fail_unless_equals_uint64 (decodes (f), i + 1);
  }
  fixture_free (f);
}

GST_END_TEST;

/* A code stretched 1.5 times wider than high: its finders form no right
 * isosceles triangle, so it is found by the QRCodeDetector fallback. */
GST_START_TEST (test_stretched_code_fallback)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 1280, 720);
  cv::Mat narrow = background (853, 720);
  std::vector<cv::Point2f> corners =
      draw_code (narrow, "stretched", 300, {426, 360}, 0);
  cv::Mat luma;
  cv::resize (narrow, luma, cv::Size (1280, 720), 0, 0, cv::INTER_LINEAR);
  for (cv::Point2f &p : corners)
    p.x *= 1280.0f / 853;
  push_scanned (f, luma, GST_VIDEO_FORMAT_I420, 0);
  GstMessage *msg = pop_code (f);
  fail_unless (msg != NULL, "stretched code not found");
  fail_unless_equals_string (message_symbol (msg), "stretched");
  assert_corners (message_points (msg), corners, 12);
  gst_message_unref (msg);
  fixture_free (f);
}

GST_END_TEST;

/* A code staying in view is posted when it appears and then every
 * repeat-interval; one that leaves and comes back is posted again; frames
 * closer than interval are not scanned. */
GST_START_TEST (test_repeat_leave_return)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 640, 360);
  g_object_set (f.h->element, "interval", 100, "repeat-interval", 1000, NULL);
  cv::Mat with_code = background (640, 360);
  draw_code (with_code, "stay", 200, {320, 180}, 0);
  cv::Mat without = background (640, 360);

  std::vector<GstClockTime> posted;
  for (int i = 0; i <= 25; i++) /* 0 .. 2.5 s, every 100 ms */
    push_scanned (f, with_code, GST_VIDEO_FORMAT_I420, i * 100 * MS);
  GstMessage *msg;
  while ((msg = pop_code (f)) != NULL) {
    fail_unless_equals_string (message_symbol (msg), "stay");
    posted.push_back (message_running_time (msg));
    gst_message_unref (msg);
  }
  fail_unless_equals_int (posted.size (), 3);
  fail_unless_equals_uint64 (posted[0], 0);
  fail_unless_equals_uint64 (posted[1], 1000 * MS);
  fail_unless_equals_uint64 (posted[2], 2000 * MS);

  /* Gone for two scans, then back: posted again at once. */
  push_scanned (f, without, GST_VIDEO_FORMAT_I420, 2600 * MS);
  push_scanned (f, without, GST_VIDEO_FORMAT_I420, 2700 * MS);
  fail_unless (pop_code (f) == NULL);
  push_scanned (f, with_code, GST_VIDEO_FORMAT_I420, 2800 * MS);
  msg = pop_code (f);
  fail_unless (msg != NULL, "returning code not posted");
  fail_unless_equals_uint64 (message_running_time (msg), 2800 * MS);
  gst_message_unref (msg);

  /* interval: a frame 10 ms later is not handed over although the worker is
   * idle; the next scanned frame is the one 100 ms later. */
  g_object_set (f.h->element, "repeat-interval", 1, NULL);
  fail_unless_equals_int (
      gst_harness_push (
          f.h, make_buffer (with_code, GST_VIDEO_FORMAT_I420, 2810 * MS)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (f.h));
  push_scanned (f, with_code, GST_VIDEO_FORMAT_I420, 2900 * MS);
  msg = pop_code (f);
  fail_unless (msg != NULL);
  fail_unless_equals_uint64 (message_running_time (msg), 2900 * MS);
  gst_message_unref (msg);
  fail_unless (pop_code (f) == NULL);

  /* repeat-interval=0: only on appearance. */
  g_object_set (f.h->element, "repeat-interval", 0, NULL);
  for (int i = 30; i < 50; i++)
    push_scanned (f, with_code, GST_VIDEO_FORMAT_I420, i * 100 * MS);
  fail_unless (pop_code (f) == NULL);

  /* message=false: nothing on the bus. */
  g_object_set (f.h->element, "message", FALSE, NULL);
  push_scanned (f, without, GST_VIDEO_FORMAT_I420, 5000 * MS);
  push_scanned (f, without, GST_VIDEO_FORMAT_I420, 5100 * MS);
  push_scanned (f, with_code, GST_VIDEO_FORMAT_I420, 5200 * MS);
  fail_unless (pop_code (f) == NULL);
  fixture_free (f);
}

GST_END_TEST;

GST_START_TEST (test_passthrough_and_draw)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 640, 480);
  cv::Mat luma = background (640, 480);
  std::vector<cv::Point2f> corners =
      draw_code (luma, "draw me", 240, {320, 240}, 0);

  /* draw=false: the very same bytes come out, also after a scan found it. */
  for (int i = 0; i < 3; i++) {
    GstBuffer *in = make_buffer (luma, GST_VIDEO_FORMAT_I420, i * 100 * MS);
    GstBuffer *copy = gst_buffer_copy_deep (in);
    guint64 before = scans (f);
    fail_unless_equals_int (gst_harness_push (f.h, in), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull (f.h);
    GstMapInfo a, b;
    gst_buffer_map (out, &a, GST_MAP_READ);
    gst_buffer_map (copy, &b, GST_MAP_READ);
    fail_unless_equals_uint64 (a.size, b.size);
    fail_unless (memcmp (a.data, b.data, a.size) == 0, "frame modified");
    gst_buffer_unmap (out, &a);
    gst_buffer_unmap (copy, &b);
    gst_buffer_unref (out);
    gst_buffer_unref (copy);
    wait_scans (f, before + 1);
  }
  GstMessage *msg = pop_code (f);
  fail_unless (msg != NULL);
  gst_message_unref (msg);

  /* draw=true, switched on while running: the outline is drawn in green
   * (luma 145) along the edges of the code. */
  g_object_set (f.h->element, "draw", TRUE, NULL);
  fail_unless_equals_int (
      gst_harness_push (
          f.h, make_buffer (luma, GST_VIDEO_FORMAT_I420, 1000 * MS)),
      GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull (f.h);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 640, 480);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  cv::Mat drawn (480, 640, CV_8UC1, GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0));
  cv::Mat u (240, 320, CV_8UC1, GST_VIDEO_FRAME_PLANE_DATA (&frame, 1),
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1));
  for (int c = 0; c < 4; c++) {
    cv::Point2f mid = (corners[c] + corners[(c + 1) % 4]) * 0.5f;
    fail_unless_equals_int (drawn.at<guint8> ((int)mid.y, (int)mid.x), 145);
    /* Chroma is drawn at half resolution: look around the midpoint. */
    cv::Mat around =
        u (cv::Rect ((int)mid.x / 2 - 1, (int)mid.y / 2 - 1, 3, 3));
    fail_unless (cv::countNonZero (around == 54) > 0, "no green chroma");
  }
  /* Away from the code, nothing changed. */
  fail_unless_equals_int (drawn.at<guint8> (10, 10), luma.at<guint8> (10, 10));
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);
  fixture_free (f);
}

GST_END_TEST;

GST_START_TEST (test_draw_rgb)
{
  Fixture f = fixture_new (GST_VIDEO_FORMAT_BGRx, 640, 480);
  g_object_set (f.h->element, "draw", TRUE, NULL);
  cv::Mat luma = background (640, 480);
  std::vector<cv::Point2f> corners =
      draw_code (luma, "green box", 220, {330, 230}, 15);
  /* Frames without PTS are scanned too (whenever the worker is idle). */
  push_scanned (f, luma, GST_VIDEO_FORMAT_BGRx, GST_CLOCK_TIME_NONE);
  GstMessage *msg = pop_code (f);
  fail_unless (msg != NULL);
  fail_unless_equals_string (message_symbol (msg), "green box");
  gst_message_unref (msg);

  fail_unless_equals_int (
      gst_harness_push (
          f.h, make_buffer (luma, GST_VIDEO_FORMAT_BGRx, GST_CLOCK_TIME_NONE)),
      GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull (f.h);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 640, 480);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  cv::Mat bgrx (480, 640, CV_8UC4, GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0));
  for (int c = 0; c < 4; c++) {
    cv::Point2f mid = (corners[c] + corners[(c + 1) % 4]) * 0.5f;
    cv::Vec4b px = bgrx.at<cv::Vec4b> ((int)mid.y, (int)mid.x);
    fail_unless (px[0] == 0 && px[1] == 255 && px[2] == 0,
        "edge %d not green: %d,%d,%d", c, px[2], px[1], px[0]);
  }
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);
  fixture_free (f);
}

GST_END_TEST;

/* Detection made slow (4K scanned at full size): every frame still comes out
 * at once, none waits for the worker. */
GST_START_TEST (test_never_delays_frames)
{
  const int frames = 12;
  Fixture f = fixture_new (GST_VIDEO_FORMAT_GRAY8, 3840, 2160);
  g_object_set (f.h->element, "scan-width", 0, "interval", 0, NULL);
  cv::Mat luma = background (3840, 2160);
  draw_code (luma, "four k", 900, {1900, 1100}, 0);

  std::vector<GstBuffer *> bufs;
  for (int i = 0; i < frames; i++)
    bufs.push_back (make_buffer (luma, GST_VIDEO_FORMAT_GRAY8, i * 33 * MS));
  for (int i = 0; i < frames; i++) {
    fail_unless_equals_int (gst_harness_push (f.h, bufs[i]), GST_FLOW_OK);
    /* In place: the frame is already downstream when push returns. */
    GstBuffer *out = gst_harness_try_pull (f.h);
    fail_unless (out != NULL, "frame %d held back", i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 33 * MS);
    gst_buffer_unref (out);
  }
  /* The worker cannot have scanned them all: slow scans skip frames. */
  fail_unless (scans (f) < (guint64)frames);

  /* EOS waits for the scan in flight, which reports the code. */
  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  GstMessage *msg = pop_code (f, 20 * GST_SECOND);
  fail_unless (msg != NULL);
  fail_unless_equals_string (message_symbol (msg), "four k");
  gst_message_unref (msg);
  fixture_free (f);
}

GST_END_TEST;

GST_START_TEST (test_bad_caps)
{
  GstHarness *h = gst_harness_new ("qrdetect");
  gst_harness_set_src_caps_str (
      h, "video/x-raw,format=GRAY16_LE,width=64,height=64,framerate=30/1");
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 64 * 2, NULL);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
qrdetect_suite (void)
{
  Suite *s = suite_create ("qrdetect");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_sizes_rotations_blur_noise);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_two_codes);
  tcase_add_test (tc, test_repeat_leave_return);
  tcase_add_test (tc, test_cache_same_code);
  tcase_add_test (tc, test_cache_changed_symbol);
  tcase_add_test (tc, test_stretched_code_fallback);
  tcase_add_test (tc, test_passthrough_and_draw);
  tcase_add_test (tc, test_draw_rgb);
  tcase_add_test (tc, test_never_delays_frames);
  tcase_add_test (tc, test_bad_caps);
  return s;
}

ROOM_CHECK_MAIN (qrdetect);
