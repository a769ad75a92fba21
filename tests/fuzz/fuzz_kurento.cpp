/* gst-rooms fuzz target: the Kurento control API's JSON-RPC handler
 * (tools/gst-room/kurento/) with its real sessions and media objects.  An
 * input is a conversation: one frame per line, sent on one connection, which
 * then goes away as a closed socket would.  Whatever it says, every message
 * the server sends must be a JSON-RPC 2.0 object a client can read (an
 * answer with an id and a result or an error with a code and a message, or
 * an onEvent notification), and once the session is released nothing of it
 * is left. */
#include <gst/gst.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "kurento/pipeline.h"
#include "kurento/transport.h"
#include "roomfile.h"

namespace {

const char *ROOM_FILE = R"([room]
title=fuzz

[kurento]
session-timeout=1
max-requests-per-second=100000
player-schemes=file
player-folders=/nonexistent-fuzz-folder
)";

RoomSpec *spec = nullptr;
kurento::Service *service = nullptr;

void
pump_main_loop ()
{
  for (int i = 0; i < 50 && g_main_context_iteration (nullptr, FALSE); i++)
    ;
}

/* Aborts unless @text is a message kurento-client can read. */
void
check_message (const std::string &text)
{
  auto m = nlohmann::json::parse (text, nullptr, false);
  if (m.is_discarded () || !m.is_object () || m.value ("jsonrpc", "") != "2.0")
    abort ();
  if (m.contains ("method")) { /* a notification: onEvent */
    if (m["method"] != "onEvent" || !m.contains ("params"))
      abort ();
    return;
  }
  if (!m.contains ("id") || m.contains ("result") == m.contains ("error"))
    abort ();
  if (m.contains ("error")) {
    const auto &e = m["error"];
    if (!e.is_object () || !e.contains ("code")
        || !e["code"].is_number_integer () || !e.contains ("message")
        || !e["message"].is_string ())
      abort ();
  } else if (!m["result"].is_object ()) {
    abort ();
  }
}

} // namespace

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (argc, argv);
  spec = new RoomSpec ();
  std::string error;
  if (!room_file_parse ("/fuzz/kurento.ini", ROOM_FILE, *spec, error)) {
    g_printerr ("fuzz-kurento: %s\n", error.c_str ());
    abort ();
  }
  service = new kurento::Service (*spec);
  /* Each input's pipelines are gone before the next one starts, and no
   * thread is left starting or ending while libFuzzer counts leaks. */
  kurento::MediaPipeline::release_in_background = false;
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  void *connection = service->open_local (check_message);
  std::string text ((const char *)data, size);
  size_t start = 0;
  while (start <= text.size ()) {
    size_t end = text.find ('\n', start);
    if (end == std::string::npos)
      end = text.size ();
    service->receive_local (connection, text.substr (start, end - start));
    pump_main_loop ();
    start = end + 1;
  }
  service->close_local (connection);
  /* What the session made goes with it: its pipelines are set to NULL and
   * released here, not left running into the next input. */
  service->close_all ();
  pump_main_loop ();
  return 0;
}
