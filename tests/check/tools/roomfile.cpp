/* gst-room's room file (tools/gst-room/roomfile.cpp) on its own: what a
 * role's ladder= key gives, and the message each mistake in it gets. */
/* before gstcheck.h, whose fail() macro would hit basic_ios::fail() */
#include <regex>

#include "roomfile.h"

#include "roomcheck.h"

namespace {

const char *const PIPELINE = "[room]\n"
                             "[pipeline p]\n"
                             "launch=dispatcher name=program_rtp ! fakesink\n";

/* A room with one [role viewer] made of @keys (one per line). */
std::string
viewer_room (const std::string &keys)
{
  return std::string (PIPELINE) + "[role viewer]\n" + keys;
}

bool
parse (const std::string &text, RoomSpec &spec, std::string &error)
{
  return room_file_parse ("/rooms/ladder.ini", text, spec, error);
}

/* @text is refused with a message matching @expected (a regex). */
void
expect_refused (const std::string &text, const char *expected)
{
  RoomSpec spec;
  std::string error;
  fail_if (parse (text, spec, error), "accepted:\n%s", text.c_str ());
  fail_unless (std::regex_search (error, std::regex (expected)),
      "for:\n%s\nthe message\n  %s\ndoes not match\n  %s", text.c_str (),
      error.c_str (), expected);
}

} // namespace

GST_START_TEST (test_ladder_parsed)
{
  RoomSpec spec;
  std::string error;
  fail_unless (parse (viewer_room ("rtp-hub=program_rtp\nsend=none\n"
                                   "ladder=720p:program_rtp; 360p : program_360"
                                   ";audio-only\n"),
                   spec, error),
      "%s", error.c_str ());
  const RoomRoleSpec *role = spec.find_role ("viewer");
  fail_unless (role && role->fanout);
  fail_unless_equals_int (role->ladder.size (), 2);
  fail_unless_equals_string (role->ladder[0].label.c_str (), "720p");
  fail_unless_equals_string (role->ladder[0].hub.c_str (), "program_rtp");
  fail_unless_equals_string (role->ladder[1].label.c_str (), "360p");
  fail_unless_equals_string (role->ladder[1].hub.c_str (), "program_360");
  fail_unless (role->ladder_audio_only);
  std::vector<std::string> expected = {"720p", "360p", "audio-only"};
  fail_unless (role->renditions () == expected);
}
GST_END_TEST;

GST_START_TEST (test_ladder_gives_the_rtp_hub)
{
  /* without rtp-hub, the first rung is the role's program */
  RoomSpec spec;
  std::string error;
  fail_unless (
      parse (viewer_room ("send=none\n"
                          "ladder=hd:program_rtp;sd.low-1:program_360\n"),
          spec, error),
      "%s", error.c_str ());
  const RoomRoleSpec *role = spec.find_role ("viewer");
  fail_unless_equals_string (role->rtp_hub.c_str (), "program_rtp");
  fail_unless (role->fanout && role->rtp_video && role->rtp_audio);
  fail_if (role->ladder_audio_only);
  fail_unless_equals_int (role->renditions ().size (), 2);
  /* a trailing ';' is allowed */
  fail_unless (
      parse (viewer_room ("send=none\nladder=a:program_rtp;audio-only;\n"),
          spec, error),
      "%s", error.c_str ());
  fail_unless (spec.find_role ("viewer")->ladder_audio_only);
}
GST_END_TEST;

GST_START_TEST (test_no_ladder)
{
  RoomSpec spec;
  std::string error;
  fail_unless (
      parse (viewer_room ("rtp-hub=program_rtp\nsend=none\n"), spec, error),
      "%s", error.c_str ());
  fail_unless (spec.find_role ("viewer")->ladder.empty ());
  fail_unless (spec.find_role ("viewer")->renditions ().empty ());
}
GST_END_TEST;

GST_START_TEST (test_ladder_mistakes)
{
  const std::string where =
      "^/rooms/ladder\\.ini:7: \\[role viewer\\] ladder: ";
  struct {
    const char *keys;
    std::string expected;
  } cases[] = {
      {"ladder=720p:program_rtp\n", where + "a ladder has at least two rungs"},
      {"ladder=audio-only\n", where + "the first rung is video"},
      {"ladder=720p:program_rtp;audio-only;360p:program_360\n",
          where + "audio-only must be the last rung"},
      {"ladder=720p:program_rtp;;360p:program_360\n", where + "an empty rung"},
      {"ladder=720p;360p:program_360\n",
          where + "'720p' is not LABEL:HUB \\(or audio-only, last\\)"},
      {"ladder=720p:a:b;360p:program_360\n",
          where + "'720p:a:b' is not LABEL:HUB"},
      {"ladder=:program_rtp;360p:program_360\n",
          where + "rung label '' must be 1 to 16 letters"},
      {"ladder=a-very-long-label-1:program_rtp;360p:program_360\n",
          where + "rung label 'a-very-long-label-1' must be 1 to 16"},
      {"ladder=72 0p:program_rtp;360p:program_360\n",
          where + "rung label '72 0p' must be"},
      {"ladder=720p:program_rtp;auto:program_360\n",
          where + "'auto' cannot label a video rung"},
      {"ladder=audio-only:program_rtp;360p:program_360\n",
          where + "'audio-only' cannot label a video rung"},
      {"ladder=720p:program_rtp;360p:\n", where + "rung '360p' names no hub"},
      {"ladder=720p:program_rtp;720p:program_360\n",
          where + "two rungs are labelled '720p'"},
      {"ladder=720p:program_rtp;360p:program_rtp\n",
          where + "rungs '720p' and '360p' both take hub 'program_rtp'"},
  };
  for (const auto &c : cases)
    expect_refused (
        viewer_room (std::string ("rtp-hub=program_rtp\nsend=none\n") + c.keys),
        c.expected.c_str ());

  /* the first rung is the rtp-hub */
  expect_refused (viewer_room ("rtp-hub=program_rtp\nsend=none\n"
                               "ladder=360p:program_360;720p:program_rtp\n"),
      "ladder\\.ini:7: \\[role viewer\\] ladder: the first \\(heaviest\\) "
      "rung's hub 'program_360' must be the role's rtp-hub 'program_rtp'");
  /* only for the fan-out's roles */
  expect_refused (viewer_room ("hub=program_rtp\nrtp-hub=program_rtp\n"
                               "send=audio,video\n"
                               "ladder=720p:program_rtp;audio-only\n"),
      "ladder\\.ini:8: \\[role viewer\\] ladder: only for a role served by "
      "the fan-out");
  expect_refused (viewer_room ("rtp-hub=program_rtp\nsend=none\nfanout=false\n"
                               "ladder=720p:program_rtp;audio-only\n"),
      "\\[role viewer\\] ladder: only for a role served by the fan-out");
  expect_refused (viewer_room ("rtp-hub=program_rtp\nsend=none\nreceive=audio\n"
                               "ladder=720p:program_rtp;audio-only\n"),
      "\\[role viewer\\] ladder: needs a role that receives video");
  expect_refused (viewer_room ("rtp-hub=program_rtp\nsend=none\nreceive=video\n"
                               "ladder=720p:program_rtp;audio-only\n"),
      "\\[role viewer\\] ladder: an audio-only rung needs a role that "
      "receives audio");
}
GST_END_TEST;

static Suite *
roomfile_suite (void)
{
  Suite *s = suite_create ("roomfile");
  TCase *tc = tcase_create ("ladder");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ladder_parsed);
  tcase_add_test (tc, test_ladder_gives_the_rtp_hub);
  tcase_add_test (tc, test_no_ladder);
  tcase_add_test (tc, test_ladder_mistakes);
  return s;
}

ROOM_CHECK_MAIN (roomfile);
