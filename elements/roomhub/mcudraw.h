/* gst-rooms: the pixel work of mcucompositor beside the tile scaler: solid
 * colours in any output format, rectangles, alpha blending, cached
 * GstVideoConverters for the formats the tile scaler does not handle, and
 * tile labels in a 5x7 bitmap font of our own.
 *
 * Every function touches only the frames and rectangles it is given, so
 * tiles can be drawn on several threads at once.
 */
#pragma once

#include <gst/video/video.h>

#include <string>

#include "mculayout.h"

namespace mcu {

/* One pixel of a solid colour in each plane of a format. */
struct PlanePixel {
  guint8 bytes[GST_VIDEO_MAX_PLANES][8] = {};
};

/* A cached converter, rebuilt when its input, output or rectangles change. */
struct TileConverter {
  GstVideoConverter *conv = nullptr;
  GstVideoInfo in_info;
  GstVideoInfo out_info;
  gint sx = 0, sy = 0, sw = 0, sh = 0, dx = 0, dy = 0, dw = 0, dh = 0;

  ~TileConverter ()
  {
    if (conv)
      gst_video_converter_free (conv);
  }
};

/* An ARGB colour as one pixel of each plane of @target's format and
 * colorimetry. */
PlanePixel colour_pixel (const GstVideoInfo *target, guint argb);

void fill_rect (GstVideoFrame *frame, const PlanePixel &px, const Rect &r);

/* dst = src * alpha + dst * (1 - alpha) at (dx, dy), byte by byte over each
 * plane (right for 8-bit formats); a plain copy when alpha is 1. */
void blend_frame (const GstVideoFrame *src, GstVideoFrame *dst, gint dx,
    gint dy, gdouble alpha);

/* @tc's converter for these rectangles, rebuilt if needed. */
GstVideoConverter *tile_converter (TileConverter &tc,
    const GstVideoInfo *in_info, const GstVideoInfo *out_info, gint sx, gint sy,
    gint sw, gint sh, gint dx, gint dy, gint dw, gint dh);

/* How a character of a label is drawn in the 5x7 font: 7 rows of 5 pixels
 * (bit 4 leftmost) and a mark row above them (accents; 0 for none).  ASCII
 * letters, digits and common punctuation have their glyph (lower case drawn
 * as upper case); Latin-1 letters are their base letter with its accent
 * (ç and ß are C and S); anything else is '?'. */
struct LabelGlyph {
  guint8 rows[7] = {};
  guint8 mark = 0;
};
LabelGlyph label_glyph_for (gunichar c);

/* Draws @label in the bottom left corner of @tile: @text_px on a @box_px box,
 * scaled with the tile and cut to its width. */
void draw_label (GstVideoFrame *out, const Rect &tile, const std::string &label,
    const PlanePixel &box_px, const PlanePixel &text_px);

/* A @width pixel frame of @px just inside @tile (the speaking marker). */
void draw_border (
    GstVideoFrame *out, const Rect &tile, gint width, const PlanePixel &px);

} // namespace mcu
