/* gst-rooms fuzz target: DTLS datagrams from a fan-out viewer
 * (elements/roomwebrtc/dtlstransport.cpp).  The input, cut into datagrams at
 * each 2-byte length, is fed to a fresh DtlsServer: it may fail or close,
 * never crash, hang or leak, and whatever it sends fits the 1200-byte
 * datagrams of ICE. */
#include "dtlstransport.h"

#include <glib.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

using namespace roomwebrtc;

static std::shared_ptr<DtlsCertificate> certificate;

extern "C" int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_always_fatal (
      (GLogLevelFlags)(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING));
  std::string error;
  certificate = DtlsCertificate::generate (error);
  if (!certificate)
    abort ();
  return 0;
}

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  DtlsServer server (certificate,
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
      [] (const uint8_t *, size_t length) {
        if (length > 1200)
          abort ();
      });
  size_t offset = 0;
  while (offset + 2 <= size) {
    size_t length = ((size_t)data[offset] << 8 | data[offset + 1]) % 1500;
    offset += 2;
    if (length > size - offset)
      length = size - offset;
    server.handle_datagram (data + offset, length);
    offset += length;
    if (server.state () == DtlsServer::State::FAILED)
      break;
  }
  if (server.timeout_ms () >= 0)
    server.handle_timeout ();
  server.close ();
  return 0;
}
