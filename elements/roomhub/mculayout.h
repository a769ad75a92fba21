/* gst-rooms: the layout geometry of mcucompositor, as plain functions.
 *
 * Given the ports to show (their input sizes, pixel aspect ratios and pad
 * properties) and the output size, each layout appends one Tile per shown
 * port: where it goes in the output and which crop of the input fills it.
 * Nothing here touches a buffer or a lock, so the geometry is tested on its
 * own (tests/check/elements/mculayout.cpp).
 *
 * Rectangles are aligned to @a pixels (2 for subsampled chroma) so that
 * tiles abut without sharing a chroma sample.  Output pixels are square.
 */
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

#include "gstmcucompositor.h"

namespace mcu {

struct Rect {
  gint x = 0, y = 0, w = 0, h = 0;

  bool empty () const { return w <= 0 || h <= 0; }
  bool overlaps (const Rect &o) const
  {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

/* What the layout needs to know about one shown port. */
struct PortView {
  guint port;
  GstMcuCompositorPad *pad; /* borrowed from the frame's snapshot */
  gint in_w, in_h, par_n, par_d;
  gboolean speaker;
  gint xpos, ypos, width, height;
  guint zorder;
  gdouble alpha;
  std::string label;
};

struct Tile {
  PortView *view;
  Rect dst;
  gint sx, sy, sw, sh; /* crop of the input */
  gdouble alpha;
};

/* @v rounded down to a multiple of @a (also for negative @v). */
static inline gint
align_down (gint v, gint a)
{
  return v - (((v % a) + a) % a);
}

/* Places an input into a cell, letterboxed (fit) or cropped (fill). */
Tile place_in_cell (
    PortView *v, const Rect &cell, GstMcuCompositorTileFit fit, gint align);

/* Equal cells, as square a grid as fits; a short last row is centred. */
void layout_grid (std::vector<PortView *> &views, gint W, gint H,
    GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles);
/* The speaker (views[@speaker_index]) above, the others in a strip below. */
void layout_speaker (std::vector<PortView *> &views, gint speaker_index, gint W,
    gint H, GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles);
/* views[0] full frame, the others as insets from the bottom right. */
void layout_pip (std::vector<PortView *> &views, gint W, gint H,
    GstMcuCompositorTileFit fit, gint a, std::vector<Tile> &tiles);
/* Each port where its xpos/ypos/width/height put it, in zorder, clipped to
 * the frame (the input cropped in proportion). */
void layout_custom (
    std::vector<PortView *> &views, gint W, gint H, std::vector<Tile> &tiles);

/* Appends to @out the parts of @r not covered by @hole. */
void subtract_rect (const Rect &r, const Rect &hole, std::vector<Rect> &out);

} // namespace mcu
