/* gst-rooms: tests of the tile scaler and the worker pool used by
 * mcucompositor. */
#include "roomcheck.h"
#include "tilescaler.h"

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

static const guint8 CANARY = 0x5a;

/* A mapped frame that unmaps and unrefs itself. */
struct TestFrame {
  GstVideoInfo info;
  GstBuffer *buffer = nullptr;
  GstVideoFrame frame;

  TestFrame (GstVideoFormat format, int width, int height, guint8 fill)
  {
    gst_video_info_set_format (&info, format, width, height);
    buffer = gst_buffer_new_allocate (NULL, info.size, NULL);
    gst_buffer_memset (buffer, 0, fill, info.size);
    fail_unless (
        gst_video_frame_map (&frame, &info, buffer, GST_MAP_READWRITE));
  }
  ~TestFrame ()
  {
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buffer);
  }
  int planes () const { return GST_VIDEO_FRAME_N_PLANES (&frame); }
  guint8 *row (int p, int y)
  {
    return (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&frame, p)
           + (size_t)y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  /* The first component stored in plane @p. */
  int comp (int p) const
  {
    int c = 0;
    while (GST_VIDEO_FORMAT_INFO_PLANE (info.finfo, c) != (guint)p)
      c++;
    return c;
  }
  int pw (int p) const { return GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp (p)); }
  int ph (int p) const
  {
    return GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp (p));
  }
  int bpp (int p) const
  {
    return GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp (p));
  }
  int hsub (int p) const
  {
    return GST_VIDEO_FORMAT_INFO_W_SUB (info.finfo, comp (p));
  }
  int vsub (int p) const
  {
    return GST_VIDEO_FORMAT_INFO_H_SUB (info.finfo, comp (p));
  }
};

static int
ceil_shift (int v, int s)
{
  return -((-v) >> s);
}

/* Samples of plane @p sited inside the luma rectangle: [x0,x1) x [y0,y1). */
struct PlaneRect {
  int x0, x1, y0, y1;
};
static PlaneRect
plane_rect (const TestFrame &f, int p, int dx, int dy, int dw, int dh)
{
  int h = f.hsub (p), v = f.vsub (p);
  return {ceil_shift (dx, h), ceil_shift (dx + dw, h), ceil_shift (dy, v),
      ceil_shift (dy + dh, v)};
}

/* Fails unless every byte of @f outside the rectangle is still CANARY. */
static void
check_canary_outside (TestFrame &f, int dx, int dy, int dw, int dh)
{
  for (int p = 0; p < f.planes (); p++) {
    PlaneRect r = plane_rect (f, p, dx, dy, dw, dh);
    for (int y = 0; y < f.ph (p); y++) {
      const guint8 *row = f.row (p, y);
      for (int x = 0; x < f.pw (p) * f.bpp (p); x++) {
        bool inside = y >= r.y0 && y < r.y1 && x / f.bpp (p) >= r.x0
                      && x / f.bpp (p) < r.x1;
        if (!inside && row[x] != CANARY)
          fail ("%s plane %d byte (%d,%d) outside the rectangle changed",
              gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&f.info)), p,
              x, y);
      }
    }
  }
}

static void
fill_random (TestFrame &f, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  for (int p = 0; p < f.planes (); p++)
    for (int y = 0; y < f.ph (p); y++)
      for (int x = 0; x < f.pw (p) * f.bpp (p); x++)
        f.row (p, y)[x] = (guint8)g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
}

/* A distinct value per plane and byte of the pixel. */
static guint8
solid_value (int p, int k)
{
  return (guint8)(17 + 60 * p + 23 * k);
}

static void
fill_solid (TestFrame &f)
{
  for (int p = 0; p < f.planes (); p++)
    for (int y = 0; y < f.ph (p); y++)
      for (int x = 0; x < f.pw (p) * f.bpp (p); x++)
        f.row (p, y)[x] = solid_value (p, x % f.bpp (p));
}

static const GstVideoFormat all_formats[] = {GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_Y41B, GST_VIDEO_FORMAT_Y42B,
    GST_VIDEO_FORMAT_Y444, GST_VIDEO_FORMAT_A420, GST_VIDEO_FORMAT_GRAY8,
    GST_VIDEO_FORMAT_GBR, GST_VIDEO_FORMAT_GBRA, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_NV16, GST_VIDEO_FORMAT_NV61,
    GST_VIDEO_FORMAT_NV24, GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR,
    GST_VIDEO_FORMAT_v308, GST_VIDEO_FORMAT_IYU2, GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR,
    GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_xRGB,
    GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_AYUV, GST_VIDEO_FORMAT_VUYA};

GST_START_TEST (test_copy_1to1_exact)
{
  for (GstVideoFormat format : all_formats) {
    TestFrame src (format, 96, 64, 0);
    TestFrame dst (format, 128, 80, CANARY);
    fill_random (src, 1);
    const int sx = 8, sy = 4, dx = 20, dy = 12, w = 64, h = 40;
    fail_unless (gst_room_tile_scale (
        &src.frame, sx, sy, w, h, &dst.frame, dx, dy, w, h, 1.0));
    check_canary_outside (dst, dx, dy, w, h);
    for (int p = 0; p < dst.planes (); p++) {
      PlaneRect r = plane_rect (dst, p, dx, dy, w, h);
      PlaneRect s = plane_rect (src, p, sx, sy, w, h);
      const int n = (r.x1 - r.x0) * dst.bpp (p);
      for (int y = r.y0; y < r.y1; y++)
        fail_unless (memcmp (dst.row (p, y) + r.x0 * dst.bpp (p),
                         src.row (p, s.y0 + y - r.y0) + s.x0 * src.bpp (p), n)
                         == 0,
            "%s plane %d row %d is not an exact copy",
            gst_video_format_to_string (format), p, y);
    }
  }
}
GST_END_TEST;

/* Solid colours stay exact at every scale, every format, odd sizes and
 * offsets included, and nothing outside the rectangle is touched. */
GST_START_TEST (test_solid_any_scale_all_formats)
{
  struct Case {
    int sx, sy, sw, sh, dx, dy, dw, dh;
  };
  const Case cases[] = {
      {0, 0, 64, 48, 0, 0, 64, 48}, /* copy */
      {0, 0, 64, 48, 4, 2, 32, 24}, /* 2:1 */
      {0, 0, 63, 48, 3, 1, 21, 16}, /* 3:1, odd offsets */
      {2, 2, 60, 45, 5, 7, 40, 30}, /* 1.5:1 */
      {1, 3, 17, 11, 3, 5, 61, 37}, /* enlarge, odd */
      {0, 0, 64, 48, 1, 1, 7, 5},   /* strong shrink, odd */
      {5, 5, 33, 21, 0, 9, 70, 13}, /* enlarge x, shrink y */
  };
  for (GstVideoFormat format : all_formats) {
    TestFrame src (format, 64, 48, 0);
    fill_solid (src);
    for (const Case &c : cases) {
      TestFrame dst (format, 80, 60, CANARY);
      fail_unless (gst_room_tile_scale (&src.frame, c.sx, c.sy, c.sw, c.sh,
          &dst.frame, c.dx, c.dy, c.dw, c.dh, 1.0));
      check_canary_outside (dst, c.dx, c.dy, c.dw, c.dh);
      for (int p = 0; p < dst.planes (); p++) {
        PlaneRect r = plane_rect (dst, p, c.dx, c.dy, c.dw, c.dh);
        for (int y = r.y0; y < r.y1; y++)
          for (int x = r.x0 * dst.bpp (p); x < r.x1 * dst.bpp (p); x++)
            fail_unless_equals_int_hex (
                dst.row (p, y)[x], solid_value (p, x % dst.bpp (p)));
      }
    }
  }
}
GST_END_TEST;

/* Exact 2:1 and 3:1 shrinks are the rounded box average (we allow +-1). */
static void
check_box (GstVideoFormat format, int factor)
{
  const int w = 60, h = 36;
  TestFrame src (format, w, h, 0);
  fill_random (src, 7 + factor);
  TestFrame dst (format, w, h, CANARY);
  const int dx = 6, dy = 4;
  fail_unless (gst_room_tile_scale (
      &src.frame, 0, 0, w, h, &dst.frame, dx, dy, w / factor, h / factor, 1.0));
  check_canary_outside (dst, dx, dy, w / factor, h / factor);
  for (int p = 0; p < dst.planes (); p++) {
    PlaneRect r = plane_rect (dst, p, dx, dy, w / factor, h / factor);
    const int bpp = dst.bpp (p);
    for (int y = r.y0; y < r.y1; y++)
      for (int x = r.x0; x < r.x1; x++)
        for (int k = 0; k < bpp; k++) {
          int sum = 0;
          for (int j = 0; j < factor; j++)
            for (int i = 0; i < factor; i++)
              sum += src.row (p,
                  (y - r.y0) * factor + j)[((x - r.x0) * factor + i) * bpp + k];
          double want = (double)sum / (factor * factor);
          int got = dst.row (p, y)[x * bpp + k];
          fail_unless (std::fabs (got - want) <= 1.0,
              "%s %d:1 plane %d (%d,%d): got %d, box average %.2f",
              gst_video_format_to_string (format), factor, p, x, y, got, want);
        }
  }
}

GST_START_TEST (test_box_2to1_3to1)
{
  for (GstVideoFormat format :
      {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_Y444,
          GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_RGB}) {
    check_box (format, 2);
    check_box (format, 3);
  }
}
GST_END_TEST;

/* A gradient scaled by 2:1 equals the box average within +-1. */
GST_START_TEST (test_gradient_2to1)
{
  TestFrame src (GST_VIDEO_FORMAT_GRAY8, 256, 16, 0);
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 256; x++)
      src.row (0, y)[x] = (guint8)x;
  TestFrame dst (GST_VIDEO_FORMAT_GRAY8, 128, 8, CANARY);
  fail_unless (gst_room_tile_scale (
      &src.frame, 0, 0, 256, 16, &dst.frame, 0, 0, 128, 8, 1.0));
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 128; x++)
      fail_unless (std::abs (dst.row (0, y)[x] - (2 * x + 0.5)) <= 1.0);
}
GST_END_TEST;

/* Any ratio: each output is the area average of what it covers (luma, up
 * to a rounding of the 8-bit weights). */
GST_START_TEST (test_box_any_ratio)
{
  const int sw = 90, sh = 45, dw = 60, dh = 31;
  TestFrame src (GST_VIDEO_FORMAT_GRAY8, sw, sh, 0);
  fill_random (src, 3);
  TestFrame dst (GST_VIDEO_FORMAT_GRAY8, dw, dh, CANARY);
  fail_unless (gst_room_tile_scale (
      &src.frame, 0, 0, sw, sh, &dst.frame, 0, 0, dw, dh, 1.0));
  const double fx = (double)sw / dw, fy = (double)sh / dh;
  for (int y = 0; y < dh; y++)
    for (int x = 0; x < dw; x++) {
      double sum = 0;
      for (int j = (int)(y * fy); j < (int)std::ceil ((y + 1) * fy); j++)
        for (int i = (int)(x * fx); i < (int)std::ceil ((x + 1) * fx); i++) {
          double cx =
              std::min ((x + 1) * fx, i + 1.0) - std::max (x * fx, (double)i);
          double cy =
              std::min ((y + 1) * fy, j + 1.0) - std::max (y * fy, (double)j);
          sum += cx * cy * src.row (0, j)[i];
        }
      double want = sum / (fx * fy);
      int got = dst.row (0, y)[x];
      fail_unless (std::fabs (got - want) <= 2.0,
          "(%d,%d): got %d, area average %.2f", x, y, got, want);
    }
}
GST_END_TEST;

/* Enlarging interpolates: a 2x enlargement of a ramp stays a ramp. */
GST_START_TEST (test_bilinear_enlarge)
{
  TestFrame src (GST_VIDEO_FORMAT_GRAY8, 32, 4, 0);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 32; x++)
      src.row (0, y)[x] = (guint8)(8 * x);
  TestFrame dst (GST_VIDEO_FORMAT_GRAY8, 64, 8, CANARY);
  fail_unless (gst_room_tile_scale (
      &src.frame, 0, 0, 32, 4, &dst.frame, 0, 0, 64, 8, 1.0));
  for (int y = 0; y < 8; y++)
    for (int x = 1; x < 63; x++) {
      /* output x sits at source x/2 - 0.25 */
      double want = 8 * (x / 2.0 - 0.25);
      fail_unless (std::fabs (dst.row (0, y)[x] - want) <= 1.0,
          "(%d,%d): got %d want %.2f", x, y, dst.row (0, y)[x], want);
    }
}
GST_END_TEST;

GST_START_TEST (test_alpha_blend)
{
  const struct {
    double alpha;
    int want;
  } cases[] = {{1.0, 200}, {0.5, 150}, {0.25, 125}, {0.0, 100}};
  for (auto c : cases) {
    for (GstVideoFormat format :
        {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_RGBA}) {
      TestFrame src (format, 32, 32, 200);
      TestFrame dst (format, 64, 64, 100);
      /* scaled (1.5:1) and copied (1:1) paths */
      fail_unless (gst_room_tile_scale (
          &src.frame, 0, 0, 32, 32, &dst.frame, 0, 0, 20, 20, c.alpha));
      fail_unless (gst_room_tile_scale (
          &src.frame, 0, 0, 32, 32, &dst.frame, 30, 30, 32, 32, c.alpha));
      fail_unless_equals_int (dst.row (0, 10)[10 * dst.bpp (0)], c.want);
      fail_unless_equals_int (dst.row (0, 40)[40 * dst.bpp (0)], c.want);
      fail_unless_equals_int (dst.row (0, 25)[25 * dst.bpp (0)], 100);
    }
  }
}
GST_END_TEST;

GST_START_TEST (test_unsupported)
{
  fail_if (gst_room_tile_scale_supported (GST_VIDEO_FORMAT_YUY2));
  fail_if (gst_room_tile_scale_supported (GST_VIDEO_FORMAT_I420_10LE));
  TestFrame yuy2 (GST_VIDEO_FORMAT_YUY2, 16, 16, 0);
  TestFrame i420 (GST_VIDEO_FORMAT_I420, 16, 16, 0);
  fail_if (gst_room_tile_scale (
      &yuy2.frame, 0, 0, 16, 16, &yuy2.frame, 0, 0, 8, 8, 1.0));
  fail_if (gst_room_tile_scale (
      &i420.frame, 0, 0, 16, 16, &yuy2.frame, 0, 0, 8, 8, 1.0));
  /* Rectangles partly or fully outside are clipped, not a crash. */
  TestFrame dst (GST_VIDEO_FORMAT_I420, 16, 16, CANARY);
  fail_unless (gst_room_tile_scale (
      &i420.frame, -4, 0, 40, 16, &dst.frame, 8, 8, 32, 32, 1.0));
  check_canary_outside (dst, 8, 8, 8, 8);
  fail_unless (gst_room_tile_scale (
      &i420.frame, 0, 0, 16, 16, &dst.frame, 100, 100, 8, 8, 1.0));
}
GST_END_TEST;

GST_START_TEST (test_parallel_for)
{
  std::vector<std::atomic<int>> count (1000);
  gst_room_parallel_for (1000, [&] (guint i) { count[i]++; });
  for (auto &c : count)
    fail_unless_equals_int (c.load (), 1);

  /* Nested: the inner loop runs inline inside the outer task. */
  std::vector<std::atomic<int>> nested (8 * 16);
  gst_room_parallel_for (8, [&] (guint i) {
    gst_room_parallel_for (16, [&] (guint j) { nested[i * 16 + j]++; });
  });
  for (auto &c : nested)
    fail_unless_equals_int (c.load (), 1);

  /* The tasks run on the pool's threads: they record, this thread asserts
   * (libcheck cannot fail a test from another thread). */
  std::atomic<int> ran_with_zero{0};
  gst_room_parallel_for (0, [&] (guint) { ran_with_zero++; });
  fail_unless_equals_int (ran_with_zero.load (), 0);

  /* An exception reaches the caller after every index ran. */
  std::atomic<int> ran{0};
  bool caught = false;
  try {
    gst_room_parallel_for (50, [&] (guint i) {
      ran++;
      if (i == 7)
        throw std::runtime_error ("task 7");
    });
  } catch (const std::runtime_error &) {
    caught = true;
  }
  fail_unless (caught);
  fail_unless_equals_int (ran.load (), 50);
}
GST_END_TEST;

/* Tiles rendered in parallel (one task each, scaler inline) give the same
 * picture as tiles rendered one after another (scaler using bands). */
GST_START_TEST (test_tiles_in_parallel)
{
  TestFrame src (GST_VIDEO_FORMAT_I420, 640, 360, 0);
  fill_random (src, 11);
  TestFrame serial (GST_VIDEO_FORMAT_I420, 1280, 720, CANARY);
  TestFrame parallel (GST_VIDEO_FORMAT_I420, 1280, 720, CANARY);
  /* Run on the pool's threads too: records failures, never asserts. */
  std::atomic<int> failed{0};
  auto tile = [&] (TestFrame &dst, guint i) {
    int col = i % 3, row = i / 3;
    int x0 = 1280 * col / 3, x1 = 1280 * (col + 1) / 3;
    int y0 = 720 * row / 3, y1 = 720 * (row + 1) / 3;
    if (!gst_room_tile_scale (&src.frame, 0, 0, 640, 360, &dst.frame, x0, y0,
            x1 - x0, y1 - y0, 1.0))
      failed++;
  };
  for (guint i = 0; i < 9; i++)
    tile (serial, i);
  gst_room_parallel_for (9, [&] (guint i) { tile (parallel, i); });
  fail_unless_equals_int (failed.load (), 0);
  fail_unless (gst_buffer_memcmp (serial.buffer, 0, parallel.frame.map[0].data,
                   serial.info.size)
               == 0);
}
GST_END_TEST;

/* A large tile split into bands across the pool (odd rectangle, 4:2:0 and
 * packed) gives exactly what one thread computes alone. */
GST_START_TEST (test_bands_match_single_thread)
{
  for (GstVideoFormat format :
      {GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_BGRx}) {
    TestFrame src (format, 500, 301, 0);
    fill_random (src, 5);
    TestFrame banded (format, 700, 500, CANARY);
    TestFrame single (format, 700, 500, CANARY);
    const int dx = 33, dy = 17, dw = 601, dh = 451;
    fail_unless (gst_room_tile_scale (
        &src.frame, 3, 1, 497, 299, &banded.frame, dx, dy, dw, dh, 1.0));
    /* Inside a pool task the scaler runs inline, on one thread. */
    gboolean ok = FALSE;
    gst_room_parallel_for (2, [&] (guint i) {
      if (i == 0)
        ok = gst_room_tile_scale (
            &src.frame, 3, 1, 497, 299, &single.frame, dx, dy, dw, dh, 1.0);
    });
    fail_unless (ok);
    fail_unless (gst_buffer_memcmp (banded.buffer, 0, single.frame.map[0].data,
                     single.info.size)
                 == 0);
    check_canary_outside (banded, dx, dy, dw, dh);
  }
}
GST_END_TEST;

static Suite *
tilescaler_suite (void)
{
  Suite *s = suite_create ("tilescaler");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_copy_1to1_exact);
  tcase_add_test (tc, test_solid_any_scale_all_formats);
  tcase_add_test (tc, test_box_2to1_3to1);
  tcase_add_test (tc, test_gradient_2to1);
  tcase_add_test (tc, test_box_any_ratio);
  tcase_add_test (tc, test_bilinear_enlarge);
  tcase_add_test (tc, test_alpha_blend);
  tcase_add_test (tc, test_unsupported);
  tcase_add_test (tc, test_parallel_for);
  tcase_add_test (tc, test_tiles_in_parallel);
  tcase_add_test (tc, test_bands_match_single_thread);
  return s;
}

ROOM_CHECK_MAIN (tilescaler);
