/* gst-rooms fuzz target: the signalling handlers of gst-room
 * (tools/gst-room/signalling.cpp) against a real live-show room — real
 * hubs, a real webrtcbin per join — built once.  An input is a conversation:
 * one message per line, sent by one connection, which then goes away as a
 * closed tab would.  Whatever it says, every reply must be a JSON object with
 * a type, and the room must be left as it was: no peer, no crash. */
#include <gst/gst.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "room.h"
#include "roomfile.h"
#include "security.h"
#include "show.h"
#include "signalling.h"

namespace {

const char *ROOM_FILE = R"([room]
title=fuzz
max-messages-per-second=100000
join-timeout=1

[show]
program=program
stage=stage
camera=camera
camera-port=1
inject-schemes=file
inject-folders=/nonexistent-fuzz-folder

[pipeline show]
launch=mcucompositor name=stage width=64 height=48 framerate=10/1
    ! queue max-size-buffers=2 leaky=downstream ! program.sink_0
  mcucompositor name=camera width=64 height=48 framerate=10/1 max-tiles=1
    ! queue max-size-buffers=2 leaky=downstream ! program.sink_1
  dispatcher name=program source=0 ! fakesink sync=false async=false

[role presenter]
hub=stage
also-send-to=camera
token=fuzz-presenter-token
max-peers=2

[role viewer]
hub=program
send=none
max-peers=3
emote=true

[role operator]
hub=program
send=none
receive=none
token=fuzz-operator-token
control=true
)";

Room *room = nullptr;
Show *show = nullptr; /* the [show], when the room has one */
AuthThrottle *throttle = nullptr;

void
pump_main_loop ()
{
  for (int i = 0; i < 50 && g_main_context_iteration (nullptr, FALSE); i++)
    ;
}

} // namespace

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (argc, argv);
  RoomSpec spec;
  std::string error;
  if (!room_file_parse ("/fuzz/signalling.ini", ROOM_FILE, spec, error)
      || !security_check_tokens (spec, error)) {
    g_printerr ("fuzz-signalling: %s\n", error.c_str ());
    abort ();
  }
  room = new Room (spec, "");
  room->set_file_limit (security_raise_file_limit ());
  bool built = room->build (error);
  if (built && !spec.show.program.empty ()) {
    show = new Show (*room);
    built = show->build (error);
  }
  if (!built || !room->start (error)) {
    g_printerr ("fuzz-signalling: %s\n", error.c_str ());
    abort ();
  }
  throttle = new AuthThrottle ();
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int closes = 0;
  SignallingClient::Transport transport;
  transport.send = [] (const std::string &text) {
    auto reply = nlohmann::json::parse (text, nullptr, false);
    if (reply.is_discarded () || !reply.is_object () || !reply.contains ("type")
        || !reply["type"].is_string ())
      abort (); /* the page could not read it */
  };
  transport.close = [&closes] (gushort, const std::string &) { closes++; };
  transport.remote_host = "192.0.2.1";
  {
    auto client = std::make_unique<SignallingClient> (
        *room, show, *throttle, std::move (transport));
    std::string text ((const char *)data, size);
    size_t start = 0;
    while (start <= text.size () && closes == 0) {
      size_t end = text.find ('\n', start);
      if (end == std::string::npos)
        end = text.size ();
      client->handle_text (text.data () + start, end - start);
      pump_main_loop ();
      start = end + 1;
    }
  }
  pump_main_loop ();
  /* The connection is gone, and so is everything it made. */
  if (!room->peers ().empty ())
    abort ();
  throttle->succeeded ("192.0.2.1"); /* each input starts unthrottled */
  return 0;
}
