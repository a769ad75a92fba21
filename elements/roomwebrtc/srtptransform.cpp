/* roomwebrtc: SRTP and SRTCP transforms (RFC 3711, RFC 7714) on OpenSSL EVP.
 *
 * Every OpenSSL context is keyed once in init(); a packet only sets the IV
 * (and restarts the HMAC from its keyed state), so the hot path allocates
 * nothing of ours.  A failed unprotect leaves the packet and every window
 * as they were: tags are checked before the state moves, and an AEAD packet
 * that fails its tag is encrypted back (counter mode is its own inverse). */
#include "srtptransform.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

namespace roomwebrtc {

namespace {

constexpr size_t KEY_LENGTH = 16;
constexpr size_t CM_SALT_LENGTH = 14;
constexpr size_t GCM_SALT_LENGTH = 12;
constexpr size_t AUTH_KEY_LENGTH = 20;
constexpr size_t HMAC_TAG_LENGTH = 10;
constexpr size_t GCM_TAG_LENGTH = 16;
constexpr size_t RTP_HEADER_LENGTH = 12;
constexpr size_t RTCP_HEADER_LENGTH = 8;
constexpr size_t SRTCP_INDEX_LENGTH = 4;
constexpr uint32_t SRTCP_E_FLAG = 0x80000000u;
constexpr uint32_t SRTCP_INDEX_MASK = 0x7fffffffu;
/* UDP carries no more; it also keeps every length an int for OpenSSL. */
constexpr size_t MAX_PACKET_LENGTH = 65535;

enum Label : uint8_t {
  LABEL_RTP_ENCRYPTION = 0,
  LABEL_RTP_AUTH = 1,
  LABEL_RTP_SALT = 2,
  LABEL_RTCP_ENCRYPTION = 3,
  LABEL_RTCP_AUTH = 4,
  LABEL_RTCP_SALT = 5,
};

inline uint16_t
read16 (const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}

inline uint32_t
read32 (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

inline void
write32 (uint8_t *p, uint32_t value)
{
  p[0] = (uint8_t)(value >> 24);
  p[1] = (uint8_t)(value >> 16);
  p[2] = (uint8_t)(value >> 8);
  p[3] = (uint8_t)value;
}

/* XORs the @bytes low bytes of @value, big-endian, into @p. */
inline void
xor_be (uint8_t *p, uint64_t value, int bytes)
{
  for (int i = bytes - 1; i >= 0; i--, value >>= 8)
    p[i] ^= (uint8_t)value;
}

/* The length of the RTP header with its CSRCs and extension, which stay in
 * clear; 0 if @packet is not RTP version 2 or its header overruns it. */
size_t
rtp_header_length (const uint8_t *packet, size_t length)
{
  if (length < RTP_HEADER_LENGTH || (packet[0] >> 6) != 2)
    return 0;
  size_t header = RTP_HEADER_LENGTH + 4 * (size_t)(packet[0] & 0x0f);
  if (packet[0] & 0x10) {
    if (header + 4 > length)
      return 0;
    header += 4 + 4 * (size_t)read16 (packet + header + 2);
  }
  return header <= length ? header : 0;
}

/* Version 2 and a packet type of RTCP's range (RFC 5761 §4). */
bool
is_rtcp (const uint8_t *packet, size_t length)
{
  return length >= RTCP_HEADER_LENGTH && (packet[0] >> 6) == 2
         && packet[1] >= 192 && packet[1] <= 223;
}

/* The ROC that @seq most likely belongs to, next to the highest index seen
 * (RFC 3711 Appendix A); -1 before ROC 0, 2^32 past the last one. */
int64_t
estimate_roc (uint64_t highest, uint16_t seq)
{
  int64_t roc = (int64_t)(highest >> 16);
  uint32_t s_l = (uint16_t)highest;
  if (s_l < 0x8000)
    return (uint32_t)seq > s_l + 0x8000 ? roc - 1 : roc;
  return (uint32_t)seq < s_l - 0x8000 ? roc + 1 : roc;
}

/* The indices accepted so far below the highest (RFC 3711 §3.3.2): bit i is
 * highest - i. */
struct ReplayWindow {
  uint64_t highest = 0;
  uint64_t seen = 0;

  bool accepts (uint64_t index) const
  {
    if (index > highest)
      return true;
    uint64_t behind = highest - index;
    return behind < 64 && !(seen >> behind & 1);
  }
  void add (uint64_t index)
  {
    if (index > highest) {
      uint64_t ahead = index - highest;
      seen = ahead >= 64 ? 0 : seen << ahead;
      seen |= 1;
      highest = index;
    } else {
      seen |= (uint64_t)1 << (highest - index);
    }
  }
};

/* A window that starts at the first packet of a stream. */
ReplayWindow
first_window (uint64_t index)
{
  ReplayWindow window;
  window.highest = index;
  window.seen = 1;
  return window;
}

void
aes_cm_iv (const uint8_t *salt, uint32_t ssrc, uint64_t index, uint8_t *iv)
{
  memcpy (iv, salt, CM_SALT_LENGTH);
  iv[14] = iv[15] = 0;
  xor_be (iv + 4, ssrc, 4);
  xor_be (iv + 8, index, 6);
}

void
gcm_rtp_iv (
    const uint8_t *salt, uint32_t ssrc, uint32_t roc, uint16_t seq, uint8_t *iv)
{
  memcpy (iv, salt, GCM_SALT_LENGTH);
  xor_be (iv + 2, ssrc, 4);
  xor_be (iv + 6, roc, 4);
  xor_be (iv + 10, seq, 2);
}

void
gcm_rtcp_iv (const uint8_t *salt, uint32_t ssrc, uint32_t index, uint8_t *iv)
{
  memcpy (iv, salt, GCM_SALT_LENGTH);
  xor_be (iv + 2, ssrc, 4);
  xor_be (iv + 8, index & SRTCP_INDEX_MASK, 4);
}

/* XORs the keystream from @iv over @data (encrypts and decrypts alike). */
bool
ctr_xor (EVP_CIPHER_CTX *ctx, const uint8_t *iv, uint8_t *data, size_t length)
{
  int written = 0;
  if (EVP_EncryptInit_ex (ctx, nullptr, nullptr, nullptr, iv) != 1)
    return false;
  return length == 0
         || EVP_EncryptUpdate (ctx, data, &written, data, (int)length) == 1;
}

/* HMAC-SHA1 of @data then @trailer, truncated to 80 bits. */
bool
hmac_tag (EVP_MAC_CTX *ctx, const uint8_t *data, size_t length,
    const uint8_t *trailer, size_t trailer_length, uint8_t *tag)
{
  uint8_t full[EVP_MAX_MD_SIZE];
  size_t written = 0;
  /* No key: restart from the keyed state kept since init(). */
  if (EVP_MAC_init (ctx, nullptr, 0, nullptr) != 1
      || EVP_MAC_update (ctx, data, length) != 1
      || (trailer_length != 0
          && EVP_MAC_update (ctx, trailer, trailer_length) != 1)
      || EVP_MAC_final (ctx, full, &written, sizeof full) != 1
      || written < HMAC_TAG_LENGTH)
    return false;
  memcpy (tag, full, HMAC_TAG_LENGTH);
  return true;
}

/* AES-GCM over @data in place, with @aad then @aad2 authenticated only. */
bool
gcm_seal (EVP_CIPHER_CTX *ctx, const uint8_t *iv, const uint8_t *aad,
    size_t aad_length, const uint8_t *aad2, size_t aad2_length, uint8_t *data,
    size_t length, uint8_t *tag)
{
  int written = 0;
  uint8_t none[16];
  return EVP_EncryptInit_ex (ctx, nullptr, nullptr, nullptr, iv) == 1
         && EVP_EncryptUpdate (ctx, nullptr, &written, aad, (int)aad_length)
                == 1
         && (aad2_length == 0
             || EVP_EncryptUpdate (
                    ctx, nullptr, &written, aad2, (int)aad2_length)
                    == 1)
         && (length == 0
             || EVP_EncryptUpdate (ctx, data, &written, data, (int)length) == 1)
         && EVP_EncryptFinal_ex (ctx, none, &written) == 1
         && EVP_CIPHER_CTX_ctrl (
                ctx, EVP_CTRL_AEAD_GET_TAG, (int)GCM_TAG_LENGTH, tag)
                == 1;
}

/* Decrypts @data in place if @tag holds; otherwise encrypts it back, so the
 * caller's packet is as it came. */
bool
gcm_open (EVP_CIPHER_CTX *open, EVP_CIPHER_CTX *seal, const uint8_t *iv,
    const uint8_t *aad, size_t aad_length, const uint8_t *aad2,
    size_t aad2_length, uint8_t *data, size_t length, const uint8_t *tag)
{
  int written = 0;
  uint8_t none[16];
  if (EVP_DecryptInit_ex (open, nullptr, nullptr, nullptr, iv) != 1
      || EVP_CIPHER_CTX_ctrl (open, EVP_CTRL_AEAD_SET_TAG, (int)GCM_TAG_LENGTH,
             const_cast<uint8_t *> (tag))
             != 1
      || EVP_DecryptUpdate (open, nullptr, &written, aad, (int)aad_length) != 1
      || (aad2_length != 0
          && EVP_DecryptUpdate (open, nullptr, &written, aad2, (int)aad2_length)
                 != 1))
    return false;
  if (length != 0
      && EVP_DecryptUpdate (open, data, &written, data, (int)length) != 1)
    return false;
  if (EVP_DecryptFinal_ex (open, none, &written) == 1)
    return true;
  uint8_t ignored[GCM_TAG_LENGTH];
  gcm_seal (
      seal, iv, aad, aad_length, aad2, aad2_length, data, length, ignored);
  return false;
}

EVP_CIPHER_CTX *
keyed_cipher (const EVP_CIPHER *cipher, const uint8_t *key, int encrypt)
{
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  if (ctx && EVP_CipherInit_ex (ctx, cipher, nullptr, key, nullptr, encrypt))
    return ctx;
  EVP_CIPHER_CTX_free (ctx);
  return nullptr;
}

EVP_MAC_CTX *
keyed_hmac_sha1 (const uint8_t *key)
{
  EVP_MAC *mac = EVP_MAC_fetch (nullptr, "HMAC", nullptr);
  if (!mac)
    return nullptr;
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new (mac);
  EVP_MAC_free (mac); /* the context holds its own reference */
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end ()};
  if (ctx && EVP_MAC_init (ctx, key, AUTH_KEY_LENGTH, params) == 1)
    return ctx;
  EVP_MAC_CTX_free (ctx);
  return nullptr;
}

/* The contexts of RTP or of RTCP: counter mode and HMAC, or GCM's two. */
struct Keys {
  EVP_CIPHER_CTX *ctr = nullptr;
  EVP_MAC_CTX *hmac = nullptr;
  EVP_CIPHER_CTX *seal = nullptr;
  EVP_CIPHER_CTX *open = nullptr;
  uint8_t salt[CM_SALT_LENGTH] = {};

  Keys () = default;
  Keys (const Keys &) = delete;
  Keys &operator= (const Keys &) = delete;
  ~Keys ()
  {
    EVP_CIPHER_CTX_free (ctr);
    EVP_MAC_CTX_free (hmac);
    EVP_CIPHER_CTX_free (seal);
    EVP_CIPHER_CTX_free (open);
    OPENSSL_cleanse (salt, sizeof salt);
  }

  bool set (SrtpProfile profile, const uint8_t *key, const uint8_t *salt_in,
      const uint8_t *auth)
  {
    if (profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80) {
      memcpy (salt, salt_in, CM_SALT_LENGTH);
      ctr = keyed_cipher (EVP_aes_128_ctr (), key, 1);
      hmac = keyed_hmac_sha1 (auth);
      return ctr && hmac;
    }
    memcpy (salt, salt_in, GCM_SALT_LENGTH);
    seal = keyed_cipher (EVP_aes_128_gcm (), key, 1);
    open = keyed_cipher (EVP_aes_128_gcm (), key, 0);
    return seal && open;
  }
};

} // namespace

struct SrtpTransform::Private {
  SrtpProfile profile = SrtpProfile::AES_CM_128_HMAC_SHA1_80;
  Keys rtp;
  Keys rtcp;
  /* Protect: the highest index sent per SSRC, for its ROC. */
  std::map<uint32_t, uint64_t> sent;
  /* Unprotect: the indices accepted per SSRC (the ROC is highest >> 16). */
  std::map<uint32_t, ReplayWindow> received;
  /* Protect: the next SRTCP index (RFC 3711 §3.4: the first is 0). */
  uint32_t next_srtcp_index = 0;
  /* Unprotect: the SRTCP indices accepted per sender SSRC; a browser sends
   * RTCP from each of its SSRCs, each with an index of its own. */
  std::map<uint32_t, ReplayWindow> received_rtcp;
};

size_t
srtp_master_key_length (SrtpProfile)
{
  return KEY_LENGTH;
}

size_t
srtp_master_salt_length (SrtpProfile profile)
{
  return profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80 ? CM_SALT_LENGTH
                                                         : GCM_SALT_LENGTH;
}

size_t
srtp_rtp_overhead (SrtpProfile profile)
{
  return profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80 ? HMAC_TAG_LENGTH
                                                         : GCM_TAG_LENGTH;
}

size_t
srtp_rtcp_overhead (SrtpProfile profile)
{
  return SRTCP_INDEX_LENGTH + srtp_rtp_overhead (profile);
}

namespace detail {

bool
aes_cm_keystream (
    const uint8_t *key, const uint8_t *counter, uint8_t *out, size_t length)
{
  if (length > MAX_PACKET_LENGTH * 16)
    return false;
  EVP_CIPHER_CTX *ctx = keyed_cipher (EVP_aes_128_ctr (), key, 1);
  if (!ctx)
    return false;
  memset (out, 0, length);
  bool ok = ctr_xor (ctx, counter, out, length);
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

bool
aes_cm_prf (const uint8_t *master_key, const uint8_t *master_salt,
    size_t salt_length, uint8_t label, uint8_t *out, size_t length)
{
  if (salt_length != CM_SALT_LENGTH && salt_length != GCM_SALT_LENGTH)
    return false;
  /* x = (label || r) XOR master_salt, r = 0 with KDR 0; the label lands on
   * byte 7 of the 112-bit salt, which a 96-bit salt fills from the left. */
  uint8_t iv[16] = {};
  memcpy (iv, master_salt, salt_length);
  iv[7] ^= label;
  return aes_cm_keystream (master_key, iv, out, length);
}

bool
derive_session_keys (SrtpProfile profile, const uint8_t *master_key,
    size_t key_length, const uint8_t *master_salt, size_t salt_length,
    SessionKeys *keys)
{
  if (key_length != srtp_master_key_length (profile)
      || salt_length != srtp_master_salt_length (profile))
    return false;
  memset (keys, 0, sizeof *keys);
  auto derive = [&] (uint8_t label, uint8_t *out, size_t length) {
    return aes_cm_prf (
        master_key, master_salt, salt_length, label, out, length);
  };
  bool ok = derive (LABEL_RTP_ENCRYPTION, keys->rtp_key, KEY_LENGTH)
            && derive (LABEL_RTP_SALT, keys->rtp_salt, salt_length)
            && derive (LABEL_RTCP_ENCRYPTION, keys->rtcp_key, KEY_LENGTH)
            && derive (LABEL_RTCP_SALT, keys->rtcp_salt, salt_length);
  if (ok && profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80)
    ok = derive (LABEL_RTP_AUTH, keys->rtp_auth, AUTH_KEY_LENGTH)
         && derive (LABEL_RTCP_AUTH, keys->rtcp_auth, AUTH_KEY_LENGTH);
  return ok;
}

} // namespace detail

SrtpTransform::SrtpTransform () = default;
SrtpTransform::~SrtpTransform () = default;

bool
SrtpTransform::init (SrtpProfile profile, const uint8_t *master_key,
    size_t key_length, const uint8_t *master_salt, size_t salt_length)
{
  detail::SessionKeys keys;
  bool ok = detail::derive_session_keys (profile, master_key, key_length,
                master_salt, salt_length, &keys)
            && init_session_keys (profile, keys);
  OPENSSL_cleanse (&keys, sizeof keys);
  return ok;
}

bool
SrtpTransform::init_session_keys (
    SrtpProfile profile, const detail::SessionKeys &keys)
{
  /* A new key starts every ROC, index and window afresh. */
  auto fresh = std::make_unique<Private> ();
  fresh->profile = profile;
  if (!fresh->rtp.set (profile, keys.rtp_key, keys.rtp_salt, keys.rtp_auth)
      || !fresh->rtcp.set (
          profile, keys.rtcp_key, keys.rtcp_salt, keys.rtcp_auth))
    return false;
  priv_ = std::move (fresh);
  return true;
}

SrtpProfile
SrtpTransform::profile () const
{
  return priv_ ? priv_->profile : SrtpProfile::AES_CM_128_HMAC_SHA1_80;
}

bool
SrtpTransform::protect_rtp (uint8_t *packet, size_t *length, size_t capacity)
{
  if (!priv_ || *length > MAX_PACKET_LENGTH)
    return false;
  Private &p = *priv_;
  size_t header = rtp_header_length (packet, *length);
  size_t tag_length = srtp_rtp_overhead (p.profile);
  if (header == 0 || capacity < *length + tag_length)
    return false;

  uint16_t seq = read16 (packet + 2);
  uint32_t ssrc = read32 (packet + 8);
  auto sent = p.sent.find (ssrc);
  uint64_t index = seq;
  if (sent != p.sent.end ()) {
    int64_t roc = estimate_roc (sent->second, seq);
    if (roc > 0xffffffffll)
      return false; /* the ROC is spent: RFC 3711 §9.2 wants a new key */
    /* Nothing comes before ROC 0: a far jump from there stays in it. */
    index = roc < 0 ? seq : (uint64_t)roc << 16 | seq;
  }

  uint8_t *payload = packet + header;
  size_t payload_length = *length - header;
  uint8_t *tag = packet + *length;
  if (p.profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80) {
    uint8_t iv[16], roc[4];
    aes_cm_iv (p.rtp.salt, ssrc, index, iv);
    write32 (roc, (uint32_t)(index >> 16));
    if (!ctr_xor (p.rtp.ctr, iv, payload, payload_length)
        || !hmac_tag (p.rtp.hmac, packet, *length, roc, sizeof roc, tag))
      return false;
  } else {
    uint8_t iv[GCM_SALT_LENGTH];
    gcm_rtp_iv (p.rtp.salt, ssrc, (uint32_t)(index >> 16), seq, iv);
    if (!gcm_seal (p.rtp.seal, iv, packet, header, nullptr, 0, payload,
            payload_length, tag))
      return false;
  }

  if (sent == p.sent.end ())
    p.sent.emplace (ssrc, index);
  else if (index > sent->second)
    sent->second = index;
  *length += tag_length;
  return true;
}

bool
SrtpTransform::unprotect_rtp (uint8_t *packet, size_t *length)
{
  if (!priv_ || *length > MAX_PACKET_LENGTH)
    return false;
  Private &p = *priv_;
  size_t tag_length = srtp_rtp_overhead (p.profile);
  if (*length < RTP_HEADER_LENGTH + tag_length)
    return false;
  size_t protected_length = *length - tag_length;
  size_t header = rtp_header_length (packet, protected_length);
  if (header == 0)
    return false;

  uint16_t seq = read16 (packet + 2);
  uint32_t ssrc = read32 (packet + 8);
  auto received = p.received.find (ssrc);
  uint64_t index = seq;
  if (received != p.received.end ()) {
    int64_t roc = estimate_roc (received->second.highest, seq);
    if (roc < 0 || roc > 0xffffffffll)
      return false;
    index = (uint64_t)roc << 16 | seq;
    if (!received->second.accepts (index))
      return false;
  }

  uint8_t *payload = packet + header;
  size_t payload_length = protected_length - header;
  const uint8_t *tag = packet + protected_length;
  if (p.profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80) {
    uint8_t iv[16], roc[4], expected[HMAC_TAG_LENGTH];
    write32 (roc, (uint32_t)(index >> 16));
    if (!hmac_tag (
            p.rtp.hmac, packet, protected_length, roc, sizeof roc, expected)
        || CRYPTO_memcmp (expected, tag, HMAC_TAG_LENGTH) != 0)
      return false;
    aes_cm_iv (p.rtp.salt, ssrc, index, iv);
    if (!ctr_xor (p.rtp.ctr, iv, payload, payload_length))
      return false;
  } else {
    uint8_t iv[GCM_SALT_LENGTH];
    gcm_rtp_iv (p.rtp.salt, ssrc, (uint32_t)(index >> 16), seq, iv);
    if (!gcm_open (p.rtp.open, p.rtp.seal, iv, packet, header, nullptr, 0,
            payload, payload_length, tag))
      return false;
  }

  if (received == p.received.end ())
    p.received.emplace (ssrc, first_window (index));
  else
    received->second.add (index);
  *length = protected_length;
  return true;
}

bool
SrtpTransform::protect_rtcp (uint8_t *packet, size_t *length, size_t capacity)
{
  if (!priv_ || *length > MAX_PACKET_LENGTH)
    return false;
  Private &p = *priv_;
  if (!is_rtcp (packet, *length)
      || capacity < *length + srtp_rtcp_overhead (p.profile))
    return false;
  /* The index may not wrap under one key (RFC 3711 §9.2). */
  if (p.next_srtcp_index > SRTCP_INDEX_MASK)
    return false;

  uint32_t index = p.next_srtcp_index;
  uint32_t ssrc = read32 (packet + 4);
  uint8_t *payload = packet + RTCP_HEADER_LENGTH;
  size_t payload_length = *length - RTCP_HEADER_LENGTH;
  uint8_t e_index[SRTCP_INDEX_LENGTH];
  write32 (e_index, SRTCP_E_FLAG | index);
  if (p.profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80) {
    /* header | encrypted | E + index | tag (RFC 3711 §3.4) */
    uint8_t iv[16];
    aes_cm_iv (p.rtcp.salt, ssrc, index, iv);
    if (!ctr_xor (p.rtcp.ctr, iv, payload, payload_length))
      return false;
    memcpy (packet + *length, e_index, sizeof e_index);
    if (!hmac_tag (p.rtcp.hmac, packet, *length + sizeof e_index, nullptr, 0,
            packet + *length + sizeof e_index))
      return false;
  } else {
    /* header | encrypted | tag | E + index (RFC 7714 §9) */
    uint8_t iv[GCM_SALT_LENGTH];
    gcm_rtcp_iv (p.rtcp.salt, ssrc, index, iv);
    if (!gcm_seal (p.rtcp.seal, iv, packet, RTCP_HEADER_LENGTH, e_index,
            sizeof e_index, payload, payload_length, packet + *length))
      return false;
    memcpy (packet + *length + GCM_TAG_LENGTH, e_index, sizeof e_index);
  }
  p.next_srtcp_index++;
  *length += srtp_rtcp_overhead (p.profile);
  return true;
}

bool
SrtpTransform::unprotect_rtcp (uint8_t *packet, size_t *length)
{
  if (!priv_ || *length > MAX_PACKET_LENGTH)
    return false;
  Private &p = *priv_;
  size_t overhead = srtp_rtcp_overhead (p.profile);
  if (*length < RTCP_HEADER_LENGTH + overhead)
    return false;
  size_t rtcp_length = *length - overhead;
  if (!is_rtcp (packet, rtcp_length))
    return false;

  bool cm = p.profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80;
  /* Where E + index and the tag sit differs between the profiles. */
  uint8_t *e_index = packet + (cm ? rtcp_length : *length - SRTCP_INDEX_LENGTH);
  const uint8_t *tag =
      packet + (cm ? rtcp_length + SRTCP_INDEX_LENGTH : rtcp_length);
  uint32_t trailer = read32 (e_index);
  bool encrypted = trailer & SRTCP_E_FLAG;
  uint32_t index = trailer & SRTCP_INDEX_MASK;
  uint32_t ssrc = read32 (packet + 4);
  auto received = p.received_rtcp.find (ssrc);
  if (received != p.received_rtcp.end () && !received->second.accepts (index))
    return false;

  uint8_t *payload = packet + RTCP_HEADER_LENGTH;
  size_t payload_length = rtcp_length - RTCP_HEADER_LENGTH;
  if (cm) {
    uint8_t expected[HMAC_TAG_LENGTH];
    if (!hmac_tag (p.rtcp.hmac, packet, rtcp_length + SRTCP_INDEX_LENGTH,
            nullptr, 0, expected)
        || CRYPTO_memcmp (expected, tag, HMAC_TAG_LENGTH) != 0)
      return false;
    uint8_t iv[16];
    aes_cm_iv (p.rtcp.salt, ssrc, index, iv);
    if (encrypted && !ctr_xor (p.rtcp.ctr, iv, payload, payload_length))
      return false;
  } else {
    uint8_t iv[GCM_SALT_LENGTH];
    gcm_rtcp_iv (p.rtcp.salt, ssrc, index, iv);
    /* Unencrypted SRTCP authenticates the whole packet (RFC 7714 §9.2). */
    size_t aad_length = encrypted ? RTCP_HEADER_LENGTH : rtcp_length;
    if (!gcm_open (p.rtcp.open, p.rtcp.seal, iv, packet, aad_length, e_index,
            SRTCP_INDEX_LENGTH, payload, encrypted ? payload_length : 0, tag))
      return false;
  }

  if (received == p.received_rtcp.end ())
    p.received_rtcp.emplace (ssrc, first_window (index));
  else
    received->second.add (index);
  *length = rtcp_length;
  return true;
}

} // namespace roomwebrtc
