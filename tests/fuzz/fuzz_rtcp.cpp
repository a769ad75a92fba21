/* gst-rooms fuzz target: what a fan-out viewer sends us after ICE, as the
 * worker takes it (elements/roomwebrtc/fanoutworker.cpp): SRTCP
 * unprotected by srtptransform.cpp, then read by rtcp_read_feedback().
 * The first byte picks the path: the plain RTCP reader on the rest, or the
 * rest as an SRTCP packet for either profile (its tag will mostly be wrong:
 * the checks before the tag are what is fuzzed), or the rest protected
 * first with our own keys and then read back (the reader on every input). */
#include "fanoutrtp.h"
#include "srtptransform.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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
  if (size < 1 || size > 1500)
    return 0;
  guint8 mode = data[0] % 4;
  data++;
  size--;
  std::array<uint8_t, 1600> packet;
  memcpy (packet.data (), data, size);
  RtcpFeedback feedback;
  if (mode == 0) {
    rtcp_read_feedback (packet.data (), size, feedback);
  } else {
    static const uint8_t key[16] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t salt[14] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    SrtpProfile profile = mode == 2 ? SrtpProfile::AEAD_AES_128_GCM
                                    : SrtpProfile::AES_CM_128_HMAC_SHA1_80;
    SrtpTransform sender, receiver;
    if (!sender.init (profile, key, 16, salt, srtp_master_salt_length (profile))
        || !receiver.init (
            profile, key, 16, salt, srtp_master_salt_length (profile)))
      abort ();
    size_t length = size;
    if (mode == 3
        && sender.protect_rtcp (packet.data (), &length, packet.size ())) {
      /* what we protect, we read back as it was */
      if (!receiver.unprotect_rtcp (packet.data (), &length) || length != size
          || memcmp (packet.data (), data, size) != 0)
        abort ();
    } else if (mode != 3 && !receiver.unprotect_rtcp (packet.data (), &length)
               && memcmp (packet.data (), data, size) != 0) {
      abort (); /* a refused packet is left as it was */
    }
    rtcp_read_feedback (packet.data (), length, feedback);
  }
  if (feedback.nack_count > feedback.nacks.size ())
    abort ();
  return 0;
}
