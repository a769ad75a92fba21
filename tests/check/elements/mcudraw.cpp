/* gst-rooms: tests of mcucompositor's label font (mcudraw.h), on its own:
 * accented Latin-1 letters are drawn as their letter with a mark, not '?'. */
#include "roomcheck.h"

#include "mcudraw.h"

#include <cstring>
#include <vector>

using namespace mcu;

namespace {

bool
same_rows (const LabelGlyph &a, const LabelGlyph &b)
{
  return memcmp (a.rows, b.rows, sizeof a.rows) == 0;
}

/* @label drawn on a grey 160x120 I420 frame: the luma plane. */
std::vector<guint8>
draw (const char *label)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 160, 120);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  fill_rect (&frame, colour_pixel (&info, 0xff808080u), Rect{0, 0, 160, 120});
  draw_label (&frame, Rect{0, 0, 160, 120}, label,
      colour_pixel (&info, 0xff202020u), colour_pixel (&info, 0xfff0f0f0u));
  std::vector<guint8> luma;
  for (gint y = 0; y < 120; y++) {
    const guint8 *row = (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
                        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    luma.insert (luma.end (), row, row + 160);
  }
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  return luma;
}

/* Rows (y) where @a and @b differ. */
std::vector<gint>
differing_rows (const std::vector<guint8> &a, const std::vector<guint8> &b)
{
  std::vector<gint> rows;
  for (gint y = 0; y < 120; y++)
    if (memcmp (&a[y * 160], &b[y * 160], 160) != 0)
      rows.push_back (y);
  return rows;
}

} // namespace

GST_START_TEST (test_latin1_letters)
{
  const LabelGlyph unknown = label_glyph_for ('?');
  struct {
    gunichar c;
    char base;
    bool mark;
  } cases[] = {
      {0xC9 /* É */, 'E', true},
      {0xE9 /* é */, 'E', true},
      {0xC0 /* À */, 'A', true},
      {0xE4 /* ä */, 'A', true},
      {0xC5 /* Å */, 'A', true},
      {0xF1 /* ñ */, 'N', true},
      {0xD6 /* Ö */, 'O', true},
      {0xF8 /* ø */, 'O', false},
      {0xFC /* ü */, 'U', true},
      {0xFF /* ÿ */, 'Y', true},
      {0xE7 /* ç */, 'C', false},
      {0xDF /* ß */, 'S', false},
      {0xCE /* Î */, 'I', true},
  };
  for (const auto &t : cases) {
    const LabelGlyph g = label_glyph_for (t.c);
    const LabelGlyph base = label_glyph_for ((gunichar)t.base);
    fail_unless (same_rows (g, base), "U+%04X is not drawn as %c", t.c, t.base);
    fail_if (same_rows (g, unknown), "U+%04X is drawn as '?'", t.c);
    fail_unless_equals_int (g.mark != 0, t.mark);
    fail_unless_equals_int (base.mark, 0);
  }
  /* Different accents look different. */
  fail_if (label_glyph_for (0xC9).mark == label_glyph_for (0xC8).mark);
  fail_if (label_glyph_for (0xC4).mark == label_glyph_for (0xC2).mark);
  /* Upper and lower case alike, as for ASCII. */
  fail_unless_equals_int (
      label_glyph_for (0xE9).mark, label_glyph_for (0xC9).mark);
  /* Not letters, or not Latin-1: '?'. */
  for (gunichar c :
      {0xD7u /* × */, 0xF7u /* ÷ */, 0x416u /* Ж */, 0x20ACu /* € */}) {
    const LabelGlyph g = label_glyph_for (c);
    fail_unless (same_rows (g, unknown) && g.mark == 0, "U+%04X", c);
  }
}
GST_END_TEST;

GST_START_TEST (test_accented_label_pixels)
{
  /* "ZOË" differs from "ZOE" only in the rows of the mark, above the
   * letters; "ZO?" differs in the letters' rows. */
  const auto plain = draw ("ZOE");
  const auto accented = draw ("Zo\xc3\xab");
  const auto unknown = draw ("ZO?");
  const std::vector<gint> mark_rows = differing_rows (plain, accented);
  fail_if (mark_rows.empty (), "the diaeresis is not drawn");
  const std::vector<gint> letter_rows = differing_rows (plain, unknown);
  fail_if (letter_rows.empty ());
  for (gint y : mark_rows)
    fail_unless (y < letter_rows.front (),
        "row %d of the mark is not above the "
        "letters (from row %d)",
        y, letter_rows.front ());
  fail_unless (differing_rows (draw ("Zoe"), plain).empty (), "lower case");
}
GST_END_TEST;

static Suite *
mcudraw_suite (void)
{
  Suite *s = suite_create ("mcudraw");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_latin1_letters);
  tcase_add_test (tc, test_accented_label_pixels);
  return s;
}

ROOM_CHECK_MAIN (mcudraw);
