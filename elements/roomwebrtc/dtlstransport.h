/* roomwebrtc: the DTLS side of DTLS-SRTP (RFC 5764) on OpenSSL 3, over
 * memory BIOs so that the owner (a webrtcfanoutsink worker) moves the
 * datagrams itself through ICE.
 *
 * One DtlsCertificate per process (an ECDSA P-256 key and a self-signed
 * certificate, or a given PEM), one DtlsServer per viewer: we are always the
 * DTLS server (a=setup:passive).  The peer's certificate must match the
 * fingerprint its SDP announced. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "srtptransform.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace roomwebrtc {

class DtlsCertificate {
public:
  /* A fresh ECDSA P-256 key and a self-signed certificate valid for a year.
   * Null with @error set if OpenSSL refuses. */
  static std::shared_ptr<DtlsCertificate> generate (std::string &error);
  /* Key and certificate from one PEM text (both blocks). */
  static std::shared_ptr<DtlsCertificate> from_pem (
      const std::string &pem, std::string &error);
  ~DtlsCertificate ();

  /* "AB:CD:…" (SHA-256, upper case), for a=fingerprint:sha-256. */
  const std::string &fingerprint () const;
  /* A DTLS server context with this certificate, DTLS-SRTP profiles
   * SRTP_AEAD_AES_128_GCM then SRTP_AES128_CM_SHA1_80, and a client
   * certificate required (checked against the SDP, not against CAs). */
  SSL_CTX *context () const;

  struct Private;

private:
  DtlsCertificate ();
  std::unique_ptr<Private> priv_;
};

class DtlsServer {
public:
  enum class State { HANDSHAKING, CONNECTED, FAILED, CLOSED };
  /* Sends one datagram to the peer (through ICE); called from within
   * handle_datagram(), handle_timeout() and close(). */
  using SendFunc = std::function<void (const uint8_t *data, size_t length)>;

  struct SrtpKeys {
    SrtpProfile profile;
    /* ours protect what we send; theirs unprotect what the peer sends */
    std::vector<uint8_t> our_key, our_salt, their_key, their_salt;
  };

  /* @peer_fingerprint: the offer's a=fingerprint:sha-256 value ("AB:CD:…",
   * any case). */
  DtlsServer (std::shared_ptr<DtlsCertificate> certificate,
      std::string peer_fingerprint, SendFunc send);
  ~DtlsServer ();
  DtlsServer (const DtlsServer &) = delete;
  DtlsServer &operator= (const DtlsServer &) = delete;

  /* Feeds one received DTLS record datagram (first byte 20–63). */
  State handle_datagram (const uint8_t *data, size_t length);
  /* Milliseconds until handle_timeout() must be called (retransmission
   * while handshaking), or -1 when no timer is needed. */
  int64_t timeout_ms () const;
  State handle_timeout ();
  /* Sends close_notify once; state CLOSED. */
  void close ();

  State state () const;
  /* Why the state is FAILED (or CLOSED by the peer). */
  const std::string &error () const;
  /* The negotiated profile and the keys; false before CONNECTED. */
  bool srtp_keys (SrtpKeys &keys) const;

private:
  struct Private;
  std::unique_ptr<Private> priv_;
};

} // namespace roomwebrtc
