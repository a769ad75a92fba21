/* gst-rooms: faceoverlayfilter finds the faces OpenCV finds, draws the image
 * (or a blur) exactly over them, tells about changes, never holds frames back
 * and reports bad files clearly.
 *
 * Faces come from pictures in Debian's opencv-doc (Lena and the Mona Lisa);
 * the reference rectangles are computed here by running OpenCV's detector
 * directly on the full-resolution picture. */
/* OpenCV and the C++ library first: gst-check defines a `fail` macro that
 * would clash with std::ios::fail. */
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <string>
#include <vector>

#include "roomcheck.h"

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#define DOC_HTML "/usr/share/doc/opencv-doc/opencv4/html/"
#define LENA DOC_HTML "faceDetection.png"
#define MONA_LISA DOC_HTML "julia_facedetect_sample.jpg"
#define CASCADE                                                                \
  "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define FRAME_STEP (200 * GST_MSECOND) /* more than the default interval */

static gchar *tmp_dir;

/* ---- Pictures and buffers ---- */

/* Loads a Debian sample picture, decompressing a `.gz` copy if that is how
 * the package ships it. */
static cv::Mat
load_sample (const std::string &path)
{
  if (!g_file_test (path.c_str (), G_FILE_TEST_EXISTS)) {
    std::string gz = path + ".gz";
    fail_unless (g_file_test (gz.c_str (), G_FILE_TEST_EXISTS),
        "sample %s missing (package opencv-doc)", path.c_str ());
    g_autofree gchar *base = g_path_get_basename (path.c_str ());
    g_autofree gchar *out = g_build_filename (tmp_dir, base, NULL);
    g_autofree gchar *cmd =
        g_strdup_printf ("sh -c 'gzip -dc \"%s\" > \"%s\"'", gz.c_str (), out);
    fail_unless (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
    return cv::imread (out, cv::IMREAD_COLOR);
  }
  cv::Mat bgr = cv::imread (path, cv::IMREAD_COLOR);
  fail_if (bgr.empty (), "could not read %s", path.c_str ());
  return bgr;
}

/* Two faces side by side in a 640x480 frame. */
static cv::Mat
two_faces_frame ()
{
  cv::Mat canvas (480, 640, CV_8UC3, cv::Scalar (90, 90, 90));
  cv::Mat lena = load_sample (LENA), mona = load_sample (MONA_LISA);
  cv::resize (lena, canvas (cv::Rect (0, 80, 320, 320)), cv::Size (320, 320));
  cv::Mat m;
  cv::resize (mona, m, cv::Size (300, 444));
  m (cv::Rect (0, 0, 300, 440)).copyTo (canvas (cv::Rect (330, 20, 300, 440)));
  return canvas;
}

/* Fills a buffer of @format from a BGR picture. */
static GstBuffer *
make_buffer (const cv::Mat &bgr, GstVideoFormat format)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, format, bgr.cols, bgr.rows);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  int w = bgr.cols, h = bgr.rows;
  auto plane = [&frame] (int p, int rows, int cols, int type) {
    return cv::Mat (rows, cols, type, GST_VIDEO_FRAME_PLANE_DATA (&frame, p),
        GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p));
  };
  switch (format) {
    case GST_VIDEO_FORMAT_RGBA: {
      cv::Mat dst = plane (0, h, w, CV_8UC4);
      cv::cvtColor (bgr, dst, cv::COLOR_BGR2RGBA);
      break;
    }
    case GST_VIDEO_FORMAT_BGRx: {
      cv::Mat dst = plane (0, h, w, CV_8UC4);
      cv::cvtColor (bgr, dst, cv::COLOR_BGR2BGRA);
      break;
    }
    case GST_VIDEO_FORMAT_GRAY8: {
      cv::Mat dst = plane (0, h, w, CV_8UC1);
      cv::cvtColor (bgr, dst, cv::COLOR_BGR2GRAY);
      break;
    }
    case GST_VIDEO_FORMAT_I420: {
      cv::Mat yuv;
      cv::cvtColor (bgr, yuv, cv::COLOR_BGR2YUV_I420);
      yuv (cv::Rect (0, 0, w, h)).copyTo (plane (0, h, w, CV_8UC1));
      cv::Mat u = yuv (cv::Rect (0, h, w, h / 4)).clone ().reshape (1, h / 2);
      cv::Mat v =
          yuv (cv::Rect (0, h + h / 4, w, h / 4)).clone ().reshape (1, h / 2);
      u.copyTo (plane (1, h / 2, w / 2, CV_8UC1));
      v.copyTo (plane (2, h / 2, w / 2, CV_8UC1));
      break;
    }
    default:
      fail ("format not handled by the test");
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* @in converted from @from to @to with GStreamer's own converter. */
static GstBuffer *
convert_buffer (
    GstBuffer *in, GstVideoFormat from, GstVideoFormat to, int w, int h)
{
  GstVideoInfo in_info, out_info;
  gst_video_info_set_format (&in_info, from, w, h);
  gst_video_info_set_format (&out_info, to, w, h);
  GstVideoConverter *conv = gst_video_converter_new (&in_info, &out_info, NULL);
  GstBuffer *out = gst_buffer_new_allocate (NULL, out_info.size, NULL);
  GstVideoFrame in_frame, out_frame;
  fail_unless (gst_video_frame_map (&in_frame, &in_info, in, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&out_frame, &out_info, out, GST_MAP_WRITE));
  gst_video_converter_frame (conv, &in_frame, &out_frame);
  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);
  gst_video_converter_free (conv);
  return out;
}

/* A copy of plane @p of @buf. */
static cv::Mat
plane_of (GstBuffer *buf, GstVideoFormat format, int w, int h, int p)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, format, w, h);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
  int comp = p; /* for the formats used here plane p holds component p */
  int pw = GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp);
  int ph = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp);
  int ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp);
  cv::Mat copy =
      cv::Mat (ph, pw, CV_8UC (ps), GST_VIDEO_FRAME_PLANE_DATA (&frame, p),
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p))
          .clone ();
  gst_video_frame_unmap (&frame);
  return copy;
}

/* Non-zero where any channel of the two pictures differs. */
static cv::Mat
changed_pixels (const cv::Mat &a, const cv::Mat &b)
{
  cv::Mat diff, changed;
  cv::absdiff (a, b, diff);
  cv::transform (diff, changed, cv::Matx<float, 1, 4> (1, 1, 1, 1));
  return changed;
}

/* ---- Reference faces ---- */

static double
iou (const cv::Rect &a, const cv::Rect &b)
{
  double inter = (a & b).area ();
  return inter / (a.area () + b.area () - inter);
}

/* OpenCV's own answer at full resolution (same parameters as the element's
 * defaults), limited to faces big enough to be seen at @detect_width. */
static std::vector<cv::Rect>
reference_faces (const cv::Mat &bgr, int detect_width)
{
  cv::CascadeClassifier classifier (CASCADE);
  fail_if (classifier.empty ());
  cv::Mat grey;
  cv::cvtColor (bgr, grey, cv::COLOR_BGR2GRAY);
  std::vector<cv::Rect> faces;
  int min = (int)std::ceil (24.0 * bgr.cols / detect_width);
  classifier.detectMultiScale (grey, faces, 1.15, 3, 0, cv::Size (min, min));
  return faces;
}

/* ---- Harness and messages ---- */

struct Fixture {
  GstHarness *h;
  GstBus *bus;
  GstVideoFormat format;
  int width, height;
  GstClockTime pts = 0;
  GstClockTime step = FRAME_STEP; /* between two frames' timestamps */
};

static Fixture
fixture_new (
    GstVideoFormat format, int width, int height, const char *properties = "")
{
  Fixture f;
  g_autofree gchar *launch =
      g_strdup_printf ("faceoverlayfilter name=fof %s", properties);
  f.h = gst_harness_new_parse (launch);
  f.bus = gst_bus_new ();
  gst_element_set_bus (f.h->element, f.bus);
  f.format = format;
  f.width = width;
  f.height = height;
  g_autofree gchar *caps =
      g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,framerate=5/1",
          gst_video_format_to_string (format), width, height);
  gst_harness_set_src_caps_str (f.h, caps);
  return f;
}

static void
fixture_free (Fixture &f)
{
  gst_harness_teardown (f.h);
  gst_bus_set_flushing (f.bus, TRUE);
  gst_object_unref (f.bus);
}

static GstElement *
element_of (Fixture &f)
{
  /* The parsed launch line is a bin with one child, or the element itself. */
  if (GST_IS_BIN (f.h->element)) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (f.h->element), "fof");
    gst_object_unref (e);
    return e;
  }
  return f.h->element;
}

/* Pushes @input (a new timestamp each time) and returns what comes out. */
static GstBuffer *
push_frame (Fixture &f, GstBuffer *input)
{
  GstBuffer *buf = gst_buffer_copy (input);
  GST_BUFFER_PTS (buf) = f.pts;
  GST_BUFFER_DURATION (buf) = f.step;
  f.pts += f.step;
  fail_unless_equals_int (gst_harness_push (f.h, buf), GST_FLOW_OK);
  GstBuffer *out = gst_harness_try_pull (f.h);
  fail_unless (out != NULL, "the frame did not come out at once");
  return out;
}

/* The next faceoverlayfilter message (failing on an error message). */
static GstMessage *
wait_faces_message (Fixture &f, GstClockTime timeout = 20 * GST_SECOND)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (f.bus, timeout,
      (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
  fail_unless (msg != NULL, "no faceoverlayfilter message");
  fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "unexpected error");
  fail_unless (gst_message_has_name (msg, "faceoverlayfilter"));
  return msg;
}

static std::vector<cv::Rect>
faces_of (GstMessage *msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  const GValue *faces = gst_structure_get_value (s, "faces");
  fail_unless (faces && GST_VALUE_HOLDS_ARRAY (faces));
  std::vector<cv::Rect> rects;
  for (guint i = 0; i < gst_value_array_get_size (faces); i++) {
    const GValue *v = gst_value_array_get_value (faces, i);
    fail_unless (GST_VALUE_HOLDS_STRUCTURE (v));
    const GstStructure *face = gst_value_get_structure (v);
    fail_unless (gst_structure_has_name (face, "face"));
    cv::Rect r;
    fail_unless (gst_structure_get_int (face, "x", &r.x));
    fail_unless (gst_structure_get_int (face, "y", &r.y));
    fail_unless (gst_structure_get_int (face, "width", &r.width));
    fail_unless (gst_structure_get_int (face, "height", &r.height));
    rects.push_back (r);
  }
  return rects;
}

/* Pushes @input until the first face message and returns its faces; the
 * next frame pushed is drawn with them. */
static std::vector<cv::Rect>
detect (Fixture &f, GstBuffer *input)
{
  gst_buffer_unref (push_frame (f, input));
  GstMessage *msg = wait_faces_message (f);
  std::vector<cv::Rect> faces = faces_of (msg);
  gst_message_unref (msg);
  return faces;
}

/* detect(), then no more searches: the worker folds each search's faces in
 * as soon as it ends, so on a loaded machine the frame the test pushes next
 * could be drawn with its own tracking result (a few pixels off the faces
 * returned here).  For the tests that check drawn pixels against them. */
static std::vector<cv::Rect>
detect_and_hold (Fixture &f, GstBuffer *input)
{
  std::vector<cv::Rect> faces = detect (f, input);
  g_object_set (element_of (f), "interval", G_MAXUINT, "track", FALSE, NULL);
  return faces;
}

static double
best_iou (const cv::Rect &r, const std::vector<cv::Rect> &among)
{
  double best = 0;
  for (const cv::Rect &a : among)
    best = std::max (best, iou (r, a));
  return best;
}

/* Every face found is one OpenCV finds at full resolution, and every face
 * OpenCV finds that is comfortably above the smallest size visible at the
 * detect width (@min_size) is found. */
static void
check_faces_match (const std::vector<cv::Rect> &found,
    const std::vector<cv::Rect> &expected, int min_size)
{
  int must_find = 0;
  for (const cv::Rect &e : expected) {
    if (e.width < 2 * min_size)
      continue;
    must_find++;
    double best = best_iou (e, found);
    fail_unless (best >= 0.6, "face %d,%d %dx%d found only with IoU %.2f", e.x,
        e.y, e.width, e.height, best);
  }
  fail_unless (must_find >= 1);
  for (const cv::Rect &r : found) {
    double best = best_iou (r, expected);
    fail_unless (best >= 0.6, "found %d,%d %dx%d is no reference face", r.x,
        r.y, r.width, r.height);
  }
}

/* A solid colour PNG whose right half is fully transparent. */
static std::string
write_half_transparent_png (cv::Scalar bgr)
{
  cv::Mat img (40, 40, CV_8UC4, cv::Scalar (bgr[0], bgr[1], bgr[2], 255));
  img (cv::Rect (20, 0, 20, 40)) = cv::Scalar (0, 255, 0, 0);
  g_autofree gchar *path = g_build_filename (tmp_dir, "half.png", NULL);
  fail_unless (cv::imwrite (path, img));
  return path;
}

static std::string
write_solid_png (cv::Scalar bgr)
{
  cv::Mat img (32, 32, CV_8UC4, cv::Scalar (bgr[0], bgr[1], bgr[2], 255));
  g_autofree gchar *path = g_build_filename (tmp_dir, "solid.png", NULL);
  fail_unless (cv::imwrite (path, img));
  return path;
}

/* ---- Tests ---- */

GST_START_TEST (test_detects_reference_faces)
{
  struct Case {
    cv::Mat bgr;
    GstVideoFormat format;
  };
  cv::Mat lena = load_sample (LENA);
  cv::Mat mona = load_sample (MONA_LISA);
  cv::Mat both = two_faces_frame ();
  std::vector<Case> cases = {{lena, GST_VIDEO_FORMAT_RGBA},
      {mona, GST_VIDEO_FORMAT_I420}, {both, GST_VIDEO_FORMAT_BGRx},
      {both, GST_VIDEO_FORMAT_I420}, {both, GST_VIDEO_FORMAT_GRAY8}};
  for (Case &c : cases) {
    cv::Mat bgr = c.bgr (cv::Rect (0, 0, c.bgr.cols & ~1, c.bgr.rows & ~1));
    Fixture f = fixture_new (c.format, bgr.cols, bgr.rows);
    GstBuffer *input = make_buffer (bgr, c.format);
    std::vector<cv::Rect> found = detect (f, input);
    check_faces_match (found, reference_faces (bgr, 320),
        (int)std::ceil (24.0 * bgr.cols / 320));
    gst_buffer_unref (input);
    fixture_free (f);
  }
}
GST_END_TEST;

GST_START_TEST (test_without_image_frames_untouched)
{
  cv::Mat bgr = two_faces_frame ();
  Fixture f = fixture_new (GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows);
  GstBuffer *input = make_buffer (bgr, GST_VIDEO_FORMAT_RGBA);
  fail_unless_equals_int ((int)detect (f, input).size (), 2);
  for (int i = 0; i < 3; i++) {
    GstBuffer *out = push_frame (f, input);
    fail_unless (
        gst_buffer_memcmp (out, 0,
            plane_of (input, GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows, 0).data,
            bgr.cols * bgr.rows * 4)
        == 0);
    gst_buffer_unref (out);
  }
  gst_buffer_unref (input);
  fixture_free (f);
}
GST_END_TEST;

/* The opaque half of the image lands on the left half of the face, the
 * transparent half leaves the frame as it was, and nothing else changes. */
GST_START_TEST (test_overlay_pixels_rgba)
{
  cv::Mat bgr = load_sample (LENA);
  Fixture f = fixture_new (GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows);
  g_object_set (element_of (f), "image",
      write_half_transparent_png (cv::Scalar (0, 0, 255)).c_str (), NULL);
  GstBuffer *input = make_buffer (bgr, GST_VIDEO_FORMAT_RGBA);
  std::vector<cv::Rect> faces = detect_and_hold (f, input);
  fail_unless_equals_int ((int)faces.size (), 1);
  cv::Rect face = faces[0];

  GstBuffer *out = push_frame (f, input);
  cv::Mat before =
      plane_of (input, GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows, 0);
  cv::Mat after = plane_of (out, GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows, 0);
  int half = face.width / 2;
  /* Scaling the 40 px image up blends its two halves over a few pixels. */
  int seam = face.width / 20 + 2;
  for (int y = 0; y < bgr.rows; y++) {
    for (int x = 0; x < bgr.cols; x++) {
      cv::Vec4b a = after.at<cv::Vec4b> (y, x), b = before.at<cv::Vec4b> (y, x);
      bool in_face = face.contains (cv::Point (x, y));
      /* Away from the seam (scaling blends the two halves there). */
      if (in_face && x < face.x + half - seam) {
        fail_unless (a == cv::Vec4b (255, 0, 0, 255),
            "pixel %d,%d is not the image's red", x, y);
      } else if (!in_face || x > face.x + half + seam) {
        fail_unless (
            a == b, "pixel %d,%d changed outside the opaque part", x, y);
      }
    }
  }
  gst_buffer_unref (out);
  gst_buffer_unref (input);
  fixture_free (f);
}
GST_END_TEST;

/* In I420 the image's colour shows in luma and chroma over the face. */
GST_START_TEST (test_overlay_pixels_i420)
{
  cv::Mat bgr = two_faces_frame ();
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, bgr.cols, bgr.rows);
  g_object_set (element_of (f), "image",
      write_solid_png (cv::Scalar (255, 0, 0)).c_str (), NULL); /* blue */
  GstBuffer *input = make_buffer (bgr, GST_VIDEO_FORMAT_I420);
  std::vector<cv::Rect> faces = detect_and_hold (f, input);
  fail_unless_equals_int ((int)faces.size (), 2);
  GstBuffer *out = push_frame (f, input);
  cv::Mat y_before = plane_of (input, f.format, bgr.cols, bgr.rows, 0);
  cv::Mat y_after = plane_of (out, f.format, bgr.cols, bgr.rows, 0);
  cv::Mat u_after = plane_of (out, f.format, bgr.cols, bgr.rows, 1);
  cv::Mat changed = y_before != y_after;
  for (const cv::Rect &face : faces) {
    /* Limited-range BT.601 blue: Y 41, U 240. */
    cv::Rect inner (face.x + 2, face.y + 2, face.width - 4, face.height - 4);
    double min_y, max_y;
    cv::minMaxLoc (y_after (inner), &min_y, &max_y);
    fail_unless (min_y >= 39 && max_y <= 43, "luma %f..%f", min_y, max_y);
    cv::Rect chroma (inner.x / 2 + 1, inner.y / 2 + 1, inner.width / 2 - 2,
        inner.height / 2 - 2);
    double min_u, max_u;
    cv::minMaxLoc (u_after (chroma), &min_u, &max_u);
    fail_unless (min_u >= 236 && max_u <= 242, "chroma %f..%f", min_u, max_u);
    /* The image starts on even pixels so chroma lines up with luma. */
    cv::Rect drawn (face.x & ~1, face.y & ~1, face.width + 1, face.height + 1);
    changed (drawn) = 0;
  }
  fail_unless_equals_int (cv::countNonZero (changed), 0);
  gst_buffer_unref (out);
  gst_buffer_unref (input);
  fixture_free (f);
}
GST_END_TEST;

/* Kurento's hat values put the image on top of the head: from above the
 * face down to its forehead, clipped at the top edge of the frame. */
GST_START_TEST (test_hat_above_face)
{
  cv::Mat lena = load_sample (LENA);
  for (int margin : {300, 0}) { /* room for the hat, then clipped */
    cv::Mat bgr;
    cv::copyMakeBorder (lena, bgr, margin, 0, 0, 0, cv::BORDER_CONSTANT,
        cv::Scalar (90, 90, 90));
    Fixture f = fixture_new (GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows,
        "offset-x=-0.35 offset-y=-1.2 width=1.6 height=1.6");
    g_object_set (element_of (f), "image",
        write_solid_png (cv::Scalar (255, 0, 0)).c_str (), NULL);
    GstBuffer *input = make_buffer (bgr, GST_VIDEO_FORMAT_RGBA);
    std::vector<cv::Rect> faces = detect_and_hold (f, input);
    fail_unless_equals_int ((int)faces.size (), 1);
    cv::Rect face = faces[0];
    GstBuffer *out = push_frame (f, input);
    cv::Mat before = plane_of (input, f.format, bgr.cols, bgr.rows, 0);
    cv::Mat after = plane_of (out, f.format, bgr.cols, bgr.rows, 0);

    cv::Rect hat ((int)std::floor (face.x - 0.35 * face.width),
        (int)std::floor (face.y - 1.2 * face.height),
        (int)std::lround (1.6 * face.width),
        (int)std::lround (1.6 * face.height));
    fail_unless (hat.y + hat.height < face.y + face.height / 2,
        "the hat reaches below the middle of the face");
    cv::Rect drawn = hat & cv::Rect (0, 0, bgr.cols, bgr.rows);
    fail_unless (drawn.area () > 0);
    if (margin > 0)
      fail_unless (drawn == hat, "room was left for the whole hat");
    cv::Mat blue;
    cv::inRange (after (drawn), cv::Scalar (0, 0, 255, 255),
        cv::Scalar (0, 0, 255, 255), blue);
    fail_unless_equals_int (cv::countNonZero (blue), drawn.area ());
    /* Eyes, nose and mouth stay visible; everything else too. */
    cv::Mat changed = changed_pixels (before, after);
    changed (drawn) = 0;
    fail_unless_equals_int (cv::countNonZero (changed), 0);
    gst_buffer_unref (out);
    gst_buffer_unref (input);
    fixture_free (f);
  }
}
GST_END_TEST;

/* mode=blur smooths each face and leaves the rest of the frame alone. */
GST_START_TEST (test_blur_only_faces)
{
  cv::Mat bgr = two_faces_frame ();
  Fixture f =
      fixture_new (GST_VIDEO_FORMAT_I420, bgr.cols, bgr.rows, "mode=blur");
  GstBuffer *input = make_buffer (bgr, GST_VIDEO_FORMAT_I420);
  std::vector<cv::Rect> faces = detect_and_hold (f, input);
  fail_unless_equals_int ((int)faces.size (), 2);
  GstBuffer *out = push_frame (f, input);
  for (int p = 0; p < 3; p++) {
    cv::Mat before = plane_of (input, f.format, bgr.cols, bgr.rows, p);
    cv::Mat after = plane_of (out, f.format, bgr.cols, bgr.rows, p);
    int sub = p == 0 ? 0 : 1;
    cv::Mat changed = before != after;
    for (const cv::Rect &face : faces) {
      cv::Rect r (
          face.x >> sub, face.y >> sub, face.width >> sub, face.height >> sub);
      if (p == 0) {
        /* Blurred: far less detail (gradient energy) than before. */
        cv::Rect inner (r.x + 4, r.y + 4, r.width - 8, r.height - 8);
        cv::Mat gb, ga;
        cv::Laplacian (before (inner).clone (), gb, CV_32F);
        cv::Laplacian (after (inner).clone (), ga, CV_32F);
        double eb = cv::norm (gb), ea = cv::norm (ga);
        fail_unless (ea < 0.1 * eb, "face not blurred: %f vs %f", ea, eb);
      }
      r.x -= 1; /* chroma rounding */
      r.y -= 1;
      r.width += 2;
      r.height += 2;
      changed (r & cv::Rect (0, 0, before.cols, before.rows)) = 0;
    }
    fail_unless_equals_int (cv::countNonZero (changed), 0);
  }
  gst_buffer_unref (out);
  gst_buffer_unref (input);
  fixture_free (f);
}
GST_END_TEST;

/* A message when faces appear, when one moves, and when they are gone —
 * after being missing from two detections, not one. */
GST_START_TEST (test_messages_on_change)
{
  cv::Mat lena = load_sample (LENA);
  cv::Mat bgr (512, 768, CV_8UC3, cv::Scalar (90, 90, 90));
  lena.copyTo (bgr (cv::Rect (0, 0, 512, 512)));
  cv::Mat moved (512, 768, CV_8UC3, cv::Scalar (90, 90, 90));
  lena.copyTo (moved (cv::Rect (64, 0, 512, 512)));
  cv::Mat empty (512, 768, CV_8UC3, cv::Scalar (90, 90, 90));

  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, bgr.cols, bgr.rows);
  GstBuffer *with_face = make_buffer (bgr, f.format);
  GstBuffer *with_moved = make_buffer (moved, f.format);
  GstBuffer *without = make_buffer (empty, f.format);

  GstClockTime pts = f.pts;
  gst_buffer_unref (push_frame (f, with_face));
  GstMessage *msg = wait_faces_message (f);
  const GstStructure *s = gst_message_get_structure (msg);
  guint64 ts, running, stream;
  fail_unless (gst_structure_get_uint64 (s, "timestamp", &ts));
  fail_unless (gst_structure_get_uint64 (s, "running-time", &running));
  fail_unless (gst_structure_get_uint64 (s, "stream-time", &stream));
  fail_unless_equals_uint64 (ts, pts);
  fail_unless_equals_uint64 (running, pts);
  fail_unless_equals_uint64 (stream, pts);
  std::vector<cv::Rect> appeared = faces_of (msg);
  gst_message_unref (msg);
  fail_unless_equals_int ((int)appeared.size (), 1);

  /* Same face again: nothing new to tell. */
  gst_buffer_unref (push_frame (f, with_face));
  msg = gst_bus_timed_pop_filtered (f.bus, 2 * GST_SECOND, GST_MESSAGE_ELEMENT);
  fail_unless (msg == NULL, "message without a change");

  /* Moved by a third of its width: a message with the same face further
   * right (smoothed, so not all the way yet). */
  gst_buffer_unref (push_frame (f, with_moved));
  msg = wait_faces_message (f);
  std::vector<cv::Rect> now = faces_of (msg);
  gst_message_unref (msg);
  fail_unless_equals_int ((int)now.size (), 1);
  fail_unless (now[0].x > appeared[0].x + appeared[0].width / 5);
  fail_unless (now[0].x <= appeared[0].x + 64 + 4);

  /* Gone: the first empty detection keeps the face, the second drops it. */
  gst_buffer_unref (push_frame (f, without));
  msg = gst_bus_timed_pop_filtered (f.bus, 2 * GST_SECOND, GST_MESSAGE_ELEMENT);
  fail_unless (msg == NULL, "face dropped after one missing detection");
  pts = f.pts;
  gst_buffer_unref (push_frame (f, without));
  msg = wait_faces_message (f);
  fail_unless_equals_int ((int)faces_of (msg).size (), 0);
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_get_uint64 (s, "timestamp", &ts));
  fail_unless_equals_uint64 (ts, pts);
  gst_message_unref (msg);

  gst_buffer_unref (with_face);
  gst_buffer_unref (with_moved);
  gst_buffer_unref (without);
  fixture_free (f);
}
GST_END_TEST;

/* Pushes @image as the next frame and returns the faces of the message
 * about it, checking that the message carries that frame's timestamp. */
static std::vector<cv::Rect>
faces_of_next_frame (Fixture &f, const cv::Mat &image)
{
  GstBuffer *input = make_buffer (image, f.format);
  GstClockTime pts = f.pts;
  gst_buffer_unref (push_frame (f, input));
  gst_buffer_unref (input);
  GstMessage *msg = wait_faces_message (f);
  guint64 ts = 0;
  fail_unless (gst_structure_get_uint64 (
      gst_message_get_structure (msg), "timestamp", &ts));
  fail_unless_equals_uint64 (ts, pts);
  std::vector<cv::Rect> faces = faces_of (msg);
  gst_message_unref (msg);
  return faces;
}

/* With the defaults, a face moving from frame to frame at 30 frames/s is
 * followed on every frame, not only every `interval`: each frame gets a
 * message with its own timestamp and the face where it is on that frame. */
GST_START_TEST (test_face_followed_every_frame)
{
  const int shift = 48; /* a quarter of the face per frame */
  cv::Mat lena = load_sample (LENA);
  auto frame_at = [&lena] (int x) {
    cv::Mat bgr (512, 832, CV_8UC3, cv::Scalar (90, 90, 90));
    lena.copyTo (bgr (cv::Rect (x, 0, 512, 512)));
    return bgr;
  };
  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 832, 512);
  f.step = GST_SECOND / 30;
  GstBuffer *input = make_buffer (frame_at (0), f.format);
  std::vector<cv::Rect> start = detect (f, input);
  gst_buffer_unref (input);
  fail_unless_equals_int ((int)start.size (), 1);
  for (int k = 1; k <= 6; k++) {
    std::vector<cv::Rect> now = faces_of_next_frame (f, frame_at (k * shift));
    fail_unless_equals_int ((int)now.size (), 1);
    cv::Rect expected = start[0] + cv::Point (k * shift, 0);
    fail_unless (iou (now[0], expected) >= 0.5,
        "frame %d: face at %d,%d %dx%d, expected near %d,%d", k, now[0].x,
        now[0].y, now[0].width, now[0].height, expected.x, expected.y);
  }
  fixture_free (f);
}
GST_END_TEST;

/* A scene cut between two detections: the whole frame is searched on the
 * frame of the cut, so a new face is reported with that frame's timestamp
 * although the face already known is still found where it was. */
GST_START_TEST (test_scene_cut_searches_at_once)
{
  cv::Mat lena = load_sample (LENA), mona = load_sample (MONA_LISA);
  cv::Mat before (480, 640, CV_8UC3, cv::Scalar (30, 30, 30));
  cv::resize (lena, before (cv::Rect (0, 80, 320, 320)), cv::Size (320, 320));
  cv::Mat after (480, 640, CV_8UC3, cv::Scalar (200, 200, 200));
  before (cv::Rect (0, 80, 320, 320))
      .copyTo (after (cv::Rect (0, 80, 320, 320)));
  cv::Mat m;
  cv::resize (mona, m, cv::Size (300, 444));
  m (cv::Rect (0, 0, 300, 440)).copyTo (after (cv::Rect (330, 20, 300, 440)));

  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 640, 480);
  f.step = GST_SECOND / 30; /* the next frame is no detection's */
  GstBuffer *input = make_buffer (before, f.format);
  fail_unless_equals_int ((int)detect (f, input).size (), 1);
  gst_buffer_unref (input);

  std::vector<cv::Rect> faces = faces_of_next_frame (f, after);
  check_faces_match (faces, reference_faces (after, 320),
      (int)std::ceil (24.0 * after.cols / 320));
  fail_unless_equals_int ((int)faces.size (), 2);
  fixture_free (f);
}
GST_END_TEST;

/* A face missing from two searches is no longer reported; found again at
 * its place soon after, it gets its id back. */
GST_START_TEST (test_lost_face_keeps_its_id)
{
  cv::Mat lena = load_sample (LENA);
  cv::Mat with (480, 640, CV_8UC3, cv::Scalar (90, 90, 90));
  cv::resize (lena, with (cv::Rect (100, 80, 320, 320)), cv::Size (320, 320));
  cv::Mat without (480, 640, CV_8UC3, cv::Scalar (90, 90, 90));

  Fixture f = fixture_new (GST_VIDEO_FORMAT_I420, 640, 480);
  f.step = GST_SECOND / 30;
  GstBuffer *face = make_buffer (with, f.format);
  GstBuffer *empty = make_buffer (without, f.format);
  gst_buffer_unref (push_frame (f, face));
  GstMessage *msg = wait_faces_message (f);
  const GstStructure *s = gst_message_get_structure (msg);
  const GValue *list = gst_structure_get_value (s, "faces");
  fail_unless_equals_int (gst_value_array_get_size (list), 1);
  guint id = 0;
  fail_unless (gst_structure_get_uint (
      gst_value_get_structure (gst_value_array_get_value (list, 0)), "id",
      &id));
  gst_message_unref (msg);

  gst_buffer_unref (push_frame (f, empty));
  msg = gst_bus_timed_pop_filtered (f.bus, 2 * GST_SECOND, GST_MESSAGE_ELEMENT);
  fail_unless (msg == NULL, "face dropped after one missing search");
  gst_buffer_unref (push_frame (f, empty));
  msg = wait_faces_message (f);
  fail_unless_equals_int ((int)faces_of (msg).size (), 0);
  gst_message_unref (msg);

  gst_buffer_unref (push_frame (f, face));
  msg = wait_faces_message (f);
  s = gst_message_get_structure (msg);
  list = gst_structure_get_value (s, "faces");
  fail_unless_equals_int (gst_value_array_get_size (list), 1);
  guint again = 0;
  fail_unless (gst_structure_get_uint (
      gst_value_get_structure (gst_value_array_get_value (list, 0)), "id",
      &again));
  fail_unless_equals_int (again, id);
  gst_message_unref (msg);

  gst_buffer_unref (face);
  gst_buffer_unref (empty);
  fixture_free (f);
}
GST_END_TEST;

/* Every supported format: the image lands on each face (checked after
 * converting back to RGBA) and blur changes only the faces. */
GST_START_TEST (test_all_formats)
{
  cv::Mat bgr = two_faces_frame ();
  int w = bgr.cols, h = bgr.rows;
  GstBuffer *rgba = make_buffer (bgr, GST_VIDEO_FORMAT_RGBA);
  std::string blue = write_solid_png (cv::Scalar (255, 0, 0));
  for (const char *name : {"I420", "YV12", "Y42B", "Y444", "NV12", "NV21",
           "A420", "RGBA", "BGRA", "ARGB", "ABGR", "RGBx", "BGRx", "xRGB",
           "xBGR", "RGB", "BGR", "GRAY8"}) {
    GstVideoFormat format = gst_video_format_from_string (name);
    bool grey = format == GST_VIDEO_FORMAT_GRAY8;
    GstBuffer *input =
        convert_buffer (rgba, GST_VIDEO_FORMAT_RGBA, format, w, h);
    GstBuffer *back_in =
        convert_buffer (input, format, GST_VIDEO_FORMAT_RGBA, w, h);
    cv::Mat before = plane_of (back_in, GST_VIDEO_FORMAT_RGBA, w, h, 0);
    gst_buffer_unref (back_in);

    for (const char *mode : {"overlay", "blur"}) {
      g_autofree gchar *props = g_strdup_printf ("mode=%s", mode);
      Fixture f = fixture_new (format, w, h, props);
      g_object_set (element_of (f), "image", blue.c_str (), NULL);
      std::vector<cv::Rect> faces = detect_and_hold (f, input);
      fail_unless (faces.size () >= 1, "%s: no face", name);
      GstBuffer *out = push_frame (f, input);
      GstBuffer *back_out =
          convert_buffer (out, format, GST_VIDEO_FORMAT_RGBA, w, h);
      cv::Mat after = plane_of (back_out, GST_VIDEO_FORMAT_RGBA, w, h, 0);
      cv::Mat changed = changed_pixels (before, after);
      for (const cv::Rect &face : faces) {
        cv::Point centre (face.x + face.width / 2, face.y + face.height / 2);
        cv::Vec4b px = after.at<cv::Vec4b> (centre);
        if (g_str_equal (mode, "blur")) {
          fail_unless (cv::countNonZero (changed (face)) > face.area () / 2,
              "%s: face not blurred", name);
        } else if (grey) { /* blue's luma */
          fail_unless (px[0] < 45 && px[0] == px[1] && px[1] == px[2],
              "%s: centre %d,%d,%d", name, px[0], px[1], px[2]);
        } else {
          fail_unless (px[0] < 40 && px[1] < 40 && px[2] > 215,
              "%s: centre %d,%d,%d is not blue", name, px[0], px[1], px[2]);
        }
        /* Chroma subsampling spreads the change by a pixel or two. */
        cv::Rect around (
            face.x - 4, face.y - 4, face.width + 8, face.height + 8);
        changed (around & cv::Rect (0, 0, w, h)) = 0;
      }
      fail_unless_equals_int (cv::countNonZero (changed), 0);
      gst_buffer_unref (back_out);
      gst_buffer_unref (out);
      fixture_free (f);
    }
    gst_buffer_unref (input);
  }
  gst_buffer_unref (rgba);
}
GST_END_TEST;

/* New caps (another size) forget the old faces at once: the next frame is
 * not drawn on with rectangles of the old size, and the next detection
 * reports faces in the new frame's pixels. */
GST_START_TEST (test_caps_change_forgets_faces)
{
  cv::Mat big = two_faces_frame (), small;
  cv::resize (big, small, cv::Size (480, 360), 0, 0, cv::INTER_AREA);
  Fixture f = fixture_new (GST_VIDEO_FORMAT_RGBA, big.cols, big.rows);
  g_object_set (element_of (f), "image",
      write_solid_png (cv::Scalar (255, 0, 0)).c_str (), NULL);
  GstBuffer *big_in = make_buffer (big, f.format);
  GstBuffer *small_in = make_buffer (small, f.format);
  fail_unless_equals_int ((int)detect (f, big_in).size (), 2);

  gst_harness_set_src_caps_str (
      f.h, "video/x-raw,format=RGBA,width=480,height=360,framerate=5/1");
  GstBuffer *out = push_frame (f, small_in);
  fail_unless (
      gst_buffer_memcmp (out, 0,
          plane_of (small_in, f.format, 480, 360, 0).data, 480 * 360 * 4)
          == 0,
      "drawn with faces of the old size");
  gst_buffer_unref (out);

  GstMessage *msg = wait_faces_message (f);
  std::vector<cv::Rect> faces = faces_of (msg);
  gst_message_unref (msg);
  fail_unless_equals_int ((int)faces.size (), 2);
  for (const cv::Rect &face : faces)
    fail_unless ((face & cv::Rect (0, 0, 480, 360)) == face);
  check_faces_match (faces, reference_faces (small, 320),
      (int)std::ceil (24.0 * small.cols / 320));
  gst_buffer_unref (big_in);
  gst_buffer_unref (small_in);
  fixture_free (f);
}
GST_END_TEST;

/* A detection that takes seconds (a huge frame at full resolution) does not
 * hold frames back: they all come out while it runs. */
GST_START_TEST (test_slow_detection_does_not_delay)
{
  cv::Mat lena = load_sample (LENA);
  cv::Mat bgr;
  cv::resize (lena, bgr, cv::Size (2048, 2048));
  Fixture f = fixture_new (GST_VIDEO_FORMAT_GRAY8, bgr.cols, bgr.rows,
      "detect-width=0 scale-factor=1.05 interval=0");
  GstBuffer *input = make_buffer (bgr, f.format);
  for (int i = 0; i < 20; i++)
    gst_buffer_unref (push_frame (f, input));
  /* All twenty frames are out; the first detection is still going. */
  GstMessage *msg = gst_bus_pop_filtered (f.bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg == NULL, "detection finished before 20 frames went by");
  msg = wait_faces_message (f, 120 * GST_SECOND);
  /* At full resolution the cascade also finds false faces: at least Lena. */
  fail_unless (faces_of (msg).size () >= 1);
  gst_message_unref (msg);
  gst_buffer_unref (input);
  fixture_free (f);
}
GST_END_TEST;

/* EOS waits for the detection in flight: when EOS has gone downstream, the
 * faces of the last frame are already on the bus, as with qrdetect. */
GST_START_TEST (test_eos_waits_for_detection)
{
  cv::Mat lena = load_sample (LENA);
  cv::Mat bgr;
  cv::resize (lena, bgr, cv::Size (1024, 1024));
  /* Slow enough (full resolution, fine scale steps) to be in flight. */
  Fixture f = fixture_new (GST_VIDEO_FORMAT_GRAY8, bgr.cols, bgr.rows,
      "detect-width=0 scale-factor=1.05");
  GstBuffer *input = make_buffer (bgr, f.format);
  gst_buffer_unref (push_frame (f, input));
  gst_buffer_unref (input);

  fail_unless (gst_harness_push_event (f.h, gst_event_new_eos ()));
  bool eos = false;
  while (GstEvent *event = gst_harness_try_pull_event (f.h)) {
    eos |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos, "EOS did not go downstream");
  GstMessage *msg = gst_bus_pop_filtered (
      f.bus, (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
  fail_unless (msg != NULL, "EOS went on before the detection finished");
  fail_unless (gst_message_has_name (msg, "faceoverlayfilter"));
  fail_unless (faces_of (msg).size () >= 1);
  gst_message_unref (msg);
  fixture_free (f);
}
GST_END_TEST;

/* Starts a lone element and returns the error it reports (or NULL). */
static gchar *
start_error (const char *prop, const char *value)
{
  GstElement *e = gst_element_factory_make ("faceoverlayfilter", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, prop, value, NULL);
  GstStateChangeReturn ret = gst_element_set_state (e, GST_STATE_PAUSED);
  gchar *text = NULL;
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    text = g_strdup (err->message);
    g_error_free (err);
    gst_message_unref (msg);
    fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  } else {
    fail_unless_equals_int (ret, GST_STATE_CHANGE_SUCCESS);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (e);
  return text;
}

static void
check_error_mentions (gchar *text, const std::string &path, const char *why)
{
  fail_unless (text != NULL, "no error for %s", path.c_str ());
  GST_INFO ("error: %s", text);
  fail_unless (
      strstr (text, path.c_str ()) != NULL, "'%s' lacks the path", text);
  fail_unless (strstr (text, why) != NULL, "'%s' lacks '%s'", text, why);
  g_free (text);
}

GST_START_TEST (test_bad_files_are_clear_errors)
{
  std::string missing = std::string (tmp_dir) + "/missing.png";
  check_error_mentions (
      start_error ("image", missing.c_str ()), missing, "no such file");

  g_autofree gchar *garbage = g_build_filename (tmp_dir, "garbage.png", NULL);
  fail_unless (g_file_set_contents (garbage, "not a picture", -1, NULL));
  check_error_mentions (start_error ("image", garbage), garbage, "decode");

  check_error_mentions (
      start_error ("cascade", missing.c_str ()), missing, "no such file");
  g_autofree gchar *bad_xml = g_build_filename (tmp_dir, "bad.xml", NULL);
  fail_unless (g_file_set_contents (bad_xml,
      "<?xml version=\"1.0\"?>\n<opencv_storage>\n</opencv_storage>\n", -1,
      NULL));
  check_error_mentions (start_error ("cascade", bad_xml), bad_xml, "cascade");
  check_error_mentions (start_error ("cascade", garbage), garbage, "cascade");

  /* A good image then works. */
  std::string good = write_solid_png (cv::Scalar (0, 0, 0));
  fail_unless (start_error ("image", good.c_str ()) == NULL);

  /* Set while playing: an error on the bus, frames keep flowing. */
  cv::Mat bgr = load_sample (LENA);
  Fixture f = fixture_new (GST_VIDEO_FORMAT_RGBA, bgr.cols, bgr.rows);
  g_object_set (element_of (f), "image", missing.c_str (), NULL);
  GstMessage *msg = gst_bus_pop_filtered (f.bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  check_error_mentions (g_strdup (err->message), missing, "no such file");
  g_error_free (err);
  gst_message_unref (msg);
  fixture_free (f);
}
GST_END_TEST;

static void
make_tmp_dir (void)
{
  tmp_dir = g_dir_make_tmp ("faceoverlayfilter-XXXXXX", NULL);
}

static void
remove_tmp_dir (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  for (const gchar *name; dir && (name = g_dir_read_name (dir));) {
    g_autofree gchar *path = g_build_filename (tmp_dir, name, NULL);
    g_unlink (path);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
}

static Suite *
faceoverlayfilter_suite (void)
{
  Suite *s = suite_create ("faceoverlayfilter");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_unchecked_fixture (tc, make_tmp_dir, remove_tmp_dir);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_detects_reference_faces);
  tcase_add_test (tc, test_without_image_frames_untouched);
  tcase_add_test (tc, test_overlay_pixels_rgba);
  tcase_add_test (tc, test_overlay_pixels_i420);
  tcase_add_test (tc, test_hat_above_face);
  tcase_add_test (tc, test_blur_only_faces);
  tcase_add_test (tc, test_all_formats);
  tcase_add_test (tc, test_caps_change_forgets_faces);
  tcase_add_test (tc, test_messages_on_change);
  tcase_add_test (tc, test_face_followed_every_frame);
  tcase_add_test (tc, test_scene_cut_searches_at_once);
  tcase_add_test (tc, test_lost_face_keeps_its_id);
  tcase_add_test (tc, test_slow_detection_does_not_delay);
  tcase_add_test (tc, test_eos_waits_for_detection);
  tcase_add_test (tc, test_bad_files_are_clear_errors);
  return s;
}

ROOM_CHECK_MAIN (faceoverlayfilter);
