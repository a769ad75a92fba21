/* gst-rooms: chromakey tests — a keyed presenter must land on the background
 * with clean edges (checked against a ground truth by PSNR), any key hue must
 * work, alpha output must be real transparency, and bad backgrounds must
 * give element errors. */
/* OpenCV and the C++ library first: gstcheck defines a `fail` macro. */
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstring>
#include <string>

#include "roomcheck.h"

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <unistd.h>

#define WIDTH 320
#define HEIGHT 240

static std::string
temp_path (const char *name)
{
  gchar *path = g_build_filename (g_get_tmp_dir (), name, NULL);
  gchar *unique = g_strdup_printf ("%s-%d", path, (int)getpid ());
  std::string result = std::string (unique) + ".png";
  g_free (path);
  g_free (unique);
  return result;
}

static std::string
caps_string (const char *format, int width = WIDTH, int height = HEIGHT)
{
  return std::string ("video/x-raw,format=") + format
         + ",width=" + std::to_string (width)
         + ",height=" + std::to_string (height) + ",framerate=30/1";
}

/* A buffer holding an RGBA (R, G, B, A byte order) image, which fits the
 * RGBA and RGBx caps. */
static GstBuffer *
buffer_from_rgba (const cv::Mat &rgba, GstClockTime pts = 0)
{
  gsize size = rgba.total () * 4;
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_fill (buffer, 0, rgba.data, size);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
  return buffer;
}

/* Copies an RGBA/RGBx output buffer into a cv::Mat. */
static cv::Mat
rgba_from_buffer (GstBuffer *buffer, int width = WIDTH, int height = HEIGHT)
{
  cv::Mat out (height, width, CV_8UC4);
  fail_unless_equals_int (gst_buffer_get_size (buffer), out.total () * 4);
  gst_buffer_extract (buffer, 0, out.data, out.total () * 4);
  return out;
}

static cv::Mat
solid (cv::Scalar rgba, int width = WIDTH, int height = HEIGHT)
{
  return cv::Mat (height, width, CV_8UC4, rgba);
}

/* Pushes one RGBA frame through a harnessed chromakey and returns the
 * output frame. */
static cv::Mat
key_one_frame (GstHarness *h, const cv::Mat &input)
{
  fail_unless_equals_int (
      gst_harness_push (h, buffer_from_rgba (input)), GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull (h);
  fail_unless (out != NULL, "no output frame");
  cv::Mat result = rgba_from_buffer (out, input.cols, input.rows);
  gst_buffer_unref (out);
  return result;
}

/* A harness on chromakey itself (not a parsed bin, so tests reach its
 * properties and pads), with "name=value" properties set from launch
 * syntax. */
static GstHarness *
harness_rgba (const char *properties, const char *in_format = "RGBA",
    const char *out_format = "RGBA")
{
  GstHarness *h = gst_harness_new ("chromakey");
  gchar **pairs = g_strsplit (properties, " ", -1);
  for (gchar **pair = pairs; *pair; pair++) {
    gchar **kv = g_strsplit (*pair, "=", 2);
    if (kv[0] && kv[1])
      gst_util_set_object_arg (G_OBJECT (h->element), kv[0], kv[1]);
    g_strfreev (kv);
  }
  g_strfreev (pairs);
  gst_harness_set_src_caps_str (h, caps_string (in_format).c_str ());
  gst_harness_set_sink_caps_str (h, caps_string (out_format).c_str ());
  return h;
}

static double
psnr (const cv::Mat &a, const cv::Mat &b)
{
  cv::Mat a3, b3;
  cv::cvtColor (a, a3, cv::COLOR_RGBA2RGB);
  cv::cvtColor (b, b3, cv::COLOR_RGBA2RGB);
  return cv::PSNR (a3, b3);
}

/* The ground truth scene: a presenter (two coloured shapes with soft,
 * anti-aliased edges — the matte is known) over green with sensor noise, and
 * the ideal composite of the presenter over a background. */
struct Scene {
  cv::Mat input, ideal, background;
};

static Scene
make_scene (const cv::Mat &background)
{
  cv::Mat matte = cv::Mat::zeros (HEIGHT, WIDTH, CV_32FC1);
  cv::ellipse (matte, cv::Point (110, 130), cv::Size (60, 80), 0, 0, 360,
      cv::Scalar (1.0), cv::FILLED, cv::LINE_AA);
  cv::rectangle (
      matte, cv::Rect (200, 60, 70, 120), cv::Scalar (1.0), cv::FILLED);
  cv::GaussianBlur (matte, matte, cv::Size (0, 0), 2.0);

  /* Foreground colours: skin-like, dark blue cloth, white, a grey text. */
  cv::Mat foreground (HEIGHT, WIDTH, CV_32FC3, cv::Scalar (220, 160, 120));
  cv::rectangle (foreground, cv::Rect (200, 0, 120, HEIGHT),
      cv::Scalar (40, 50, 140), cv::FILLED);
  cv::rectangle (foreground, cv::Rect (90, 150, 40, 30),
      cv::Scalar (240, 240, 240), cv::FILLED);
  cv::putText (foreground, "ROOM", cv::Point (210, 120),
      cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar (128, 128, 128), 2);

  cv::Mat green (HEIGHT, WIDTH, CV_32FC3, cv::Scalar (0, 255, 0));
  cv::Mat noise (HEIGHT, WIDTH, CV_32FC3);
  cv::theRNG ().state = 12345;
  cv::randn (noise, cv::Scalar::all (0), cv::Scalar::all (4));
  green += noise;

  cv::Mat background3;
  cv::cvtColor (background, background3, cv::COLOR_RGBA2RGB);
  background3.convertTo (background3, CV_32FC3);

  cv::Mat matte3;
  cv::Mat channels[] = {matte, matte, matte};
  cv::merge (channels, 3, matte3);
  cv::Mat one_minus = cv::Scalar::all (1.0) - matte3;

  cv::Mat input = foreground.mul (matte3) + green.mul (one_minus);
  cv::Mat ideal = foreground.mul (matte3) + background3.mul (one_minus);
  Scene scene;
  input.convertTo (input, CV_8UC3);
  ideal.convertTo (ideal, CV_8UC3);
  cv::cvtColor (input, scene.input, cv::COLOR_RGB2RGBA);
  cv::cvtColor (ideal, scene.ideal, cv::COLOR_RGB2RGBA);
  scene.background = background;
  return scene;
}

/* A background with detail: gradients and stripes. */
static cv::Mat
make_background ()
{
  cv::Mat background (HEIGHT, WIDTH, CV_8UC4);
  for (int y = 0; y < HEIGHT; y++)
    for (int x = 0; x < WIDTH; x++)
      background.at<cv::Vec4b> (y, x) = cv::Vec4b ((uchar)(x * 255 / WIDTH),
          (uchar)(((x / 16 + y / 16) % 2) ? 200 : 60),
          (uchar)(y * 255 / HEIGHT), 255);
  return background;
}

static std::string
write_png (const cv::Mat &rgba, const char *name)
{
  std::string path = temp_path (name);
  cv::Mat bgr;
  cv::cvtColor (rgba, bgr, cv::COLOR_RGBA2BGR);
  fail_unless (cv::imwrite (path, bgr));
  return path;
}

GST_START_TEST (test_ground_truth_psnr)
{
  cv::Mat background = make_background ();
  std::string path = write_png (background, "chromakey-bg");
  Scene scene = make_scene (background);

  std::string description = "background=" + path;
  GstHarness *h = harness_rgba (description.c_str (), "RGBx", "RGBx");
  cv::Mat out = key_one_frame (h, scene.input);
  gst_harness_teardown (h);

  double keyed = psnr (out, scene.ideal);
  /* What a broken keyer (nothing replaced) scores. */
  double untouched = psnr (scene.input, scene.ideal);
  GST_INFO ("PSNR keyed %.2f dB, untouched %.2f dB", keyed, untouched);
  fail_unless (keyed >= 30.0, "PSNR %.2f dB below 30 dB", keyed);
  fail_unless (untouched < 20.0);

  /* Deep in the background and the presenter, pixels are exact. */
  cv::Vec4b bg = out.at<cv::Vec4b> (10, 10);
  cv::Vec4b want = background.at<cv::Vec4b> (10, 10);
  for (int c = 0; c < 3; c++)
    fail_unless (std::abs (bg[c] - want[c]) <= 2);
  cv::Vec4b skin = out.at<cv::Vec4b> (100, 110);
  fail_unless (std::abs (skin[0] - 220) <= 3 && std::abs (skin[1] - 160) <= 3
               && std::abs (skin[2] - 120) <= 3);
  g_unlink (path.c_str ());
}
GST_END_TEST;

/* Key hue 0° (red): hues 350° and 10° are both keyed; grey and green
 * are kept. */
GST_START_TEST (test_red_key_wraps_around)
{
  GstHarness *h = harness_rgba ("key-color=0xffff0000");
  cv::Mat input = solid (cv::Scalar (128, 128, 128, 255));
  input (cv::Rect (0, 0, 80, HEIGHT)) = cv::Scalar (255, 0, 43, 255); /* 350° */
  input (cv::Rect (80, 0, 80, HEIGHT)) = cv::Scalar (255, 43, 0, 255); /* 10° */
  input (cv::Rect (160, 0, 80, HEIGHT)) = cv::Scalar (0, 200, 0, 255);
  cv::Mat out = key_one_frame (h, input);
  gst_harness_teardown (h);

  fail_unless_equals_int (out.at<cv::Vec4b> (100, 40)[3], 0);
  fail_unless_equals_int (out.at<cv::Vec4b> (100, 120)[3], 0);
  fail_unless_equals_int (out.at<cv::Vec4b> (100, 200)[3], 255);
  fail_unless_equals_int (out.at<cv::Vec4b> (100, 280)[3], 255);
  cv::Vec4b grey = out.at<cv::Vec4b> (100, 280);
  fail_unless_equals_int (grey[0], 128);
  fail_unless_equals_int (grey[1], 128);
}
GST_END_TEST;

GST_START_TEST (test_magenta_key)
{
  GstHarness *h = harness_rgba ("key-color=0xffff00ff");
  cv::Mat input = solid (cv::Scalar (250, 5, 245, 255));
  input (cv::Rect (0, 0, 100, HEIGHT)) = cv::Scalar (0, 200, 0, 255);
  input (cv::Rect (100, 0, 100, HEIGHT)) = cv::Scalar (200, 40, 40, 255);
  cv::Mat out = key_one_frame (h, input);
  gst_harness_teardown (h);

  fail_unless_equals_int (out.at<cv::Vec4b> (100, 300)[3], 0);
  fail_unless_equals_int (out.at<cv::Vec4b> (100, 50)[3], 255);
  fail_unless_equals_int (out.at<cv::Vec4b> (100, 150)[3], 255);
}
GST_END_TEST;

/* With no background and an alpha format: keyed pixels transparent, the
 * presenter opaque, a half-covered edge pixel half transparent with the
 * presenter's colour (straight alpha, green removed). */
GST_START_TEST (test_alpha_output)
{
  GstHarness *h = harness_rgba ("", "RGBx", "RGBA");
  cv::Mat input = solid (cv::Scalar (0, 255, 0, 255));
  input (cv::Rect (100, 0, 100, HEIGHT)) = cv::Scalar (200, 120, 90, 255);
  /* 50% grey over 50% green. */
  input (cv::Rect (200, 0, 10, HEIGHT)) = cv::Scalar (64, 192, 64, 255);
  cv::Mat out = key_one_frame (h, input);
  gst_harness_teardown (h);

  fail_unless_equals_int (out.at<cv::Vec4b> (50, 20)[3], 0);
  cv::Vec4b fg = out.at<cv::Vec4b> (50, 150);
  fail_unless_equals_int (fg[3], 255);
  fail_unless_equals_int (fg[0], 200);
  fail_unless_equals_int (fg[1], 120);
  fail_unless_equals_int (fg[2], 90);
  cv::Vec4b edge = out.at<cv::Vec4b> (50, 205);
  GST_INFO ("edge %d %d %d %d", edge[0], edge[1], edge[2], edge[3]);
  fail_unless (edge[3] > 96 && edge[3] < 160, "edge alpha %d", edge[3]);
  /* The colour is the grey, not green. */
  fail_unless (std::abs (edge[0] - 128) <= 16 && std::abs (edge[1] - 128) <= 16
                   && std::abs (edge[2] - 128) <= 16,
      "edge colour %d,%d,%d", edge[0], edge[1], edge[2]);
}
GST_END_TEST;

/* I420 in, nothing set downstream: the output becomes AYUV so transparency
 * reaches a compositor. */
GST_START_TEST (test_yuv_negotiates_alpha)
{
  GstHarness *h = gst_harness_new ("chromakey");
  gst_harness_set_src_caps_str (h, caps_string ("I420").c_str ());
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT);
  GstBuffer *in = gst_buffer_new_allocate (NULL, info.size, NULL);
  gst_buffer_memset (in, 0, 128, info.size);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull (h);
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  GstVideoInfo out_info;
  fail_unless (gst_video_info_from_caps (&out_info, caps));
  fail_unless_equals_string (
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&out_info)), "AYUV");
  gst_caps_unref (caps);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* The YUV path: I420 in, AYUV out, through the internal conversions. */
GST_START_TEST (test_yuv_keys_to_transparency)
{
  GstHarness *h = gst_harness_new_parse (
      "videoconvert ! video/x-raw,format=I420 ! chromakey ! "
      "video/x-raw,format=AYUV ! videoconvert");
  gst_harness_set_src_caps_str (h, caps_string ("RGBA").c_str ());
  gst_harness_set_sink_caps_str (h, caps_string ("RGBA").c_str ());
  cv::Mat input = solid (cv::Scalar (0, 255, 0, 255));
  input (cv::Rect (160, 0, 160, HEIGHT)) = cv::Scalar (128, 128, 128, 255);
  cv::Mat out = key_one_frame (h, input);
  gst_harness_teardown (h);

  fail_unless_equals_int (out.at<cv::Vec4b> (100, 40)[3], 0);
  cv::Vec4b grey = out.at<cv::Vec4b> (100, 240);
  fail_unless_equals_int (grey[3], 255);
  fail_unless (std::abs (grey[1] - 128) <= 8, "grey %d", grey[1]);
}
GST_END_TEST;

/* A video on background_sink (smaller, so also scaled) fills the keyed
 * area. */
GST_START_TEST (test_background_video)
{
  GstHarness *h = harness_rgba ("", "RGBx", "RGBx");
  GstHarness *bg =
      gst_harness_new_with_element (h->element, "background_sink", NULL);
  gst_harness_set_src_caps_str (bg, caps_string ("RGBA", 160, 120).c_str ());
  cv::Mat blue = solid (cv::Scalar (10, 20, 230, 255), 160, 120);
  fail_unless_equals_int (
      gst_harness_push (bg, buffer_from_rgba (blue)), GST_FLOW_OK);

  cv::Mat input = solid (cv::Scalar (0, 255, 0, 255));
  input (cv::Rect (160, 0, 160, HEIGHT)) = cv::Scalar (128, 128, 128, 255);
  cv::Mat out = key_one_frame (h, input);

  cv::Vec4b keyed = out.at<cv::Vec4b> (100, 40);
  fail_unless (std::abs (keyed[0] - 10) <= 2 && std::abs (keyed[1] - 20) <= 2
                   && std::abs (keyed[2] - 230) <= 2,
      "keyed pixel %d,%d,%d", keyed[0], keyed[1], keyed[2]);
  cv::Vec4b kept = out.at<cv::Vec4b> (100, 240);
  fail_unless_equals_int (kept[0], 128);
  fail_unless_equals_int (kept[2], 128);

  /* Releasing the pad mid-stream falls back to transparency/colour. */
  gst_harness_teardown (bg);
  out = key_one_frame (h, input);
  keyed = out.at<cv::Vec4b> (100, 40);
  fail_unless (keyed[0] == 0 && keyed[1] == 0 && keyed[2] == 0,
      "after release %d,%d,%d", keyed[0], keyed[1], keyed[2]);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A free-running background source is held to the main stream, ends when
 * the main stream ends, and a stop in the middle does not hang. */
GST_START_TEST (test_background_pipeline_ends_and_stops)
{
  const char *description =
      "videotestsrc num-buffers=20 pattern=ball background-color=0xff00ff00 "
      "! video/x-raw,width=160,height=120 ! chromakey name=key ! fakesink "
      "videotestsrc pattern=smpte ! video/x-raw,width=80,height=60 "
      "! key.background_sink";
  for (int stop_early = 0; stop_early < 2; stop_early++) {
    GstElement *pipeline = gst_parse_launch (description, NULL);
    fail_unless (pipeline != NULL);
    GstBus *bus = gst_element_get_bus (pipeline);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
                 != GST_STATE_CHANGE_FAILURE);
    GstMessageType wanted =
        (GstMessageType)(GST_MESSAGE_ERROR
                         | (stop_early ? GST_MESSAGE_ASYNC_DONE
                                       : GST_MESSAGE_EOS));
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND, wanted);
    fail_unless (msg != NULL, "pipeline stalled");
    fail_unless (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ERROR);
    gst_message_unref (msg);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_object_unref (bus);
    gst_object_unref (pipeline);
  }
}
GST_END_TEST;

/* Learns a blue key from the top-left corner, posts it, then keys blue. */
GST_START_TEST (test_calibrate_learns_blue)
{
  GstHarness *h = harness_rgba ("calibrate=true calibrate-x=0.0 "
                                "calibrate-y=0.0 calibrate-width=0.25 "
                                "calibrate-height=0.25 calibrate-frames=3");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);

  cv::Mat blue_screen (HEIGHT, WIDTH, CV_8UC4);
  cv::theRNG ().state = 777;
  cv::randn (
      blue_screen, cv::Scalar (30, 60, 200, 255), cv::Scalar (3, 3, 3, 0));
  blue_screen (cv::Rect (200, 100, 80, 100)) = cv::Scalar (220, 160, 120, 255);

  for (int i = 0; i < 3; i++) {
    fail_unless_equals_int (gst_harness_push (h, buffer_from_rgba (blue_screen,
                                                     i * GST_SECOND / 30)),
        GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (h));
    GstMessage *early = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
    if (i < 2) {
      fail_unless (early == NULL, "message before calibrate-frames");
      continue;
    }
    fail_unless (early != NULL, "no chromakey message");
    const GstStructure *s = gst_message_get_structure (early);
    fail_unless (gst_structure_has_name (s, "chromakey"));
    guint key, frames;
    double hue;
    guint64 running_time;
    fail_unless (gst_structure_get_uint (s, "key-color", &key));
    fail_unless (gst_structure_get_uint (s, "frames", &frames));
    fail_unless (gst_structure_get_double (s, "hue", &hue));
    fail_unless (gst_structure_get_uint64 (s, "running-time", &running_time));
    fail_unless_equals_int (frames, 3);
    fail_unless_equals_uint64 (running_time, 2 * GST_SECOND / 30);
    int r = (key >> 16) & 0xff, g = (key >> 8) & 0xff, b = key & 0xff;
    GST_INFO ("learned 0x%08x hue %.1f", key, hue);
    fail_unless (std::abs (r - 30) <= 8 && std::abs (g - 60) <= 8
                     && std::abs (b - 200) <= 8,
        "learned %d,%d,%d", r, g, b);
    fail_unless (std::fabs (hue - 229.4) < 3.0, "hue %.1f", hue);
    gst_message_unref (early);
  }

  guint key;
  gboolean calibrate;
  g_object_get (h->element, "key-color", &key, "calibrate", &calibrate, NULL);
  fail_unless (!calibrate);
  fail_unless ((key & 0xff) > 150);

  cv::Mat out = key_one_frame (h, blue_screen);
  fail_unless_equals_int (out.at<cv::Vec4b> (20, 20)[3], 0);
  fail_unless_equals_int (out.at<cv::Vec4b> (150, 240)[3], 255);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

static int
green_cast (const cv::Vec4b &p)
{
  return (int)p[1] - std::max ((int)p[0], (int)p[2]);
}

/* Green light on a kept pixel: spill=1 takes the cast away, spill=0 leaves
 * it. */
GST_START_TEST (test_spill_suppression)
{
  cv::Mat input = solid (cv::Scalar (0, 255, 0, 255));
  input (cv::Rect (100, 0, 100, HEIGHT)) = cv::Scalar (150, 170, 120, 255);

  GstHarness *h = harness_rgba ("spill=0", "RGBx", "RGBx");
  cv::Mat no_spill = key_one_frame (h, input);
  gst_harness_teardown (h);
  h = harness_rgba ("spill=1", "RGBx", "RGBx");
  cv::Mat spill = key_one_frame (h, input);
  gst_harness_teardown (h);

  cv::Vec4b before = no_spill.at<cv::Vec4b> (50, 150);
  cv::Vec4b after = spill.at<cv::Vec4b> (50, 150);
  GST_INFO ("spill 0: %d,%d,%d spill 1: %d,%d,%d", before[0], before[1],
      before[2], after[0], after[1], after[2]);
  fail_unless (green_cast (before) >= 15, "cast %d", green_cast (before));
  fail_unless (green_cast (after) <= 2 && green_cast (after) >= -2, "cast %d",
      green_cast (after));
  /* Red, the dominant non-key channel, is left alone. */
  fail_unless (std::abs ((int)after[0] - (int)before[0]) <= 2);
}
GST_END_TEST;

static void
expect_start_error (const char *background, GQuark domain, gint code)
{
  GstElement *key = gst_element_factory_make ("chromakey", NULL);
  fail_unless (key != NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (key, bus);
  g_object_set (key, "background", background, NULL);
  fail_unless_equals_int (
      gst_element_set_state (key, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  GError *err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, domain, code), "%s", err->message);
  fail_unless (strstr (err->message, background) != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (key, GST_STATE_NULL);
  gst_element_set_bus (key, NULL);
  gst_object_unref (bus);
  gst_object_unref (key);
}

GST_START_TEST (test_bad_background_image)
{
  expect_start_error ("/nonexistent/chromakey-background.png",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND);
  std::string garbage = temp_path ("chromakey-garbage");
  fail_unless (
      g_file_set_contents (garbage.c_str (), "not an image", -1, NULL));
  expect_start_error (
      garbage.c_str (), GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
  g_unlink (garbage.c_str ());
}
GST_END_TEST;

/* Setting a missing image while playing errors on the next frame instead of
 * crashing. */
GST_START_TEST (test_bad_background_while_playing)
{
  GstHarness *h = harness_rgba ("", "RGBx", "RGBx");
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  cv::Mat input = solid (cv::Scalar (0, 255, 0, 255));
  key_one_frame (h, input);
  g_object_set (h->element, "background", "/nonexistent/bg.jpg", NULL);
  fail_unless_equals_int (
      gst_harness_push (h, buffer_from_rgba (input)), GST_FLOW_ERROR);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
chromakey_suite (void)
{
  Suite *s = suite_create ("chromakey");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ground_truth_psnr);
  tcase_add_test (tc, test_red_key_wraps_around);
  tcase_add_test (tc, test_magenta_key);
  tcase_add_test (tc, test_alpha_output);
  tcase_add_test (tc, test_yuv_negotiates_alpha);
  tcase_add_test (tc, test_yuv_keys_to_transparency);
  tcase_add_test (tc, test_background_video);
  tcase_add_test (tc, test_background_pipeline_ends_and_stops);
  tcase_add_test (tc, test_calibrate_learns_blue);
  tcase_add_test (tc, test_spill_suppression);
  tcase_add_test (tc, test_bad_background_image);
  tcase_add_test (tc, test_bad_background_while_playing);
  return s;
}

ROOM_CHECK_MAIN (chromakey);
