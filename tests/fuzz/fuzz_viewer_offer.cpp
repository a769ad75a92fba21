/* gst-rooms fuzz target: a fan-out viewer's SDP offer
 * (elements/roomwebrtc/fanoutsdp.cpp), as a browser or any WHEP player may
 * send it.  Whatever the text, it is refused with a reason or accepted, and
 * an accepted offer gets an answer that GstSDP reads back with one m-line
 * per offered one: never a crash, a hang, a leak or a GLib warning. */
#include "fanoutsdp.h"

#include <gst/sdp/sdp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace roomwebrtc;

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (
      (GLogLevelFlags)(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* the live show's program: VP8 and Opus (the H.264 twin in another run) */
  static const std::vector<ProgramStream> programs[2] = {
      {{"video", "VP8", 90000, 0, 0x11111111, ""},
          {"audio", "OPUS", 48000, 2, 0x22222222, ""}},
      {{"video", "H264", 90000, 0, 0x33333333, "42e01f"},
          {"audio", "OPUS", 48000, 2, 0x22222222, ""}}};
  const std::vector<ProgramStream> &streams = programs[size % 2];
  std::string text ((const char *)data, size);
  ViewerOffer offer;
  std::string error;
  if (!fanout_parse_offer (text, streams, offer, error)) {
    if (error.empty ())
      abort (); /* every refusal says why */
    return 0;
  }
  AnswerParams params;
  params.ice_ufrag = "abcd";
  params.ice_pwd = "abcdefghijklmnopqrstuvwx";
  params.fingerprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  params.cname = "fuzz";
  params.stream_id = "program";
  params.candidates = {"candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host"};
  std::string answer = fanout_build_answer (offer, streams, params);
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text (answer.c_str (), &sdp) != GST_SDP_OK)
    abort ();
  if (gst_sdp_message_medias_len (sdp) != offer.media.size ())
    abort ();
  gst_sdp_message_free (sdp);
  return 0;
}
