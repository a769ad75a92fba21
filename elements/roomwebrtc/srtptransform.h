/* roomwebrtc: SRTP and SRTCP transforms (RFC 3711, RFC 7714) on OpenSSL EVP.
 *
 * Debian 12's libsrtp2 is built on NSS and creates a cipher context per
 * packet; webrtcfanoutsink protects every packet for every viewer, so it
 * keeps one set of EVP contexts per direction and reuses them.  Packets are
 * transformed in place: the caller's buffer has room for the tag (and the
 * SRTCP index).  One SrtpTransform serves one direction of one DTLS
 * association: a viewer has one for what we send and one for its RTCP. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

namespace roomwebrtc {

enum class SrtpProfile {
  AES_CM_128_HMAC_SHA1_80, /* RFC 3711 / RFC 5764 SRTP_AES128_CM_SHA1_80 */
  AEAD_AES_128_GCM,        /* RFC 7714 / RFC 7714 SRTP_AEAD_AES_128_GCM */
};

/* Master key and salt lengths of @profile, as DTLS-SRTP exports them. */
size_t srtp_master_key_length (SrtpProfile profile);
size_t srtp_master_salt_length (SrtpProfile profile);
/* Bytes an RTP packet grows by when protected (the tag). */
size_t srtp_rtp_overhead (SrtpProfile profile);
/* Bytes an RTCP packet grows by when protected (E flag + index, and tag). */
size_t srtp_rtcp_overhead (SrtpProfile profile);

namespace detail {

/* The session keys of one association (RFC 3711 §4.3).  The AEAD profile
 * uses 12 bytes of each salt and no authentication key. */
struct SessionKeys {
  uint8_t rtp_key[16];
  uint8_t rtp_salt[14];
  uint8_t rtp_auth[20];
  uint8_t rtcp_key[16];
  uint8_t rtcp_salt[14];
  uint8_t rtcp_auth[20];
};

/* AES-128 in counter mode from the 16-byte @counter block: @length bytes of
 * keystream (RFC 3711 §4.1.1).  Exposed for the Appendix B.2 vectors. */
bool aes_cm_keystream (
    const uint8_t *key, const uint8_t *counter, uint8_t *out, size_t length);
/* The AES-CM PRF with key derivation rate 0 (RFC 3711 §4.3.1-3): @length
 * bytes for @label from a 14-byte (or, RFC 7714 §11, 12-byte) master salt. */
bool aes_cm_prf (const uint8_t *master_key, const uint8_t *master_salt,
    size_t salt_length, uint8_t label, uint8_t *out, size_t length);
/* Labels 0..5 for @profile; false if a length is wrong. */
bool derive_session_keys (SrtpProfile profile, const uint8_t *master_key,
    size_t key_length, const uint8_t *master_salt, size_t salt_length,
    SessionKeys *keys);

} // namespace detail

class SrtpTransform {
public:
  SrtpTransform ();
  ~SrtpTransform ();
  SrtpTransform (const SrtpTransform &) = delete;
  SrtpTransform &operator= (const SrtpTransform &) = delete;

  /* Derives the session keys (RFC 3711 §4.3, KDR 0).  False if a length is
   * wrong or OpenSSL refuses. */
  bool init (SrtpProfile profile, const uint8_t *master_key, size_t key_length,
      const uint8_t *master_salt, size_t salt_length);
  /* The same with session keys already derived: RFC 7714's test vectors
   * give session keys, not master keys. */
  bool init_session_keys (SrtpProfile profile, const detail::SessionKeys &keys);
  SrtpProfile profile () const;

  /* Protects the RTP packet of @length bytes at @packet in place; on success
   * *@length grows by srtp_rtp_overhead().  The rollover counter of each
   * SSRC follows its sequence numbers (RFC 3711 §3.3.1).  False if the packet
   * is not RTP, or @capacity has no room for the tag. */
  bool protect_rtp (uint8_t *packet, size_t *length, size_t capacity);
  /* Authenticates and decrypts in place; *@length shrinks.  False on a bad
   * tag, a replayed index or a malformed packet (nothing else changes). */
  bool unprotect_rtp (uint8_t *packet, size_t *length);
  /* The same for a compound RTCP packet; the SRTCP index counts up per
   * transform (one sender SSRC is enough for a viewer). */
  bool protect_rtcp (uint8_t *packet, size_t *length, size_t capacity);
  bool unprotect_rtcp (uint8_t *packet, size_t *length);

private:
  struct Private;
  std::unique_ptr<Private> priv_;
};

} // namespace roomwebrtc
