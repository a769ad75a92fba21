/* gst-rooms: tests of mcucompositor.
 *
 * Every input is a solid grey (a distinct luma per port) so a tile can be
 * told from another and from the black background by the luma of the
 * composite alone.  Time is driven by the output harness's test clock: each
 * step pushes one frame on the chosen ports and cranks one output frame. */
#include "roomcheck.h"

#include <gst/audio/audio.h>
#include <gst/check/gstharness.h>
#include <gst/controller/gstdirectcontrolbinding.h>
#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gst/video/video.h>

#include <atomic>
#include <cmath>
#include <map>
#include <vector>

#define OUT_W 320
#define OUT_H 240
#define IN_W 160
#define IN_H 120
#define BG_LUMA 16

static guint8
port_luma (guint port)
{
  return (guint8)(60 + 20 * port);
}

static GstClockTime
frame_time (guint64 n)
{
  return gst_util_uint64_scale (n, GST_SECOND, 30);
}

struct Room {
  GstElement *mcu = nullptr;
  GstBus *bus = nullptr;
  GstHarness *out = nullptr;
  std::map<guint, GstHarness *> in;
  guint64 frame = 0;
};

static void
use_output_clock (Room &r)
{
  GstTestClock *clock = gst_harness_get_testclock (r.out);
  gst_element_set_clock (r.mcu, GST_CLOCK (clock));
  gst_object_unref (clock);
}

static Room
room_new (const gchar *props = NULL)
{
  Room r;
  r.mcu = gst_element_factory_make ("mcucompositor", NULL);
  fail_unless (r.mcu != NULL);
  g_object_set (
      r.mcu, "width", OUT_W, "height", OUT_H, "framerate", 30, 1, NULL);
  if (props) {
    gchar **kv = g_strsplit (props, " ", -1);
    for (gchar **p = kv; *p; p++) {
      gchar **pair = g_strsplit (*p, "=", 2);
      gst_util_set_object_arg (G_OBJECT (r.mcu), pair[0], pair[1]);
      g_strfreev (pair);
    }
    g_strfreev (kv);
  }
  r.bus = gst_bus_new ();
  gst_element_set_bus (r.mcu, r.bus);
  r.out = gst_harness_new_with_element (r.mcu, NULL, "src");
  gst_harness_set_sink_caps_str (r.out, "video/x-raw, format=I420");
  gst_harness_play (r.out);
  use_output_clock (r);
  return r;
}

static GstHarness *
room_add_input (Room &r, guint port, const gchar *format = "I420")
{
  gchar *name = g_strdup_printf ("sink_%u", port);
  GstHarness *h = gst_harness_new_with_element (r.mcu, name, NULL);
  g_free (name);
  gchar *caps = g_strdup_printf (
      "video/x-raw, format=%s, width=%d, height=%d, framerate=30/1", format,
      IN_W, IN_H);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  use_output_clock (r);
  r.in[port] = h;
  return h;
}

static GstBuffer *
solid_i420 (guint8 y, GstClockTime pts)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, IN_W, IN_H);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame f;
  gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE);
  for (guint p = 0; p < 3; p++) {
    guint8 *d = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&f, p);
    memset (d, p == 0 ? y : 128,
        GST_VIDEO_FRAME_PLANE_STRIDE (&f, p)
            * GST_VIDEO_FRAME_COMP_HEIGHT (&f, p));
  }
  gst_video_frame_unmap (&f);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = frame_time (1);
  return buf;
}

/* Pushes one frame on each of @ports, then lets one output frame out. */
static GstBuffer *
room_step (Room &r, const std::vector<guint> &ports)
{
  for (guint port : ports) {
    fail_unless_equals_int (
        gst_harness_push (
            r.in[port], solid_i420 (port_luma (port), frame_time (r.frame))),
        GST_FLOW_OK);
  }
  gst_harness_crank_single_clock_wait (r.out);
  GstBuffer *buf = gst_harness_pull (r.out);
  fail_unless (buf != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), frame_time (r.frame));
  r.frame++;
  return buf;
}

static void
room_free (Room &r)
{
  for (auto &h : r.in)
    gst_harness_teardown (h.second);
  r.in.clear ();
  gst_harness_teardown (r.out);
  gst_element_set_bus (r.mcu, NULL);
  gst_bus_set_flushing (r.bus, TRUE);
  gst_object_unref (r.bus);
  gst_object_unref (r.mcu);
}

struct PortRect {
  guint port;
  gint x, y, w, h;
};

/* The last mcucompositor-layout message on the bus (others are dropped), or
 * an empty vector with @found FALSE. */
static std::vector<PortRect>
last_layout (Room &r, gboolean *found = NULL, GstStructure **copy = NULL)
{
  std::vector<PortRect> rects;
  GstMessage *last = NULL;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (r.bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (msg, "mcucompositor-layout")) {
      gst_clear_message (&last);
      last = msg;
    } else {
      gst_message_unref (msg);
    }
  }
  if (found)
    *found = last != NULL;
  if (!last)
    return rects;
  const GstStructure *s = gst_message_get_structure (last);
  const GValue *ports = gst_structure_get_value (s, "ports");
  fail_unless (ports && GST_VALUE_HOLDS_ARRAY (ports));
  for (guint i = 0; i < gst_value_array_get_size (ports); i++) {
    const GstStructure *p =
        gst_value_get_structure (gst_value_array_get_value (ports, i));
    fail_unless (gst_structure_has_name (p, "port"));
    PortRect pr;
    fail_unless (gst_structure_get_uint (p, "port", &pr.port));
    fail_unless (gst_structure_get_int (p, "x", &pr.x));
    fail_unless (gst_structure_get_int (p, "y", &pr.y));
    fail_unless (gst_structure_get_int (p, "width", &pr.w));
    fail_unless (gst_structure_get_int (p, "height", &pr.h));
    rects.push_back (pr);
  }
  if (copy)
    *copy = gst_structure_copy (s);
  gst_message_unref (last);
  return rects;
}

static guint8
luma_at (GstBuffer *buf, gint x, gint y)
{
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  guint8 v = map.data[y * OUT_W + x]; /* I420 320x240: stride 320 */
  gst_buffer_unmap (buf, &map);
  return v;
}

#define assert_luma(buf, x, y, expected)                                       \
  G_STMT_START                                                                 \
  {                                                                            \
    gint _v = luma_at (buf, x, y), _e = (expected);                            \
    fail_unless (ABS (_v - _e) <= 4, "luma at (%d,%d) is %d, expected %d",     \
        (gint)(x), (gint)(y), _v, _e);                                         \
  }                                                                            \
  G_STMT_END

/* Every 4th pixel: the topmost rectangle holding it (3 px inside its edges)
 * shows its port's luma; pixels 3 px away from every rectangle show the
 * background.  Pixels on the edges themselves are not checked (scaling may
 * blend them). */
static void
check_pixels (GstBuffer *buf, const std::vector<PortRect> &rects)
{
  const gint m = 3;
  for (gint y = 0; y < OUT_H; y += 4) {
    for (gint x = 0; x < OUT_W; x += 4) {
      gint inside = -1;
      bool near = false;
      for (gsize i = 0; i < rects.size (); i++) {
        const PortRect &r = rects[i];
        if (x >= r.x + m && x < r.x + r.w - m && y >= r.y + m
            && y < r.y + r.h - m)
          inside = (gint)i;
        else if (x >= r.x - m && x < r.x + r.w + m && y >= r.y - m
                 && y < r.y + r.h + m)
          near = true;
      }
      if (inside >= 0) {
        bool edge_of_higher = false;
        for (gsize j = inside + 1; j < rects.size (); j++) {
          const PortRect &r = rects[j];
          if (x >= r.x - m && x < r.x + r.w + m && y >= r.y - m
              && y < r.y + r.h + m)
            edge_of_higher = true;
        }
        if (!edge_of_higher)
          assert_luma (buf, x, y, port_luma (rects[inside].port));
      } else if (!near) {
        assert_luma (buf, x, y, BG_LUMA);
      }
    }
  }
}

static const PortRect *
find_port (const std::vector<PortRect> &rects, guint port)
{
  for (const PortRect &r : rects)
    if (r.port == port)
      return &r;
  return NULL;
}

/* Grid cells as DESIGN §3.1 says, with a 4:3 input letterboxed in each. */
static std::vector<PortRect>
expected_grid (const std::vector<guint> &ports)
{
  const gint n = (gint)ports.size ();
  const gint cols = (gint)ceil (sqrt ((double)n));
  const gint rows = (n + cols - 1) / cols;
  std::vector<PortRect> rects;
  for (gint i = 0; i < n; i++) {
    const gint r = i / cols, c = i % cols;
    const gint in_row = r == rows - 1 ? n - r * cols : cols;
    const double cw = (double)OUT_W / cols, ch = (double)OUT_H / rows;
    const double cx = c * cw + (cols - in_row) * cw / 2, cy = r * ch;
    const double scale = MIN (cw / IN_W, ch / IN_H);
    const double w = IN_W * scale, h = IN_H * scale;
    rects.push_back (PortRect{ports[i], (gint)(cx + (cw - w) / 2),
        (gint)(cy + (ch - h) / 2), (gint)w, (gint)h});
  }
  return rects;
}

static void
check_rects_near (
    const std::vector<PortRect> &got, const std::vector<PortRect> &want)
{
  fail_unless_equals_int (got.size (), want.size ());
  for (gsize i = 0; i < want.size (); i++) {
    fail_unless_equals_int (got[i].port, want[i].port);
    fail_unless (ABS (got[i].x - want[i].x) <= 3
                     && ABS (got[i].y - want[i].y) <= 3
                     && ABS (got[i].w - want[i].w) <= 4
                     && ABS (got[i].h - want[i].h) <= 4,
        "port %u at %d,%d %dx%d, expected about %d,%d %dx%d", got[i].port,
        got[i].x, got[i].y, got[i].w, got[i].h, want[i].x, want[i].y, want[i].w,
        want[i].h);
    fail_unless (got[i].x % 2 == 0 && got[i].y % 2 == 0 && got[i].w % 2 == 0
                 && got[i].h % 2 == 0);
  }
  for (gsize i = 0; i < got.size (); i++)
    for (gsize j = i + 1; j < got.size (); j++)
      fail_if (got[i].x < got[j].x + got[j].w && got[j].x < got[i].x + got[i].w
                   && got[i].y < got[j].y + got[j].h
                   && got[j].y < got[i].y + got[i].h,
          "tiles %u and %u overlap", got[i].port, got[j].port);
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_grid_1_to_9)
{
  for (guint n = 1; n <= 9; n++) {
    Room r = room_new ();
    std::vector<guint> ports;
    for (guint p = 0; p < n; p++) {
      room_add_input (r, p);
      ports.push_back (p);
    }
    GstBuffer *buf = NULL;
    for (int i = 0; i < 2; i++) {
      gst_clear_buffer (&buf);
      buf = room_step (r, ports);
    }
    gboolean found;
    std::vector<PortRect> rects = last_layout (r, &found);
    fail_unless (found);
    check_rects_near (rects, expected_grid (ports));
    check_pixels (buf, rects);
    gst_buffer_unref (buf);
    room_free (r);
  }
}
GST_END_TEST;

GST_START_TEST (test_zero_ports)
{
  Room r = room_new ("background=0xff000000");
  for (guint i = 0; i < 5; i++) {
    GstBuffer *buf = room_step (r, {});
    fail_unless_equals_uint64 (
        GST_BUFFER_DURATION (buf), frame_time (i + 1) - frame_time (i));
    check_pixels (buf, {});
    gst_buffer_unref (buf);
  }
  gboolean found;
  std::vector<PortRect> rects = last_layout (r, &found);
  fail_unless (found);
  fail_unless (rects.empty ());
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_layout_message)
{
  Room r = room_new ();
  room_add_input (r, 0);
  room_add_input (r, 1);
  GstBuffer *buf = room_step (r, {0, 1});
  gst_buffer_unref (buf);
  GstStructure *s = NULL;
  std::vector<PortRect> rects = last_layout (r, NULL, &s);
  fail_unless (s != NULL);
  guint64 rt = 1, st = 1;
  fail_unless (gst_structure_get_uint64 (s, "running-time", &rt));
  fail_unless (gst_structure_get_uint64 (s, "stream-time", &st));
  fail_unless_equals_uint64 (rt, 0);
  fail_unless_equals_uint64 (st, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "layout"), "grid");
  gst_structure_free (s);
  check_rects_near (rects, expected_grid ({0, 1}));

  /* No change, no message. */
  gst_buffer_unref (room_step (r, {0, 1}));
  gboolean found;
  last_layout (r, &found);
  fail_if (found);

  /* A layout change is announced at the frame it takes effect. */
  g_object_set (r.mcu, "layout", 2 /* pip */, NULL);
  gst_buffer_unref (room_step (r, {0, 1}));
  rects = last_layout (r, NULL, &s);
  fail_unless (s != NULL);
  fail_unless (gst_structure_get_uint64 (s, "running-time", &rt));
  fail_unless_equals_uint64 (rt, frame_time (2));
  fail_unless_equals_string (gst_structure_get_string (s, "layout"), "pip");
  gst_structure_free (s);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_tile_fit_fill)
{
  Room r = room_new ("tile-fit=fill");
  room_add_input (r, 0);
  room_add_input (r, 1);
  GstBuffer *buf = room_step (r, {0, 1});
  std::vector<PortRect> rects = last_layout (r);
  /* Each 4:3 input cropped to fill its whole 160x240 cell: no bars. */
  fail_unless_equals_int (rects.size (), 2);
  fail_unless (rects[0].x == 0 && rects[0].y == 0 && rects[0].w == 160
               && rects[0].h == OUT_H);
  fail_unless (rects[1].x == 160 && rects[1].y == 0 && rects[1].w == 160
               && rects[1].h == OUT_H);
  check_pixels (buf, rects);
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_label)
{
  Room r = room_new ();
  room_add_input (r, 0);
  gst_child_proxy_set (GST_CHILD_PROXY (r.mcu), "sink_0::label", "Ann 1", NULL);
  GstBuffer *buf = room_step (r, {0});
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 1);
  /* The box sits in the bottom left corner: dark, with light text in it. */
  gint box_x0 = OUT_W, box_x1 = 0, box_y0 = OUT_H, max_luma = 0;
  for (gint y = OUT_H / 2; y < OUT_H; y++) {
    for (gint x = 0; x < OUT_W; x++) {
      const gint v = luma_at (buf, x, y);
      if (ABS (v - port_luma (0)) <= 4)
        continue;
      box_x0 = MIN (box_x0, x);
      box_x1 = MAX (box_x1, x);
      box_y0 = MIN (box_y0, y);
      max_luma = MAX (max_luma, v);
    }
  }
  fail_unless (
      box_x0 < 10 && box_y0 > OUT_H - 40, "box at %d,%d", box_x0, box_y0);
  /* Five characters, a few pixels each. */
  fail_unless (box_x1 > box_x0 + 5 * 6 && box_x1 < OUT_W / 2);
  fail_unless (max_luma > 200);
  fail_unless (luma_at (buf, box_x0 + 1, box_y0 + 1) < 60);
  /* The rest of the tile is untouched. */
  assert_luma (buf, OUT_W / 2, OUT_H / 2, port_luma (0));
  assert_luma (buf, OUT_W - 10, OUT_H - 10, port_luma (0));
  gst_buffer_unref (buf);

  /* A letter with a combining mark is kept as one composed letter. */
  GstPad *pad = gst_element_get_static_pad (r.mcu, "sink_0");
  g_object_set (pad, "label", "Zoe\xcc\x88", NULL);
  gchar *composed = NULL;
  g_object_get (pad, "label", &composed, NULL);
  fail_unless_equals_string (composed, "Zo\xc3\xab");
  g_free (composed);

  /* No label, no box. */
  g_object_set (pad, "label", NULL, NULL);
  gst_object_unref (pad);
  buf = room_step (r, {0});
  check_pixels (buf, rects);
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_speaker)
{
  Room r = room_new ("layout=speaker");
  for (guint p = 0; p < 3; p++)
    room_add_input (r, p);
  GstPad *pad = gst_element_get_static_pad (r.mcu, "sink_1");
  g_object_set (pad, "speaker", TRUE, NULL);
  gst_object_unref (pad);
  GstBuffer *buf = room_step (r, {0, 1, 2});
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 3);
  const PortRect *big = find_port (rects, 1);
  fail_unless (big && big->y == 0 && big->h == OUT_H * 3 / 4);
  fail_unless_equals_int (big->w, OUT_H * 3 / 4 * 4 / 3);
  for (guint p : {0u, 2u}) {
    const PortRect *small = find_port (rects, p);
    fail_unless (small && small->y >= OUT_H * 3 / 4);
    fail_unless (small->h <= OUT_H / 4 && small->w < big->w / 2);
  }
  check_pixels (buf, rects);
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_pip)
{
  Room r = room_new ("layout=pip");
  for (guint p = 0; p < 3; p++)
    room_add_input (r, p);
  GstBuffer *buf = room_step (r, {0, 1, 2});
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 3);
  fail_unless_equals_int (rects[0].port, 0);
  fail_unless (rects[0].x == 0 && rects[0].y == 0 && rects[0].w == OUT_W
               && rects[0].h == OUT_H);
  /* Insets in the bottom right corner, on top of port 0. */
  for (gsize i = 1; i < 3; i++) {
    fail_unless (rects[i].w <= OUT_W / 4 && rects[i].h <= OUT_H / 4);
    fail_unless (rects[i].y + rects[i].h > OUT_H * 3 / 4);
    fail_unless (rects[i].x > OUT_W / 4);
  }
  fail_unless (rects[1].x > rects[2].x);
  check_pixels (buf, rects);
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_custom_zorder_alpha)
{
  Room r = room_new ("layout=custom");
  room_add_input (r, 0);
  room_add_input (r, 1);
  GstPad *p0 = gst_element_get_static_pad (r.mcu, "sink_0");
  GstPad *p1 = gst_element_get_static_pad (r.mcu, "sink_1");
  /* Pad properties through the child proxy, as launch lines set them. */
  gst_child_proxy_set (GST_CHILD_PROXY (r.mcu), "sink_0::xpos", 0,
      "sink_0::ypos", 0, "sink_0::width", 200, "sink_0::height", 150,
      "sink_0::zorder", 1, NULL);
  g_object_set (p1, "xpos", 100, "ypos", 80, "width", 200, "height", 150,
      "zorder", 2, "alpha", 0.5, NULL);

  GstBuffer *buf = room_step (r, {0, 1});
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 2);
  fail_unless (rects[0].port == 0 && rects[0].x == 0 && rects[0].y == 0
               && rects[0].w == 200 && rects[0].h == 150);
  fail_unless (rects[1].port == 1 && rects[1].x == 100 && rects[1].y == 80
               && rects[1].w == 200 && rects[1].h == 150);
  const gint l0 = port_luma (0), l1 = port_luma (1);
  assert_luma (buf, 50, 50, l0);                   /* port 0 alone */
  assert_luma (buf, 150, 120, (l0 + l1) / 2);      /* 1 over 0, half */
  assert_luma (buf, 250, 200, (BG_LUMA + l1) / 2); /* 1 over background */
  assert_luma (buf, 310, 20, BG_LUMA);             /* nothing */
  gst_buffer_unref (buf);

  /* Port 0 on top, opaque. */
  g_object_set (p0, "zorder", 3, NULL);
  buf = room_step (r, {0, 1});
  rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 2);
  fail_unless_equals_int (rects[1].port, 0);
  assert_luma (buf, 150, 120, l0);
  assert_luma (buf, 250, 200, (BG_LUMA + l1) / 2);
  gst_buffer_unref (buf);

  /* width/height 0: the input's size. */
  g_object_set (p1, "width", 0, "height", 0, "alpha", 1.0, NULL);
  buf = room_step (r, {0, 1});
  rects = last_layout (r);
  fail_unless (rects[0].port == 1 && rects[0].w == IN_W && rects[0].h == IN_H);
  assert_luma (buf, 250, 190, l1);
  gst_buffer_unref (buf);

  gst_object_unref (p0);
  gst_object_unref (p1);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_silent_port_reflows)
{
  Room r = room_new ();
  room_add_input (r, 0);
  room_add_input (r, 1);
  for (int i = 0; i < 3; i++)
    gst_buffer_unref (room_step (r, {0, 1}));
  check_rects_near (last_layout (r), expected_grid ({0, 1}));

  /* Port 1 stops: it stays until signal-timeout (1 s) has passed ... */
  const guint64 last = r.frame - 1;
  GstBuffer *buf = NULL;
  while (frame_time (r.frame) - frame_time (last) <= GST_SECOND) {
    gst_clear_buffer (&buf);
    buf = room_step (r, {0});
    gboolean changed;
    last_layout (r, &changed);
    fail_if (changed,
        "layout changed before the timeout, frame %" G_GUINT64_FORMAT,
        r.frame - 1);
  }
  gst_clear_buffer (&buf);
  /* ... then port 0 has the frame to itself. */
  buf = room_step (r, {0});
  std::vector<PortRect> rects = last_layout (r);
  check_rects_near (rects, expected_grid ({0}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  /* Frames come back: so does the port. */
  buf = room_step (r, {0, 1});
  rects = last_layout (r);
  check_rects_near (rects, expected_grid ({0, 1}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_release_and_eos)
{
  Room r = room_new ();
  for (guint p = 0; p < 3; p++)
    room_add_input (r, p);
  gst_buffer_unref (room_step (r, {0, 1, 2}));
  check_rects_near (last_layout (r), expected_grid ({0, 1, 2}));

  /* Released mid-stream: gone at the next frame. */
  GstPad *pad = gst_element_get_static_pad (r.mcu, "sink_1");
  gst_element_release_request_pad (r.mcu, pad);
  gst_object_unref (pad);
  gst_harness_teardown (r.in[1]);
  r.in.erase (1);
  GstBuffer *buf = room_step (r, {0, 2});
  std::vector<PortRect> rects = last_layout (r);
  check_rects_near (rects, expected_grid ({0, 2}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  /* EOS: gone at once too, and the output goes on. */
  fail_unless (gst_harness_push_event (r.in[2], gst_event_new_eos ()));
  buf = room_step (r, {0});
  rects = last_layout (r);
  check_rects_near (rects, expected_grid ({0}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  /* A released port number is free again. */
  GstHarness *h = room_add_input (r, 1);
  fail_unless (h != NULL);
  buf = room_step (r, {0, 1});
  check_rects_near (last_layout (r), expected_grid ({0, 1}));
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_max_tiles_visible_order)
{
  Room r = room_new ("max-tiles=2");
  for (guint p = 0; p < 3; p++)
    room_add_input (r, p);
  GstBuffer *buf = room_step (r, {0, 1, 2});
  std::vector<PortRect> rects = last_layout (r);
  check_rects_near (rects, expected_grid ({0, 1}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  /* order puts port 2 first. */
  GstPad *p2 = gst_element_get_static_pad (r.mcu, "sink_2");
  g_object_set (p2, "order", -1, NULL);
  buf = room_step (r, {0, 1, 2});
  rects = last_layout (r);
  check_rects_near (rects, expected_grid ({2, 0}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  /* Hidden ports leave room for the next. */
  GstPad *p0 = gst_element_get_static_pad (r.mcu, "sink_0");
  g_object_set (p0, "visible", FALSE, NULL);
  buf = room_step (r, {0, 1, 2});
  rects = last_layout (r);
  check_rects_near (rects, expected_grid ({2, 1}));
  check_pixels (buf, rects);
  gst_buffer_unref (buf);

  g_object_set (r.mcu, "max-tiles", 0, NULL);
  g_object_set (p0, "visible", TRUE, NULL);
  buf = room_step (r, {0, 1, 2});
  check_rects_near (last_layout (r), expected_grid ({2, 0, 1}));
  gst_buffer_unref (buf);
  gst_object_unref (p0);
  gst_object_unref (p2);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_caps_stable_across_joins)
{
  Room r = room_new ();
  gst_buffer_unref (room_step (r, {}));
  GstCaps *first = gst_pad_get_current_caps (r.out->sinkpad);
  fail_unless (first != NULL);
  GstStructure *s = gst_caps_get_structure (first, 0);
  fail_unless_equals_string (
      gst_structure_get_string (s, "colorimetry"), "bt709");

  room_add_input (r, 0);
  gst_buffer_unref (room_step (r, {0}));
  /* A join with a different size and format. */
  GstHarness *h = gst_harness_new_with_element (r.mcu, "sink_1", NULL);
  gst_harness_set_src_caps_str (
      h, "video/x-raw, format=RGBA, width=64, height=48, framerate=15/1");
  use_output_clock (r);
  r.in[1] = h;
  GstBuffer *rgba = gst_harness_create_buffer (h, 64 * 48 * 4);
  gst_buffer_memset (rgba, 0, 0x80, 64 * 48 * 4);
  GST_BUFFER_PTS (rgba) = frame_time (r.frame);
  fail_unless_equals_int (gst_harness_push (h, rgba), GST_FLOW_OK);
  gst_buffer_unref (room_step (r, {0}));
  fail_unless_equals_int (last_layout (r).size (), 2);
  GstPad *pad = gst_element_get_static_pad (r.mcu, "sink_0");
  gst_element_release_request_pad (r.mcu, pad);
  gst_object_unref (pad);
  gst_harness_teardown (r.in[0]);
  r.in.erase (0);
  gst_buffer_unref (room_step (r, {}));

  GstCaps *now = gst_pad_get_current_caps (r.out->sinkpad);
  fail_unless (gst_caps_is_equal (first, now));
  /* And only one caps event reached downstream. */
  guint caps_events = 0;
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_event (r.out))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS)
      caps_events++;
    gst_event_unref (ev);
  }
  fail_unless_equals_int (caps_events, 1);
  gst_caps_unref (first);
  gst_caps_unref (now);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_incompatible_caps)
{
  Room r = room_new ();
  room_add_input (r, 0);
  GstHarness *h = gst_harness_new_with_element (r.mcu, "sink_1", NULL);
  use_output_clock (r);
  gst_harness_set_src_caps_str (h, "image/jpeg, width=16, height=16");
  GstBuffer *jpeg = gst_harness_create_buffer (h, 64);
  GST_BUFFER_PTS (jpeg) = 0;
  fail_unless_equals_int (gst_harness_push (h, jpeg), GST_FLOW_NOT_NEGOTIATED);
  /* Raw video caps that say too little: refused with a warning. */
  GstHarness *h2 = gst_harness_new_with_element (r.mcu, "sink_2", NULL);
  use_output_clock (r);
  gst_harness_set_src_caps_str (h2, "video/x-raw, format=I420");
  GstBuffer *raw = gst_harness_create_buffer (h2, 64);
  GST_BUFFER_PTS (raw) = 0;
  GstFlowReturn ret = gst_harness_push (h2, raw);
  GstMessage *warning =
      gst_bus_timed_pop_filtered (r.bus, 5 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (warning != NULL);
  GError *err = NULL;
  gst_message_parse_warning (warning, &err, NULL);
  fail_unless (
      g_error_matches (err, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT));
  g_error_free (err);
  gst_message_unref (warning);
  /* The other port and the output carry on. */
  GstBuffer *buf = room_step (r, {0});
  check_rects_near (last_layout (r), expected_grid ({0}));
  gst_buffer_unref (buf);
  GST_INFO ("push after unusable caps: %s", gst_flow_get_name (ret));
  gst_harness_teardown (h2);
  gst_harness_teardown (h);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_pad_names)
{
  GstElement *mcu = gst_element_factory_make ("mcucompositor", NULL);
  GstPad *a3 = gst_element_request_pad_simple (mcu, "audio_sink_3");
  GstPad *v0 = gst_element_request_pad_simple (mcu, "sink_%u");
  GstPad *v3 = gst_element_request_pad_simple (mcu, "sink_3");
  GstPad *v1 = gst_element_request_pad_simple (mcu, "sink_%u");
  GstPad *m3 = gst_element_request_pad_simple (mcu, "audio_src_3");
  fail_unless_equals_string (GST_OBJECT_NAME (a3), "audio_sink_3");
  fail_unless_equals_string (GST_OBJECT_NAME (v0), "sink_0");
  fail_unless_equals_string (GST_OBJECT_NAME (v3), "sink_3");
  fail_unless_equals_string (GST_OBJECT_NAME (v1), "sink_1");
  fail_unless_equals_string (GST_OBJECT_NAME (m3), "audio_src_3");
  fail_unless (GST_OBJECT_PARENT (m3) == GST_OBJECT (mcu));
  for (GstPad *p : {a3, v0, v3, v1, m3}) {
    gst_element_release_request_pad (mcu, p);
    gst_object_unref (p);
  }
  gst_object_unref (mcu);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Audio */

#define RATE 48000
#define SAMPLES_PER_FRAME (RATE / 30)

static GstBuffer *
tone_buffer (double freq, guint64 first_sample, GstClockTime pts)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, SAMPLES_PER_FRAME * 2, NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  gint16 *s = (gint16 *)map.data;
  for (guint i = 0; i < SAMPLES_PER_FRAME; i++)
    s[i] = (gint16)(6000 * sin (2 * G_PI * freq * (first_sample + i) / RATE));
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = frame_time (1);
  return buf;
}

/* Relative power of @freq in the first channel of interleaved S16. */
static double
goertzel (GstBuffer *buf, gint channels, double freq)
{
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  const gint16 *s = (const gint16 *)map.data;
  const gsize n = map.size / 2 / channels;
  const double k = 2 * cos (2 * G_PI * freq / RATE);
  double s1 = 0, s2 = 0;
  for (gsize i = 0; i < n; i++) {
    double s0 = s[i * channels] / 32768.0 + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  gst_buffer_unmap (buf, &map);
  return sqrt (s1 * s1 + s2 * s2 - k * s1 * s2) / n;
}

GST_START_TEST (test_audio_silence_without_inputs)
{
  Room r = room_new ();
  GstHarness *audio = gst_harness_new_with_element (r.mcu, NULL, "audio_src");
  use_output_clock (r);
  guint64 samples = 0;
  for (guint i = 0; i < 4; i++) {
    gst_buffer_unref (room_step (r, {}));
    GstBuffer *buf = gst_harness_pull (audio);
    fail_unless (buf != NULL);
    GstCaps *caps = gst_pad_get_current_caps (audio->sinkpad);
    GstAudioInfo info;
    fail_unless (gst_audio_info_from_caps (&info, caps));
    gst_caps_unref (caps);
    fail_unless_equals_int (GST_AUDIO_INFO_RATE (&info), 48000);
    fail_unless_equals_int (GST_AUDIO_INFO_CHANNELS (&info), 2);
    fail_unless_equals_int (
        GST_AUDIO_INFO_FORMAT (&info), GST_AUDIO_FORMAT_S16LE);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), frame_time (i));
    fail_unless_equals_int (gst_buffer_get_size (buf), 1600 * 4);
    samples += gst_buffer_get_size (buf) / 4;
    GstMapInfo map;
    gst_buffer_map (buf, &map, GST_MAP_READ);
    for (gsize b = 0; b < map.size; b++)
      fail_unless_equals_int (map.data[b], 0);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_uint64 (samples, 4 * 1600);
  gst_harness_teardown (audio);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_audio_mix_minus)
{
  const double freqs[3] = {440.0, 1000.0, 2500.0};
  Room r = room_new ();
  GstHarness *full = gst_harness_new_with_element (r.mcu, NULL, "audio_src");
  GstHarness *minus0 =
      gst_harness_new_with_element (r.mcu, NULL, "audio_src_0");
  std::vector<GstHarness *> in;
  for (guint p = 0; p < 3; p++) {
    gchar *name = g_strdup_printf ("audio_sink_%u", p);
    GstHarness *h = gst_harness_new_with_element (r.mcu, name, NULL);
    g_free (name);
    gst_harness_set_src_caps_str (h,
        "audio/x-raw, format=S16LE, rate=48000, channels=1, "
        "layout=interleaved");
    in.push_back (h);
  }
  use_output_clock (r);
  /* An unlinked mix-minus output is fine. */
  GstPad *unlinked = gst_element_request_pad_simple (r.mcu, "audio_src_%u");
  fail_unless (unlinked != NULL);

  for (guint f = 0; f < 8; f++) {
    for (guint p = 0; p < 3; p++)
      fail_unless_equals_int (
          gst_harness_push (
              in[p], tone_buffer (freqs[p], (guint64)f * SAMPLES_PER_FRAME,
                         frame_time (f))),
          GST_FLOW_OK);
    gst_buffer_unref (room_step (r, {}));
    GstBuffer *fb = gst_harness_pull (full);
    GstBuffer *mb = gst_harness_pull (minus0);
    fail_unless (fb && mb);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (fb), frame_time (f));
    fail_unless_equals_uint64 (GST_BUFFER_PTS (mb), frame_time (f));
    if (f >= 2) {
      double full_p[3], minus_p[3];
      for (int i = 0; i < 3; i++) {
        full_p[i] = goertzel (fb, 2, freqs[i]);
        minus_p[i] = goertzel (mb, 2, freqs[i]);
      }
      GST_INFO ("frame %u full %f %f %f minus0 %f %f %f", f, full_p[0],
          full_p[1], full_p[2], minus_p[0], minus_p[1], minus_p[2]);
      for (int i = 0; i < 3; i++)
        fail_unless (full_p[i] > 0.02, "tone %d missing from the full mix", i);
      fail_unless (minus_p[0] < full_p[0] / 20, "port 0 hears itself: %f vs %f",
          minus_p[0], full_p[0]);
      fail_unless (minus_p[1] > 0.02 && minus_p[2] > 0.02);
    }
    gst_buffer_unref (fb);
    gst_buffer_unref (mb);
  }
  gst_element_release_request_pad (r.mcu, unlinked);
  gst_object_unref (unlinked);
  for (GstHarness *h : in)
    gst_harness_teardown (h);
  gst_harness_teardown (minus0);
  gst_harness_teardown (full);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_auto_speaker)
{
  Room r = room_new ("layout=speaker auto-speaker=true");
  std::vector<GstHarness *> audio;
  for (guint p = 0; p < 3; p++) {
    room_add_input (r, p);
    gchar *name = g_strdup_printf ("audio_sink_%u", p);
    GstHarness *h = gst_harness_new_with_element (r.mcu, name, NULL);
    g_free (name);
    gst_harness_set_src_caps_str (h,
        "audio/x-raw, format=S16LE, rate=48000, channels=1, "
        "layout=interleaved");
    audio.push_back (h);
  }
  use_output_clock (r);

  /* Port 2 talks, the others are quiet. */
  for (guint f = 0; f < 3; f++) {
    for (guint p = 0; p < 3; p++)
      fail_unless_equals_int (
          gst_harness_push (
              audio[p], tone_buffer (p == 2 ? 700.0 : 0.0,
                            (guint64)f * SAMPLES_PER_FRAME, frame_time (f))),
          GST_FLOW_OK);
    gst_buffer_unref (room_step (r, {0, 1, 2}));
  }
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 3);
  fail_unless_equals_int (rects[0].port, 2);
  fail_unless (rects[0].y == 0 && rects[0].h == OUT_H * 3 / 4);

  /* Port 0 takes over, port 2 pauses: the switch waits ~300 ms. */
  guint switched_at = 0;
  for (guint f = 3; f < 30 && !switched_at; f++) {
    for (guint p = 0; p < 3; p++)
      fail_unless_equals_int (
          gst_harness_push (
              audio[p], tone_buffer (p == 0 ? 500.0 : 0.0,
                            (guint64)f * SAMPLES_PER_FRAME, frame_time (f))),
          GST_FLOW_OK);
    gst_buffer_unref (room_step (r, {0, 1, 2}));
    gboolean changed;
    rects = last_layout (r, &changed);
    if (changed) {
      fail_unless_equals_int (rects[0].port, 0);
      switched_at = f;
    }
  }
  fail_unless (switched_at >= 3 + 8 && switched_at <= 3 + 12,
      "switched at frame %u", switched_at);

  for (GstHarness *h : audio)
    gst_harness_teardown (h);
  room_free (r);
}
GST_END_TEST;

/* The speaking port: the pads' level and speaking properties follow the
 * tone, and its tile (only its) gets the amber border, which goes away
 * half a second after the port falls silent. */
GST_START_TEST (test_speaking_border)
{
  Room r = room_new ("speaking-border=4");
  std::vector<GstHarness *> audio;
  std::vector<GstPad *> pads;
  for (guint p = 0; p < 2; p++) {
    room_add_input (r, p);
    gchar *name = g_strdup_printf ("audio_sink_%u", p);
    GstHarness *h = gst_harness_new_with_element (r.mcu, name, NULL);
    g_free (name);
    gst_harness_set_src_caps_str (h,
        "audio/x-raw, format=S16LE, rate=48000, channels=1, "
        "layout=interleaved");
    audio.push_back (h);
    name = g_strdup_printf ("sink_%u", p);
    pads.push_back (gst_element_get_static_pad (r.mcu, name));
    g_free (name);
  }
  use_output_clock (r);

  auto step = [&] (double port1_freq) {
    guint64 f = r.frame;
    for (guint p = 0; p < 2; p++)
      fail_unless_equals_int (gst_harness_push (audio[p],
                                  tone_buffer (p == 1 ? port1_freq : 0.0,
                                      f * SAMPLES_PER_FRAME, frame_time (f))),
          GST_FLOW_OK);
    return room_step (r, {0, 1});
  };
  auto speaking = [&] (guint p) {
    gboolean v = FALSE;
    g_object_get (pads[p], "speaking", &v, NULL);
    return v;
  };

  /* Port 1 talks. */
  GstBuffer *buf = NULL;
  for (guint f = 0; f < 5; f++) {
    gst_clear_buffer (&buf);
    buf = step (600.0);
  }
  double level0 = -1, level1 = -1;
  g_object_get (pads[0], "level", &level0, NULL);
  g_object_get (pads[1], "level", &level1, NULL);
  GST_INFO ("levels %f %f", level0, level1);
  fail_unless (level1 > 0.05 && level0 < 0.001, "levels %f %f", level0, level1);
  fail_unless (speaking (1) && !speaking (0));
  std::vector<PortRect> rects = last_layout (r);
  fail_unless_equals_int (rects.size (), 2);
  for (const PortRect &pr : rects) {
    const guint8 edge = luma_at (buf, pr.x + pr.w / 2, pr.y + 1);
    const guint8 side = luma_at (buf, pr.x + 1, pr.y + pr.h / 2);
    const guint8 inside = luma_at (buf, pr.x + pr.w / 2, pr.y + 8);
    GST_INFO (
        "port %u: edge %u side %u inside %u", pr.port, edge, side, inside);
    fail_unless_equals_int (inside, port_luma (pr.port));
    if (pr.port == 1) {
      /* Amber is far brighter than any port. */
      fail_unless (edge > 150 && side > 150, "no border: %u %u", edge, side);
    } else {
      fail_unless_equals_int (edge, port_luma (pr.port));
      fail_unless_equals_int (side, port_luma (pr.port));
    }
  }

  /* Silence: the border stays through a short pause, then goes. */
  gst_clear_buffer (&buf);
  buf = step (0.0);
  fail_unless (speaking (1));
  for (guint f = 0; f < 20; f++) {
    gst_clear_buffer (&buf);
    buf = step (0.0);
  }
  fail_unless (!speaking (1) && !speaking (0));
  const PortRect *one = find_port (rects, 1);
  fail_unless (one != NULL);
  fail_unless_equals_int (
      luma_at (buf, one->x + one->w / 2, one->y + 1), port_luma (1));
  gst_buffer_unref (buf);

  for (GstPad *pad : pads)
    gst_object_unref (pad);
  for (GstHarness *h : audio)
    gst_harness_teardown (h);
  room_free (r);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_video_unlinked)
{
  /* Audio only: an unlinked composite output stops nothing. */
  GstElement *mcu = gst_element_factory_make ("mcucompositor", NULL);
  g_object_set (mcu, "width", OUT_W, "height", OUT_H, NULL);
  GstHarness *audio = gst_harness_new_with_element (mcu, NULL, "audio_src");
  gst_harness_play (audio);
  for (guint i = 0; i < 3; i++) {
    gst_harness_crank_single_clock_wait (audio);
    GstBuffer *buf = gst_harness_pull (audio);
    fail_unless (buf != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), frame_time (i));
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (audio);
  gst_object_unref (mcu);
}
GST_END_TEST;

GST_START_TEST (test_late_output_skips_ahead)
{
  Room r = room_new ();
  room_add_input (r, 0);
  for (guint i = 0; i < 2; i++)
    gst_buffer_unref (room_step (r, {0}));
  /* Downstream stalled for 5 s: the next frame is the present one, not the
   * 148 missed ones. */
  GstTestClock *clock = gst_harness_get_testclock (r.out);
  gst_test_clock_set_time (clock, 5 * GST_SECOND);
  gst_object_unref (clock);
  gst_harness_crank_single_clock_wait (r.out);
  GstBuffer *buf = gst_harness_pull (r.out);
  const GstClockTime frame = frame_time (1);
  fail_unless (GST_BUFFER_PTS (buf) >= 5 * GST_SECOND - 3 * frame
                   && GST_BUFFER_PTS (buf) <= 5 * GST_SECOND,
      "pts %" GST_TIME_FORMAT, GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);
  room_free (r);
}
GST_END_TEST;

GST_START_TEST (test_not_live)
{
  GstElement *mcu = gst_element_factory_make ("mcucompositor", NULL);
  g_object_set (mcu, "force-live", FALSE, "width", OUT_W, "height", OUT_H,
      "framerate", 30, 1, NULL);
  GstHarness *out = gst_harness_new_with_element (mcu, NULL, "src");
  gst_harness_set_sink_caps_str (out, "video/x-raw, format=I420");
  GstHarness *in = gst_harness_new_with_element (mcu, "sink_0", NULL);
  gst_harness_set_live (in, FALSE);
  gst_harness_set_src_caps_str (
      in, "video/x-raw, format=I420, width=160, height=120, framerate=30/1");
  gst_harness_play (out);

  /* Output follows the input as fast as it comes, no clock involved. */
  for (guint f = 0; f < 5; f++)
    fail_unless_equals_int (
        gst_harness_push (in, solid_i420 (port_luma (0), frame_time (f))),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (in, gst_event_new_eos ()));
  for (guint f = 0; f < 5; f++) {
    GstBuffer *buf = gst_harness_pull (out);
    fail_unless (buf != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), frame_time (f));
    check_pixels (buf, expected_grid ({0}));
    gst_buffer_unref (buf);
  }
  /* Then EOS. */
  GstEvent *ev;
  gboolean eos = FALSE;
  while (!eos && (ev = gst_harness_pull_event (out))) {
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos);
  gst_harness_teardown (in);
  gst_harness_teardown (out);
  gst_object_unref (mcu);
}
GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Outputs in a plain launch line, one sink each and no queue. */

struct SinkCount {
  std::atomic<guint> buffers{0};
  /* A consumer that stops taking data: handoff blocks until released. */
  bool block = false;
  GMutex lock;
  GCond cond;
  bool released = false; /* lock */
  SinkCount ()
  {
    g_mutex_init (&lock);
    g_cond_init (&cond);
  }
  ~SinkCount ()
  {
    g_mutex_clear (&lock);
    g_cond_clear (&cond);
  }
  void release ()
  {
    g_mutex_lock (&lock);
    released = true;
    g_cond_broadcast (&cond);
    g_mutex_unlock (&lock);
  }
};

/* Streaming threads: records only. */
static void
on_sink_handoff (GstElement *, GstBuffer *, GstPad *, gpointer data)
{
  SinkCount *c = static_cast<SinkCount *> (data);
  c->buffers++;
  if (c->block) {
    g_mutex_lock (&c->lock);
    while (!c->released)
      g_cond_wait (&c->cond, &c->lock);
    g_mutex_unlock (&c->lock);
  }
}

/* Streaming thread, before the sink: a consumer that stops taking data.
 * (Blocking in the sink's handoff would hold the sink's preroll lock and
 * so block the pipeline's own state changes, not only the stream.) */
static GstPadProbeReturn
on_sink_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
{
  on_sink_handoff (nullptr, nullptr, nullptr, data);
  return GST_PAD_PROBE_OK;
}

static void
count_sink (GstElement *pipeline, const gchar *name, SinkCount &c)
{
  if (c.block) {
    GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
    fail_unless (sink != NULL, "no element %s", name);
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (
        pad, GST_PAD_PROBE_TYPE_BUFFER, on_sink_buffer, &c, NULL);
    gst_object_unref (pad);
    gst_object_unref (sink);
    return;
  }
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  fail_unless (sink != NULL, "no element %s", name);
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_sink_handoff), &c);
  gst_object_unref (sink);
}

static GstElement *
parse_or_fail (const gchar *line)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (line, &err);
  fail_unless (p != NULL && err == NULL, "cannot parse '%s': %s", line,
      err ? err->message : "?");
  return p;
}

#define TWO_LIVE_PORTS                                                         \
  " videotestsrc is-live=true ! video/x-raw,width=160,height=120 ! m.sink_0"   \
  " audiotestsrc is-live=true ! m.audio_sink_0"                                \
  " videotestsrc is-live=true ! video/x-raw,width=160,height=120 ! m.sink_1"   \
  " audiotestsrc is-live=true ! m.audio_sink_1"

GST_START_TEST (test_outputs_never_block_each_other)
{
  /* The launch line of issue 10 item 11: the audio sinks wait to preroll,
   * the composite's sink does not; no queue anywhere. */
  GstElement *p = parse_or_fail (
      "mcucompositor name=m width=320 height=240 framerate=15/1 ! "
      "fakesink name=v sync=false async=false "
      "m.audio_src_0 ! fakesink name=a0 m.audio_src ! fakesink "
      "name=a" TWO_LIVE_PORTS);
  SinkCount v, a0, a;
  count_sink (p, "v", v);
  count_sink (p, "a0", a0);
  count_sink (p, "a", a);
  gst_element_set_state (p, GST_STATE_PLAYING);
  /* 1.5 s is ~22 frames at 15/s: ask for a third of that on every output. */
  g_usleep (1500 * 1000);
  const guint nv = v.buffers, na0 = a0.buffers, na = a.buffers;
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  fail_unless (nv >= 7, "composite: %u buffers", nv);
  fail_unless (na0 >= 7, "audio_src_0: %u buffers", na0);
  fail_unless (na >= 7, "audio_src: %u buffers", na);
}
GST_END_TEST;

GST_START_TEST (test_stalled_output_stalls_nothing_else)
{
  /* audio_src_0's consumer stops taking data after its first buffer; the
   * composite and the full mix go on. */
  GstElement *p = parse_or_fail (
      "mcucompositor name=m width=320 height=240 framerate=15/1 ! "
      "fakesink name=v sync=false async=false "
      "m.audio_src_0 ! fakesink name=a0 sync=false async=false "
      "m.audio_src ! fakesink name=a sync=false async=false" TWO_LIVE_PORTS);
  SinkCount v, a0, a;
  a0.block = true;
  count_sink (p, "v", v);
  count_sink (p, "a0", a0);
  count_sink (p, "a", a);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_usleep (1500 * 1000);
  const guint nv = v.buffers, na0 = a0.buffers, na = a.buffers;
  a0.release ();
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  fail_unless_equals_int (na0, 1);
  fail_unless (nv >= 7, "composite: %u buffers", nv);
  fail_unless (na >= 7, "audio_src: %u buffers", na);
}
GST_END_TEST;

/* Releases @pad of @element on a thread of its own; says whether that
 * returned within @ms (then joins it either way, after @unblock). */
static bool
release_returns_within (
    GstElement *element, GstPad *pad, guint ms, SinkCount &unblock)
{
  struct Release {
    GstElement *element;
    GstPad *pad;
    GMutex lock;
    GCond cond;
    bool done = false; /* lock */
  } r;
  r.element = element;
  r.pad = pad;
  g_mutex_init (&r.lock);
  g_cond_init (&r.cond);
  GThread *t = g_thread_new (
      "release",
      [] (gpointer data) -> gpointer {
        Release *r = static_cast<Release *> (data);
        gst_element_release_request_pad (r->element, r->pad);
        g_mutex_lock (&r->lock);
        r->done = true;
        g_cond_broadcast (&r->cond);
        g_mutex_unlock (&r->lock);
        return NULL;
      },
      &r);
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&r.lock);
  while (!r.done && g_cond_wait_until (&r.cond, &r.lock, end))
    ;
  const bool in_time = r.done;
  g_mutex_unlock (&r.lock);
  unblock.release ();
  g_thread_join (t);
  g_mutex_clear (&r.lock);
  g_cond_clear (&r.cond);
  return in_time;
}

GST_START_TEST (test_release_stalled_output)
{
  /* audio_src_0's consumer stops taking data after its first buffer; the
   * pad is released meanwhile: that returns at once (the stuck push ends on
   * its own later) and the composite goes on. */
  GstElement *p = parse_or_fail (
      "mcucompositor name=m width=320 height=240 framerate=15/1 ! "
      "fakesink name=v sync=false async=false "
      "m.audio_src_0 ! fakesink name=a0 sync=false async=false" TWO_LIVE_PORTS);
  SinkCount v, a0;
  a0.block = true;
  count_sink (p, "v", v);
  count_sink (p, "a0", a0);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (int i = 0; i < 500 && (a0.buffers < 1 || v.buffers < 3); i++)
    g_usleep (10 * 1000);
  GstElement *m = gst_bin_get_by_name (GST_BIN (p), "m");
  GstPad *pad = gst_element_get_static_pad (m, "audio_src_0");
  const bool in_time = release_returns_within (m, pad, 1000, a0);
  const guint before = v.buffers;
  for (int i = 0; i < 500 && v.buffers < before + 5; i++)
    g_usleep (10 * 1000);
  const guint after = v.buffers;
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (m);
  gst_object_unref (p);
  fail_unless (in_time, "releasing a stalled output did not return in 1 s");
  fail_unless (
      after >= before + 5, "composite: %u then %u buffers", before, after);
}
GST_END_TEST;

GST_START_TEST (test_eos_on_every_output_with_audio)
{
  /* Issue 10 item 12: with audio_src (and a mix-minus) linked, EOS reaches
   * every output once every input ended. */
  GstElement *p = parse_or_fail (
      "mcucompositor name=m width=320 height=240 framerate=15/1 ! fakesink "
      "m.audio_src ! fakesink m.audio_src_0 ! fakesink "
      "videotestsrc is-live=true num-buffers=15 ! "
      "video/x-raw,width=160,height=120 ! m.sink_0 "
      "audiotestsrc is-live=true num-buffers=10 ! m.audio_sink_0");
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  const bool eos = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  fail_unless (eos, "no EOS within 10 s");
}
GST_END_TEST;

/* Pad properties are controllable: a control binding on alpha is applied at
 * each output frame's stream time (a fade-in over ten frames). */
GST_START_TEST (test_alpha_control_binding)
{
  Room r = room_new ("layout=custom");
  room_add_input (r, 0);
  GstPad *p0 = gst_element_get_static_pad (r.mcu, "sink_0");
  g_object_set (p0, "xpos", 0, "ypos", 0, "width", 200, "height", 150, NULL);
  GstControlSource *fade = gst_interpolation_control_source_new ();
  g_object_set (fade, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  auto *values = GST_TIMED_VALUE_CONTROL_SOURCE (fade);
  gst_timed_value_control_source_set (values, 0, 0.0);
  gst_timed_value_control_source_set (values, frame_time (10), 1.0);
  fail_unless (gst_object_add_control_binding (GST_OBJECT (p0),
      gst_direct_control_binding_new (GST_OBJECT (p0), "alpha", fade)));

  const gint l0 = port_luma (0);
  for (guint64 n = 0; n <= 10; n++) {
    GstBuffer *buf = room_step (r, {0});
    /* Half-way, half of each; at the ends all background, all port 0. */
    assert_luma (buf, 50, 50, BG_LUMA + (gint)((l0 - BG_LUMA) * n / 10));
    assert_luma (buf, 250, 200, BG_LUMA);
    gst_buffer_unref (buf);
  }
  gdouble alpha = 0;
  g_object_get (p0, "alpha", &alpha, NULL);
  fail_unless (alpha > 0.99, "alpha is %f after the fade", alpha);

  gst_object_unref (fade);
  gst_object_unref (p0);
  room_free (r);
}
GST_END_TEST;

static Suite *
mcucompositor_suite (void)
{
  Suite *s = suite_create ("mcucompositor");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_pad_names);
  tcase_add_test (tc, test_zero_ports);
  tcase_add_test (tc, test_grid_1_to_9);
  tcase_add_test (tc, test_layout_message);
  tcase_add_test (tc, test_tile_fit_fill);
  tcase_add_test (tc, test_label);
  tcase_add_test (tc, test_speaker);
  tcase_add_test (tc, test_pip);
  tcase_add_test (tc, test_custom_zorder_alpha);
  tcase_add_test (tc, test_alpha_control_binding);
  tcase_add_test (tc, test_silent_port_reflows);
  tcase_add_test (tc, test_release_and_eos);
  tcase_add_test (tc, test_max_tiles_visible_order);
  tcase_add_test (tc, test_caps_stable_across_joins);
  tcase_add_test (tc, test_incompatible_caps);
  tcase_add_test (tc, test_audio_silence_without_inputs);
  tcase_add_test (tc, test_audio_mix_minus);
  tcase_add_test (tc, test_auto_speaker);
  tcase_add_test (tc, test_speaking_border);
  tcase_add_test (tc, test_video_unlinked);
  tcase_add_test (tc, test_late_output_skips_ahead);
  tcase_add_test (tc, test_not_live);
  tcase_add_test (tc, test_outputs_never_block_each_other);
  tcase_add_test (tc, test_stalled_output_stalls_nothing_else);
  tcase_add_test (tc, test_release_stalled_output);
  tcase_add_test (tc, test_eos_on_every_output_with_audio);
  return s;
}

ROOM_CHECK_MAIN (mcucompositor);
