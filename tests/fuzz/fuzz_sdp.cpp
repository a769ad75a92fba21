/* gst-rooms fuzz target: SDP answers and ICE candidates as gst-room takes
 * them (tools/gst-room/peer.cpp: set_answer, answered_video_codec,
 * add_remote_candidate) — the input is what a browser would answer to a
 * real webrtcbin's offer.  A viewer joins, gets its offer, answers with the
 * input and trickles it as a candidate, then leaves.  Whatever the input,
 * the reply is an error or nothing, and the room is left with no peer. */
#include <gst/gst.h>

#include <cstdint>
#include <cstdio>
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
join-timeout=30

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
  if (!room_file_parse ("/fuzz/sdp.ini", ROOM_FILE, spec, error)
      || !security_check_tokens (spec, error)) {
    g_printerr ("fuzz-sdp: %s\n", error.c_str ());
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
    g_printerr ("fuzz-sdp: %s\n", error.c_str ());
    abort ();
  }
  throttle = new AuthThrottle ();
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  bool offered = false;
  SignallingClient::Transport transport;
  transport.send = [&offered] (const std::string &text) {
    auto reply = nlohmann::json::parse (text, nullptr, false);
    if (reply.is_discarded () || !reply.is_object ())
      abort ();
    offered = offered || reply.value ("type", "") == "offer";
  };
  transport.close = [] (gushort, const std::string &) {};
  transport.remote_host = "192.0.2.2";
  {
    SignallingClient client (*room, show, *throttle, std::move (transport));
    const char join[] = R"({"type":"join","role":"viewer"})";
    client.handle_text (join, sizeof join - 1);
    /* The offer comes from webrtcbin's thread through the main loop; on a
     * loaded machine (two cores, sanitizers) that can take seconds. */
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    while (!offered && g_get_monotonic_time () < deadline) {
      pump_main_loop ();
      if (!offered)
        g_usleep (1000);
    }
    if (!offered) {
      /* A join must be offered. */
      fprintf (stderr, "fuzz-sdp: no offer within 10 s of a viewer's join\n");
      abort ();
    }
    std::string input ((const char *)data, size);
    /* Both as JSON strings, whatever bytes they hold (as a browser could
     * send them once escaped); invalid UTF-8 is replaced. */
    std::string answer =
        nlohmann::json ({{"type", "answer"}, {"sdp", input}})
            .dump (-1, ' ', false, nlohmann::json::error_handler_t::replace);
    client.handle_text (answer.data (), answer.size ());
    std::string candidate =
        nlohmann::json (
            {{"type", "candidate"}, {"sdpMLineIndex", 0}, {"candidate", input}})
            .dump (-1, ' ', false, nlohmann::json::error_handler_t::replace);
    client.handle_text (candidate.data (), candidate.size ());
    pump_main_loop ();
  }
  pump_main_loop ();
  if (!room->peers ().empty ())
    abort ();
  return 0;
}
