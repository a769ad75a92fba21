/* gst-rooms: tests of mcucompositor's layout geometry (mculayout.h), on its
 * own: no element, no buffer. */
#include "roomcheck.h"

#include "mculayout.h"

#include <algorithm>
#include <memory>

using namespace mcu;

namespace {

/* @n ports with inputs of @w x @h (square pixels). */
std::vector<std::unique_ptr<PortView>>
make_views (guint n, gint w, gint h)
{
  std::vector<std::unique_ptr<PortView>> views;
  for (guint i = 0; i < n; i++) {
    auto v = std::make_unique<PortView> ();
    v->port = i;
    v->pad = nullptr;
    v->in_w = w;
    v->in_h = h;
    v->par_n = v->par_d = 1;
    v->speaker = FALSE;
    v->xpos = v->ypos = v->width = v->height = 0;
    v->zorder = i;
    v->alpha = 1.0;
    views.push_back (std::move (v));
  }
  return views;
}

std::vector<PortView *>
pointers (const std::vector<std::unique_ptr<PortView>> &views)
{
  std::vector<PortView *> out;
  for (const auto &v : views)
    out.push_back (v.get ());
  return out;
}

gint64
area (const Rect &r)
{
  return (gint64)r.w * r.h;
}

Rect
intersection (const Rect &a, const Rect &b)
{
  Rect r;
  r.x = MAX (a.x, b.x);
  r.y = MAX (a.y, b.y);
  r.w = MIN (a.x + a.w, b.x + b.w) - r.x;
  r.h = MIN (a.y + a.h, b.y + b.h) - r.y;
  if (r.w < 0 || r.h < 0)
    r.w = r.h = 0;
  return r;
}

/* Every tile inside the frame, on even coordinates, with a crop inside its
 * input; no two tiles overlap. */
void
check_tiles (const std::vector<Tile> &tiles, gint W, gint H)
{
  for (size_t i = 0; i < tiles.size (); i++) {
    const Tile &t = tiles[i];
    fail_unless (t.dst.x >= 0 && t.dst.y >= 0 && t.dst.x + t.dst.w <= W
                     && t.dst.y + t.dst.h <= H,
        "tile %zu (%d,%d %dx%d) leaves the %dx%d frame", i, t.dst.x, t.dst.y,
        t.dst.w, t.dst.h, W, H);
    fail_unless (!t.dst.empty (), "tile %zu is empty", i);
    fail_unless (t.dst.x % 2 == 0 && t.dst.y % 2 == 0,
        "tile %zu at odd (%d,%d)", i, t.dst.x, t.dst.y);
    fail_unless (t.sx >= 0 && t.sy >= 0 && t.sw > 0 && t.sh > 0
                 && t.sx + t.sw <= t.view->in_w && t.sy + t.sh <= t.view->in_h);
    for (size_t j = i + 1; j < tiles.size (); j++)
      fail_if (
          t.dst.overlaps (tiles[j].dst), "tiles %zu and %zu overlap", i, j);
  }
}

} // namespace

GST_START_TEST (test_align_down)
{
  fail_unless_equals_int (align_down (7, 2), 6);
  fail_unless_equals_int (align_down (8, 2), 8);
  fail_unless_equals_int (align_down (0, 4), 0);
  /* Negative coordinates (a custom tile left of the frame) round down too. */
  fail_unless_equals_int (align_down (-1, 2), -2);
  fail_unless_equals_int (align_down (-4, 4), -4);
}
GST_END_TEST;

/* Four 4:3 inputs in a 4:3 frame: a 2x2 grid of exact quarters. */
GST_START_TEST (test_grid_quarters)
{
  auto views = make_views (4, 640, 480);
  auto ptrs = pointers (views);
  std::vector<Tile> tiles;
  layout_grid (ptrs, 320, 240, GST_MCU_COMPOSITOR_TILE_FIT_FIT, 2, tiles);
  fail_unless_equals_int (tiles.size (), 4);
  const gint expected[4][2] = {{0, 0}, {160, 0}, {0, 120}, {160, 120}};
  for (int i = 0; i < 4; i++) {
    fail_unless_equals_int (tiles[i].view->port, i);
    fail_unless_equals_int (tiles[i].dst.x, expected[i][0]);
    fail_unless_equals_int (tiles[i].dst.y, expected[i][1]);
    fail_unless_equals_int (tiles[i].dst.w, 160);
    fail_unless_equals_int (tiles[i].dst.h, 120);
    fail_unless_equals_int (tiles[i].sw, 640); /* the whole input */
  }
}
GST_END_TEST;

/* From 1 to 16 ports, odd sizes and aspect ratios: every port gets one tile,
 * tiles never overlap or leave the frame, and a short last row is centred. */
GST_START_TEST (test_grid_any_count)
{
  for (guint n = 1; n <= 16; n++) {
    for (auto fit :
        {GST_MCU_COMPOSITOR_TILE_FIT_FIT, GST_MCU_COMPOSITOR_TILE_FIT_FILL}) {
      auto views = make_views (n, 333, 177);
      auto ptrs = pointers (views);
      std::vector<Tile> tiles;
      layout_grid (ptrs, 1278, 718, fit, 2, tiles);
      fail_unless_equals_int (tiles.size (), n);
      check_tiles (tiles, 1278, 718);
    }
  }
  /* Three ports: two above, one centred below. */
  auto views = make_views (3, 320, 240);
  auto ptrs = pointers (views);
  std::vector<Tile> tiles;
  layout_grid (ptrs, 320, 240, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2, tiles);
  fail_unless_equals_int (tiles[2].dst.x, 80);
  fail_unless_equals_int (tiles[2].dst.y, 120);
}
GST_END_TEST;

/* A 16:9 input in a 4:3 cell: fit letterboxes the whole input, fill crops
 * its sides and fills the cell. */
GST_START_TEST (test_fit_and_fill)
{
  auto views = make_views (1, 1280, 720);
  Rect cell{0, 0, 320, 240};
  Tile fit =
      place_in_cell (views[0].get (), cell, GST_MCU_COMPOSITOR_TILE_FIT_FIT, 2);
  fail_unless_equals_int (fit.dst.w, 320);
  fail_unless_equals_int (fit.dst.h, 180);
  fail_unless_equals_int (fit.dst.y, 30); /* centred */
  fail_unless_equals_int (fit.sw, 1280);
  fail_unless_equals_int (fit.sh, 720);

  Tile fill = place_in_cell (
      views[0].get (), cell, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2);
  fail_unless_equals_int (fill.dst.w, 320);
  fail_unless_equals_int (fill.dst.h, 240);
  fail_unless_equals_int (fill.sh, 720);
  fail_unless_equals_int (fill.sw, 960); /* 4:3 out of the middle */
  fail_unless_equals_int (fill.sx, 160);

  /* Anamorphic input (PAR 4:3): 480x360 displays as 640x360, 16:9. */
  views[0]->in_w = 480;
  views[0]->in_h = 360;
  views[0]->par_n = 4;
  views[0]->par_d = 3;
  Tile par =
      place_in_cell (views[0].get (), cell, GST_MCU_COMPOSITOR_TILE_FIT_FIT, 2);
  fail_unless_equals_int (par.dst.w, 320);
  fail_unless_equals_int (par.dst.h, 180);
}
GST_END_TEST;

/* The speaker takes the top three quarters, the others share the strip. */
GST_START_TEST (test_speaker)
{
  auto views = make_views (4, 320, 180);
  auto ptrs = pointers (views);
  std::vector<Tile> tiles;
  layout_speaker (
      ptrs, 2, 1280, 720, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2, tiles);
  fail_unless_equals_int (tiles.size (), 4);
  fail_unless_equals_int (tiles[0].view->port, 2);
  fail_unless_equals_int (tiles[0].dst.y, 0);
  fail_unless_equals_int (tiles[0].dst.h, 540);
  fail_unless_equals_int (tiles[0].dst.w, 1280);
  for (int i = 1; i < 4; i++) {
    fail_unless (tiles[i].view->port != 2);
    fail_unless_equals_int (tiles[i].dst.y, 540);
    fail_unless (tiles[i].dst.w < tiles[0].dst.w);
  }
  check_tiles (tiles, 1280, 720);

  /* Alone, the speaker has the whole frame. */
  std::vector<PortView *> one{views[0].get ()};
  tiles.clear ();
  layout_speaker (
      one, 0, 1280, 720, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2, tiles);
  fail_unless_equals_int (tiles.size (), 1);
  fail_unless_equals_int (tiles[0].dst.h, 720);
}
GST_END_TEST;

/* Picture in picture: the first port fills the frame, insets sit inside it
 * at the bottom right, and insets that do not fit are left out. */
GST_START_TEST (test_pip)
{
  auto views = make_views (3, 640, 360);
  auto ptrs = pointers (views);
  std::vector<Tile> tiles;
  layout_pip (ptrs, 640, 360, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2, tiles);
  fail_unless_equals_int (tiles.size (), 3);
  fail_unless_equals_int (tiles[0].dst.w, 640);
  fail_unless_equals_int (tiles[0].dst.h, 360);
  for (int i = 1; i < 3; i++) {
    const Rect &d = tiles[i].dst;
    fail_unless (
        d.x > 320 - 160 && d.y >= 180, "inset %d at %d,%d", i, d.x, d.y);
    fail_unless (d.x + d.w <= 640 && d.y + d.h <= 360);
  }
  fail_unless (tiles[1].dst.x > tiles[2].dst.x, "insets run right to left");

  auto many = make_views (60, 640, 360);
  auto many_ptrs = pointers (many);
  tiles.clear ();
  layout_pip (many_ptrs, 640, 360, GST_MCU_COMPOSITOR_TILE_FIT_FILL, 2, tiles);
  fail_unless (tiles.size () < 60);
  for (const Tile &t : tiles)
    fail_unless (t.dst.x >= 0 && t.dst.y >= 0);
}
GST_END_TEST;

/* Custom: drawn in zorder, clipped to the frame, the input cropped in
 * proportion; a tile wholly outside is not drawn. */
GST_START_TEST (test_custom)
{
  auto views = make_views (3, 200, 100);
  views[0]->zorder = 5;
  views[1]->zorder = 1;
  views[2]->zorder = 3;
  /* Port 1: half of it left of the frame. */
  views[1]->xpos = -100;
  views[1]->ypos = 10;
  views[1]->width = 200;
  views[1]->height = 100;
  /* Port 2: off the frame. */
  views[2]->xpos = 1000;
  auto ptrs = pointers (views);
  std::vector<Tile> tiles;
  layout_custom (ptrs, 320, 240, tiles);
  fail_unless_equals_int (tiles.size (), 2);
  fail_unless_equals_int (tiles[0].view->port, 1); /* lowest zorder first */
  fail_unless_equals_int (tiles[1].view->port, 0);
  const Tile &clipped = tiles[0];
  fail_unless_equals_int (clipped.dst.x, 0);
  fail_unless_equals_int (clipped.dst.w, 100);
  fail_unless_equals_int (clipped.sx, 100); /* the right half of the input */
  fail_unless_equals_int (clipped.sw, 100);
  /* Port 0 has no size: drawn at its input's size. */
  fail_unless_equals_int (tiles[1].dst.w, 200);
  fail_unless_equals_int (tiles[1].dst.h, 100);
}
GST_END_TEST;

/* subtract_rect: the pieces cover exactly what the hole leaves. */
GST_START_TEST (test_subtract_rect)
{
  const Rect r{10, 20, 100, 80};
  const Rect holes[] = {{0, 0, 5, 5}, {30, 40, 20, 10}, {0, 0, 400, 400},
      {100, 90, 50, 50}, {10, 20, 100, 80}, {50, 0, 10, 400}};
  for (const Rect &hole : holes) {
    std::vector<Rect> pieces;
    subtract_rect (r, hole, pieces);
    gint64 covered = 0;
    for (size_t i = 0; i < pieces.size (); i++) {
      fail_if (pieces[i].overlaps (hole));
      fail_unless (intersection (pieces[i], r).w == pieces[i].w
                   && intersection (pieces[i], r).h == pieces[i].h);
      for (size_t j = i + 1; j < pieces.size (); j++)
        fail_if (pieces[i].overlaps (pieces[j]));
      covered += area (pieces[i]);
    }
    fail_unless_equals_int64 (
        covered + area (intersection (r, hole)), area (r));
  }
}
GST_END_TEST;

static Suite *
mculayout_suite (void)
{
  Suite *s = suite_create ("mculayout");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_align_down);
  tcase_add_test (tc, test_grid_quarters);
  tcase_add_test (tc, test_grid_any_count);
  tcase_add_test (tc, test_fit_and_fill);
  tcase_add_test (tc, test_speaker);
  tcase_add_test (tc, test_pip);
  tcase_add_test (tc, test_custom);
  tcase_add_test (tc, test_subtract_rect);
  return s;
}

ROOM_CHECK_MAIN (mculayout);
