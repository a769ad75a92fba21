/* gst-rooms: the layout geometry of mcucompositor (see mculayout.h). */
#include "mculayout.h"

#include <algorithm>
#include <cmath>

namespace mcu {

/* Places an input into a cell: letterboxed (fit) or cropped (fill), keeping
 * the input's display aspect ratio.  Output pixels are square. */
Tile
place_in_cell (
    PortView *v, const Rect &cell, GstMcuCompositorTileFit fit, gint align)
{
  Tile t;
  t.view = v;
  t.alpha = 1.0;
  t.sx = t.sy = 0;
  t.sw = v->in_w;
  t.sh = v->in_h;
  const double disp_w = (double)v->in_w * v->par_n / v->par_d;
  const double disp_h = v->in_h;

  if (fit == GST_MCU_COMPOSITOR_TILE_FIT_FILL) {
    t.dst = cell;
    const double cell_aspect = (double)cell.w / cell.h;
    if (disp_w / disp_h > cell_aspect) {
      gint sw = (gint)lround (disp_h * cell_aspect * v->par_d / v->par_n);
      sw = CLAMP (align_down (sw, 2), MIN (2, v->in_w), v->in_w);
      t.sw = sw;
      t.sx = align_down ((v->in_w - sw) / 2, 2);
    } else {
      gint sh = (gint)lround (disp_w / cell_aspect);
      sh = CLAMP (align_down (sh, 2), MIN (2, v->in_h), v->in_h);
      t.sh = sh;
      t.sy = align_down ((v->in_h - sh) / 2, 2);
    }
    return t;
  }

  const double scale = MIN (cell.w / disp_w, cell.h / disp_h);
  gint w = align_down ((gint)lround (disp_w * scale), align);
  gint h = align_down ((gint)lround (disp_h * scale), align);
  w = CLAMP (w, MIN (align, cell.w), cell.w);
  h = CLAMP (h, MIN (align, cell.h), cell.h);
  t.dst.x = cell.x + align_down ((cell.w - w) / 2, align);
  t.dst.y = cell.y + align_down ((cell.h - h) / 2, align);
  t.dst.w = w;
  t.dst.h = h;
  return t;
}

void
layout_grid (std::vector<PortView *> &views, gint W, gint H,
    GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles)
{
  const gint n = (gint)views.size ();
  gint cols = 1;
  while (cols * cols < n)
    cols++;
  const gint rows = (n + cols - 1) / cols;

  for (gint i = 0; i < n; i++) {
    const gint r = i / cols, c = i % cols;
    const gint in_row = (r == rows - 1) ? n - r * cols : cols;
    const gint off = align_down ((cols - in_row) * W / (2 * cols), a);
    Rect cell;
    cell.x = align_down (c * W / cols, a) + off;
    const gint x1 =
        (c + 1 == cols) ? W : align_down ((c + 1) * W / cols, a) + off;
    cell.y = align_down (r * H / rows, a);
    const gint y1 = (r + 1 == rows) ? H : align_down ((r + 1) * H / rows, a);
    cell.w = x1 - cell.x;
    cell.h = y1 - cell.y;
    tiles.push_back (place_in_cell (views[i], cell, fit, a));
  }
}

void
layout_speaker (std::vector<PortView *> &views, gint speaker_index, gint W,
    gint H, GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles)
{
  if (views.size () == 1) {
    tiles.push_back (place_in_cell (views[0], Rect{0, 0, W, H}, fit, a));
    return;
  }
  const gint main_h = align_down (H * 3 / 4, a);
  const gint strip_h = H - main_h;
  tiles.push_back (
      place_in_cell (views[speaker_index], Rect{0, 0, W, main_h}, fit, a));

  const gint m = (gint)views.size () - 1;
  const gint cw =
      MAX (a, MIN (align_down (W / m, a), align_down (strip_h * 16 / 9, a)));
  const gint x0 = align_down ((W - cw * m) / 2, a);
  gint j = 0;
  for (gint i = 0; i < (gint)views.size (); i++) {
    if (i == speaker_index)
      continue;
    Rect cell{x0 + j * cw, main_h, cw, strip_h};
    tiles.push_back (place_in_cell (views[i], cell, fit, a));
    j++;
  }
}

void
layout_pip (std::vector<PortView *> &views, gint W, gint H,
    GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles)
{
  tiles.push_back (place_in_cell (views[0], Rect{0, 0, W, H}, fit, a));
  const gint iw = MAX (a, align_down (W / 4, a));
  const gint ih = MAX (a, align_down (H / 4, a));
  const gint margin = MAX (2, align_down (H / 36, 2));
  const gint per_row = MAX (1, (W - margin) / (iw + margin));
  for (gint j = 0; j + 1 < (gint)views.size (); j++) {
    const gint row = j / per_row, col = j % per_row;
    Rect cell;
    cell.x = align_down (W - margin - (col + 1) * iw - col * margin, a);
    cell.y = align_down (H - margin - (row + 1) * ih - row * margin, a);
    cell.w = iw;
    cell.h = ih;
    if (cell.x < 0 || cell.y < 0)
      break; /* more insets than fit: the rest are not shown */
    tiles.push_back (place_in_cell (views[j + 1], cell, fit, a));
  }
}

void
layout_custom (
    std::vector<PortView *> &views, gint W, gint H, std::vector<Tile> &tiles)
{
  std::vector<PortView *> sorted (views);
  std::stable_sort (sorted.begin (), sorted.end (),
      [] (const PortView *l, const PortView *r) {
        return l->zorder != r->zorder ? l->zorder < r->zorder
                                      : l->port < r->port;
      });
  for (PortView *v : sorted) {
    const gint w = v->width > 0 ? v->width : v->in_w;
    const gint h = v->height > 0 ? v->height : v->in_h;
    /* Clip to the frame; crop the input in proportion. */
    const gint x0 = MAX (v->xpos, 0), y0 = MAX (v->ypos, 0);
    const gint x1 = MIN ((gint64)v->xpos + w, (gint64)W);
    const gint y1 = MIN ((gint64)v->ypos + h, (gint64)H);
    if (x1 <= x0 || y1 <= y0)
      continue;
    Tile t;
    t.view = v;
    t.alpha = v->alpha;
    t.dst = Rect{x0, y0, x1 - x0, y1 - y0};
    t.sx = (gint)((gint64)(x0 - v->xpos) * v->in_w / w);
    t.sy = (gint)((gint64)(y0 - v->ypos) * v->in_h / h);
    t.sw = MAX (1, (gint)((gint64)t.dst.w * v->in_w / w));
    t.sh = MAX (1, (gint)((gint64)t.dst.h * v->in_h / h));
    t.sw = MIN (t.sw, v->in_w - t.sx);
    t.sh = MIN (t.sh, v->in_h - t.sy);
    if (t.sw <= 0 || t.sh <= 0)
      continue;
    tiles.push_back (t);
  }
}

/* Appends to @out the parts of @r not covered by @hole. */
void
subtract_rect (const Rect &r, const Rect &hole, std::vector<Rect> &out)
{
  if (!r.overlaps (hole)) {
    out.push_back (r);
    return;
  }
  const gint ix0 = MAX (r.x, hole.x), iy0 = MAX (r.y, hole.y);
  const gint ix1 = MIN (r.x + r.w, hole.x + hole.w);
  const gint iy1 = MIN (r.y + r.h, hole.y + hole.h);
  if (iy0 > r.y)
    out.push_back (Rect{r.x, r.y, r.w, iy0 - r.y});
  if (r.y + r.h > iy1)
    out.push_back (Rect{r.x, iy1, r.w, r.y + r.h - iy1});
  if (ix0 > r.x)
    out.push_back (Rect{r.x, iy0, ix0 - r.x, iy1 - iy0});
  if (r.x + r.w > ix1)
    out.push_back (Rect{ix1, iy0, r.x + r.w - ix1, iy1 - iy0});
}

} // namespace mcu
