/* gst-rooms: the pixel work of mcucompositor (see mcudraw.h). */
#include "mcudraw.h"

#include <cmath>
#include <cstring>

namespace mcu {

namespace {

/* The bytes of plane @plane that hold pixels [x, x+w) x [y, y+h). */
struct PlaneSpan {
  gint byte_x0, byte_x1, row0, row1, pstride;
};

PlaneSpan
plane_span (
    const GstVideoInfo *info, guint plane, gint x, gint y, gint w, gint h)
{
  const GstVideoFormatInfo *finfo = info->finfo;
  guint comp = 0;
  for (guint c = 0; c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo); c++) {
    if (GST_VIDEO_FORMAT_INFO_PLANE (finfo, c) == plane) {
      comp = c;
      break;
    }
  }
  const gint wsub = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, comp);
  const gint hsub = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, comp);
  const gint pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp);
  const gint cw = GST_VIDEO_INFO_COMP_WIDTH (info, comp);
  const gint ch = GST_VIDEO_INFO_COMP_HEIGHT (info, comp);
  PlaneSpan s;
  s.pstride = pstride;
  s.byte_x0 = MIN (x >> wsub, cw) * pstride;
  s.byte_x1 = MIN ((x + w + (1 << wsub) - 1) >> wsub, cw) * pstride;
  s.row0 = MIN (y >> hsub, ch);
  s.row1 = MIN ((y + h + (1 << hsub) - 1) >> hsub, ch);
  return s;
}

GstVideoConverter *
make_converter (const GstVideoInfo *in_info, const GstVideoInfo *out_info,
    gint sx, gint sy, gint sw, gint sh, gint dx, gint dy, gint dw, gint dh)
{
  GstStructure *config =
      gst_structure_new ("GstVideoConverter", GST_VIDEO_CONVERTER_OPT_SRC_X,
          G_TYPE_INT, sx, GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, sy,
          GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT, sw,
          GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, sh,
          GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, dx,
          GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, dy,
          GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, dw,
          GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT, G_TYPE_INT, dh,
          GST_VIDEO_CONVERTER_OPT_FILL_BORDER, G_TYPE_BOOLEAN, FALSE,
          GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1,
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL);
  return gst_video_converter_new (
      (GstVideoInfo *)in_info, (GstVideoInfo *)out_info, config);
}

/* A 5x7 bitmap font of our own for labels: each glyph is 7 rows, bit 4 the
 * leftmost pixel.  Lower case is drawn as upper case; anything else as '?'. */
struct Glyph {
  char c;
  guint8 rows[7];
};

const Glyph label_font[] = {
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'&', {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D}},
    {'@', {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
};

/* Latin-1 letters (U+00C0 to U+00FF) as their base letter and a mark drawn
 * one row above it: each entry is the base letter and an index into
 * latin1_marks ('.': no letter, drawn as '?').  Upper and lower case share
 * the drawing, as ASCII letters do. */
enum { NO_MARK, GRAVE, ACUTE, CIRCUMFLEX, TILDE, DIAERESIS, RING };
const guint8 latin1_marks[] = {0x00, 0x18, 0x03, 0x0E, 0x1B, 0x11, 0x04};
const char latin1_base[] = "AAAAAAACEEEEIIIIDNOOOOO.OUUUUYPS"
                           "AAAAAAACEEEEIIIIDNOOOOO.OUUUUYPY";
const guint8 latin1_mark[] = {GRAVE, ACUTE, CIRCUMFLEX, TILDE, DIAERESIS, RING,
    NO_MARK, NO_MARK, GRAVE, ACUTE, CIRCUMFLEX, DIAERESIS, GRAVE, ACUTE,
    CIRCUMFLEX, DIAERESIS, NO_MARK, TILDE, GRAVE, ACUTE, CIRCUMFLEX, TILDE,
    DIAERESIS, NO_MARK, NO_MARK, GRAVE, ACUTE, CIRCUMFLEX, DIAERESIS, ACUTE,
    NO_MARK, NO_MARK};

const Glyph *
label_glyph (gunichar c)
{
  if (c >= 0xC0 && c <= 0xFF && latin1_base[c - 0xC0] != '.')
    c = (gunichar)latin1_base[c - 0xC0];
  if (c < 128)
    c = g_ascii_toupper ((gchar)c);
  const Glyph *unknown = NULL;
  for (const Glyph &g : label_font) {
    if ((gunichar)(guchar)g.c == c)
      return &g;
    if (g.c == '?')
      unknown = &g;
  }
  return unknown;
}

} // namespace

LabelGlyph
label_glyph_for (gunichar c)
{
  LabelGlyph out;
  const Glyph *g = label_glyph (c);
  memcpy (out.rows, g->rows, sizeof out.rows);
  if (c >= 0xC0 && c <= 0xFF && latin1_base[c - 0xC0] != '.')
    out.mark =
        latin1_marks[c == 0xFF ? DIAERESIS : latin1_mark[(c - 0xC0) % 32]];
  return out;
}

/* Converts an ARGB colour into one pixel of each plane of @out_info's format
 * and colorimetry. */
PlanePixel
colour_pixel (const GstVideoInfo *target, guint argb)
{
  PlanePixel px;
  GstVideoInfo in_info, out_info;
  gst_video_info_set_format (&out_info, GST_VIDEO_INFO_FORMAT (target), 2, 2);
  out_info.colorimetry = target->colorimetry;
  out_info.chroma_site = target->chroma_site;
  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_ARGB, 2, 2);
  in_info.colorimetry.matrix = GST_VIDEO_COLOR_MATRIX_RGB;
  in_info.colorimetry.range = GST_VIDEO_COLOR_RANGE_0_255;

  GstBuffer *in_buf = gst_buffer_new_allocate (NULL, in_info.size, NULL);
  GstBuffer *out_buf = gst_buffer_new_allocate (NULL, out_info.size, NULL);
  GstVideoFrame in_frame, out_frame;
  gst_video_frame_map (&in_frame, &in_info, in_buf, GST_MAP_WRITE);
  for (gint y = 0; y < 2; y++) {
    guint8 *row = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&in_frame, 0)
                  + y * GST_VIDEO_FRAME_PLANE_STRIDE (&in_frame, 0);
    for (gint x = 0; x < 2; x++) {
      row[4 * x + 0] = (argb >> 24) & 0xff;
      row[4 * x + 1] = (argb >> 16) & 0xff;
      row[4 * x + 2] = (argb >> 8) & 0xff;
      row[4 * x + 3] = argb & 0xff;
    }
  }
  gst_video_frame_map (&out_frame, &out_info, out_buf, GST_MAP_WRITE);
  GstVideoConverter *conv = gst_video_converter_new (&in_info, &out_info,
      gst_structure_new ("GstVideoConverter",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL));
  if (conv) {
    gst_video_converter_frame (conv, &in_frame, &out_frame);
    gst_video_converter_free (conv);
  }
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&out_frame); p++) {
    PlaneSpan s = plane_span (&out_info, p, 0, 0, 1, 1);
    memcpy (px.bytes[p], GST_VIDEO_FRAME_PLANE_DATA (&out_frame, p),
        MIN (s.pstride, 8));
  }
  gst_video_frame_unmap (&out_frame);
  gst_video_frame_unmap (&in_frame);
  gst_buffer_unref (in_buf);
  gst_buffer_unref (out_buf);
  return px;
}
void
fill_rect (GstVideoFrame *frame, const PlanePixel &px, const Rect &r)
{
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame); p++) {
    PlaneSpan s = plane_span (&frame->info, p, r.x, r.y, r.w, r.h);
    guint8 *base = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (frame, p);
    const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
    if (s.byte_x1 <= s.byte_x0)
      continue;
    /* Build the first row, then copy it to the others. */
    guint8 *first = base + (gsize)s.row0 * stride + s.byte_x0;
    const gint len = s.byte_x1 - s.byte_x0;
    if (s.pstride == 1) {
      memset (first, px.bytes[p][0], len);
    } else {
      for (gint b = 0; b < len; b += s.pstride)
        memcpy (first + b, px.bytes[p], MIN (s.pstride, len - b));
    }
    for (gint row = s.row0 + 1; row < s.row1; row++)
      memcpy (base + (gsize)row * stride + s.byte_x0, first, len);
  }
}

/* dst = src * alpha + dst * (1 - alpha), byte by byte over each plane:
 * right for every 8-bit format of the output template; a plain copy when
 * alpha is 1. */
void
blend_frame (const GstVideoFrame *src, GstVideoFrame *dst, gint dx, gint dy,
    gdouble alpha)
{
  const guint a = (guint)lround (CLAMP (alpha, 0.0, 1.0) * 255.0);
  const gint w = GST_VIDEO_FRAME_WIDTH (src), h = GST_VIDEO_FRAME_HEIGHT (src);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (dst); p++) {
    PlaneSpan ds = plane_span (&dst->info, p, dx, dy, w, h);
    PlaneSpan ss = plane_span (&src->info, p, 0, 0, w, h);
    const gint len = MIN (ds.byte_x1 - ds.byte_x0, ss.byte_x1 - ss.byte_x0);
    const gint rows = MIN (ds.row1 - ds.row0, ss.row1 - ss.row0);
    for (gint r = 0; r < rows; r++) {
      const guint8 *s =
          (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA (src, p)
          + (gsize)(ss.row0 + r) * GST_VIDEO_FRAME_PLANE_STRIDE (src, p)
          + ss.byte_x0;
      guint8 *d = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (dst, p)
                  + (gsize)(ds.row0 + r) * GST_VIDEO_FRAME_PLANE_STRIDE (dst, p)
                  + ds.byte_x0;
      if (a == 255) {
        memcpy (d, s, len);
        continue;
      }
      for (gint b = 0; b < len; b++)
        d[b] = (guint8)((s[b] * a + d[b] * (255 - a) + 127) / 255);
    }
  }
}

/* The pad's cached converter for these rectangles, rebuilt if needed. */
GstVideoConverter *
tile_converter (TileConverter &tc, const GstVideoInfo *in_info,
    const GstVideoInfo *out_info, gint sx, gint sy, gint sw, gint sh, gint dx,
    gint dy, gint dw, gint dh)
{
  if (tc.conv && gst_video_info_is_equal (&tc.in_info, in_info)
      && gst_video_info_is_equal (&tc.out_info, out_info) && tc.sx == sx
      && tc.sy == sy && tc.sw == sw && tc.sh == sh && tc.dx == dx && tc.dy == dy
      && tc.dw == dw && tc.dh == dh)
    return tc.conv;
  if (tc.conv)
    gst_video_converter_free (tc.conv);
  tc.conv = make_converter (in_info, out_info, sx, sy, sw, sh, dx, dy, dw, dh);
  tc.in_info = *in_info;
  tc.out_info = *out_info;
  tc.sx = sx, tc.sy = sy, tc.sw = sw, tc.sh = sh;
  tc.dx = dx, tc.dy = dy, tc.dw = dw, tc.dh = dh;
  return tc.conv;
}

/* Draws @label in the bottom left corner of @tile: light text on a dark box,
 * scaled with the tile and cut to its width. */
void
draw_label (GstVideoFrame *out, const Rect &tile, const std::string &label,
    const PlanePixel &box_px, const PlanePixel &text_px)
{
  if (label.empty () || !g_utf8_validate (label.c_str (), -1, NULL))
    return;
  const gint scale = CLAMP (tile.h / 120, 1, 4);
  const gint cell_w = 6 * scale, cell_h = 8 * scale, pad = 2 * scale;
  const gint margin = MIN (4, tile.h / 16) & ~1;
  const glong n_chars = g_utf8_strlen (label.c_str (), -1);
  const gint fit = (tile.w - 2 * margin - 2 * pad + scale) / cell_w;
  const gint n = (gint)MIN ((glong)MAX (fit, 0), n_chars);
  if (n <= 0 || cell_h + 2 * pad + 2 * margin > tile.h)
    return;

  Rect box;
  box.x = tile.x + margin;
  box.w = n * cell_w - scale + 2 * pad;
  /* One more row on top for the marks of accented letters. */
  box.h = cell_h - scale + 2 * pad + scale;
  box.y = tile.y + tile.h - margin - box.h;
  fill_rect (out, box_px, box);

  const gchar *p = label.c_str ();
  for (gint i = 0; i < n; i++, p = g_utf8_next_char (p)) {
    const LabelGlyph g = label_glyph_for (g_utf8_get_char (p));
    const gint gx = box.x + pad + i * cell_w, gy = box.y + pad + scale;
    for (gint row = -2; row < 7; row++) {
      const guint8 bits = row == -2 ? g.mark : row < 0 ? 0 : g.rows[row];
      for (gint col = 0; col < 5; col++) {
        if (bits & (0x10 >> col))
          fill_rect (out, text_px,
              Rect{gx + col * scale, gy + row * scale, scale, scale});
      }
    }
  }
}

void
draw_border (
    GstVideoFrame *out, const Rect &tile, gint width, const PlanePixel &px)
{
  const gint w = MIN (width, MIN (tile.w, tile.h) / 2);
  if (w <= 0)
    return;
  fill_rect (out, px, Rect{tile.x, tile.y, tile.w, w});
  fill_rect (out, px, Rect{tile.x, tile.y + tile.h - w, tile.w, w});
  fill_rect (out, px, Rect{tile.x, tile.y + w, w, tile.h - 2 * w});
  fill_rect (out, px, Rect{tile.x + tile.w - w, tile.y + w, w, tile.h - 2 * w});
}

} // namespace mcu
