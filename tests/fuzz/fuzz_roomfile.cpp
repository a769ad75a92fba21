/* gst-rooms fuzz target: the room-file reader (tools/gst-room/roomfile.cpp).
 * Any text must either be accepted as a room a later stage can build, or be
 * refused with a message naming the file: never crash, hang, leak or log a
 * GLib warning. */
#include "roomfile.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* A GLib critical or warning is a bug in the reader too. */
  g_log_set_always_fatal (
      (GLogLevelFlags)(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const std::string path = "/fuzz/room.ini";
  RoomSpec spec;
  std::string error;
  bool ok = room_file_parse (
      path, std::string ((const char *)data, size), spec, error);
  if (!ok) {
    if (error.compare (0, path.size (), path) != 0)
      abort (); /* every refusal names the file */
    return 0;
  }
  /* What the rest of gst-room relies on in an accepted room. */
  if (spec.pipelines.empty () || spec.roles.empty ())
    abort ();
  for (const RoomPipelineSpec &p : spec.pipelines)
    if (p.launch.empty ())
      abort ();
  for (const RoomRoleSpec &r : spec.roles)
    if (r.max_peers < 1 || (r.cross_route && r.max_peers != 2))
      abort ();
  return 0;
}
