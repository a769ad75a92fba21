/* gst-rooms: tests of roomwebrtc's SRTP transforms (srtptransform.h) against
 * the RFC test vectors and against libsrtp2 on the other side. */
#include "roomcheck.h"

#include "srtptransform.h"

#include <srtp2/srtp.h>

#include <cstring>
#include <vector>

using namespace roomwebrtc;

namespace {

typedef std::vector<uint8_t> Bytes;

const SrtpProfile PROFILES[] = {
    SrtpProfile::AES_CM_128_HMAC_SHA1_80, SrtpProfile::AEAD_AES_128_GCM};

const char *
profile_name (SrtpProfile profile)
{
  return profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80 ? "AES_CM" : "GCM";
}

/* Hexadecimal digits, spaces ignored. */
Bytes
hex (const char *text)
{
  Bytes out;
  int high = -1;
  for (const char *c = text; *c; c++) {
    if (*c == ' ')
      continue;
    int digit = g_ascii_xdigit_value (*c);
    fail_unless (digit >= 0, "bad hex digit '%c'", *c);
    if (high < 0) {
      high = digit;
    } else {
      out.push_back ((uint8_t)(high << 4 | digit));
      high = -1;
    }
  }
  fail_unless (high < 0, "odd number of hex digits");
  return out;
}

void
fail_unless_bytes (const Bytes &got, const Bytes &expected, const char *what)
{
  fail_unless_equals_int (got.size (), expected.size ());
  for (size_t i = 0; i < got.size (); i++)
    fail_unless (got[i] == expected[i], "%s: byte %zu is %02x, not %02x", what,
        i, got[i], expected[i]);
}

/* Master key then salt, as DTLS exports them and libsrtp2 takes them. */
Bytes
master_key_and_salt (SrtpProfile profile)
{
  Bytes out;
  for (size_t i = 0;
       i < srtp_master_key_length (profile) + srtp_master_salt_length (profile);
       i++)
    out.push_back ((uint8_t)(0x31 * i + 7));
  return out;
}

void
init_transform (SrtpTransform &transform, SrtpProfile profile)
{
  Bytes key = master_key_and_salt (profile);
  size_t key_length = srtp_master_key_length (profile);
  fail_unless (transform.init (profile, key.data (), key_length,
      key.data () + key_length, key.size () - key_length));
  fail_unless (transform.profile () == profile);
}

/* An RTP packet with @csrcs CSRCs, a header extension of @extension words
 * (none if 0) and @payload bytes. */
Bytes
rtp_packet (
    uint16_t seq, uint32_t ssrc, int csrcs, int extension, size_t payload)
{
  Bytes p = {(uint8_t)(0x80 | (extension ? 0x10 : 0) | csrcs), 96,
      (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, (uint8_t)(seq >> 4),
      (uint8_t)seq, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16),
      (uint8_t)(ssrc >> 8), (uint8_t)ssrc};
  for (int i = 0; i < csrcs * 4; i++)
    p.push_back ((uint8_t)(0xc0 + i));
  if (extension) {
    Bytes words = {0xbe, 0xde, 0, (uint8_t)extension};
    p.insert (p.end (), words.begin (), words.end ());
    for (int i = 0; i < extension * 4; i++)
      p.push_back ((uint8_t)(0xe0 + i));
  }
  for (size_t i = 0; i < payload; i++)
    p.push_back ((uint8_t)(seq + 3 * i));
  return p;
}

/* A sender report with one report block. */
Bytes
rtcp_packet (uint32_t ssrc, uint8_t fill)
{
  Bytes p = {0x81, 200, 0, 12, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16),
      (uint8_t)(ssrc >> 8), (uint8_t)ssrc};
  for (int i = 0; i < 44; i++)
    p.push_back ((uint8_t)(fill + i));
  return p;
}

/* Protects @packet with room for the tag; the protected bytes. */
Bytes
protect_rtp (SrtpTransform &transform, Bytes packet)
{
  size_t length = packet.size ();
  packet.resize (length + srtp_rtp_overhead (transform.profile ()));
  fail_unless (transform.protect_rtp (packet.data (), &length, packet.size ()));
  fail_unless_equals_int (length, packet.size ());
  return packet;
}

Bytes
protect_rtcp (SrtpTransform &transform, Bytes packet)
{
  size_t length = packet.size ();
  packet.resize (length + srtp_rtcp_overhead (transform.profile ()));
  fail_unless (
      transform.protect_rtcp (packet.data (), &length, packet.size ()));
  fail_unless_equals_int (length, packet.size ());
  return packet;
}

/* Unprotects in place; false leaves @packet as it was. */
bool
unprotect (SrtpTransform &transform, Bytes &packet, bool rtcp)
{
  size_t length = packet.size ();
  bool ok = rtcp ? transform.unprotect_rtcp (packet.data (), &length)
                 : transform.unprotect_rtp (packet.data (), &length);
  if (ok)
    packet.resize (length);
  return ok;
}

/* libsrtp2's session for @profile with the same master key and salt. */
struct Libsrtp {
  srtp_t session = nullptr;
  Bytes key;

  /* @rtcp_in_clear: SRTCP authenticated only (E flag 0). */
  Libsrtp (SrtpProfile profile, bool outbound, bool rtcp_in_clear = false)
  {
    /* libsrtp2 refuses a second srtp_init (). */
    static const srtp_err_status_t initialised = srtp_init ();
    fail_unless (initialised == srtp_err_status_ok);
    key = master_key_and_salt (profile);
    srtp_policy_t policy;
    memset (&policy, 0, sizeof policy);
    if (profile == SrtpProfile::AES_CM_128_HMAC_SHA1_80) {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
    } else {
      srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtcp);
    }
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = key.data ();
    if (rtcp_in_clear)
      policy.rtcp.sec_serv = sec_serv_auth;
    policy.window_size = 128;
    srtp_err_status_t status = srtp_create (&session, &policy);
    fail_unless (status == srtp_err_status_ok, "srtp_create: %d", status);
  }
  ~Libsrtp () { srtp_dealloc (session); }

  Bytes protect (Bytes packet, bool rtcp)
  {
    int length = (int)packet.size ();
    packet.resize (packet.size () + SRTP_MAX_TRAILER_LEN);
    srtp_err_status_t status =
        rtcp ? srtp_protect_rtcp (session, packet.data (), &length)
             : srtp_protect (session, packet.data (), &length);
    fail_unless (status == srtp_err_status_ok, "libsrtp2 protect: %d", status);
    packet.resize (length);
    return packet;
  }

  bool unprotect (Bytes &packet, bool rtcp)
  {
    int length = (int)packet.size ();
    srtp_err_status_t status =
        rtcp ? srtp_unprotect_rtcp (session, packet.data (), &length)
             : srtp_unprotect (session, packet.data (), &length);
    packet.resize (length);
    return status == srtp_err_status_ok;
  }
};

/* RTP across a sequence wrap (ROC 0 to 1), with CSRCs and extensions. */
std::vector<Bytes>
rtp_across_wrap (uint32_t ssrc)
{
  std::vector<Bytes> packets;
  for (int i = 0; i < 24; i++) {
    uint16_t seq = (uint16_t)(65524 + i);
    packets.push_back (rtp_packet (seq, ssrc, i % 3, i % 4 == 1 ? i % 5 + 1 : 0,
        i == 5 ? 0 : 1200 - 17 * i));
  }
  return packets;
}

/* RFC 7714 §16 and §17: session keys given directly. */
detail::SessionKeys
rfc7714_session_keys ()
{
  detail::SessionKeys keys;
  memset (&keys, 0, sizeof keys);
  Bytes key = hex ("000102030405060708090a0b0c0d0e0f");
  Bytes salt = hex ("517569642070726f2071756f"); /* "Quid pro quo" */
  memcpy (keys.rtp_key, key.data (), key.size ());
  memcpy (keys.rtcp_key, key.data (), key.size ());
  memcpy (keys.rtp_salt, salt.data (), salt.size ());
  memcpy (keys.rtcp_salt, salt.data (), salt.size ());
  return keys;
}

} // namespace

/* RFC 3711 Appendix B.2: the AES-CM keystream, from the counter blocks the
 * RFC lists, and as the payload cipher of SSRC 0, index 0. */
GST_START_TEST (test_rfc3711_keystream)
{
  Bytes key = hex ("2B7E151628AED2A6ABF7158809CF4F3C");
  Bytes counter = hex ("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
  Bytes keystream (0xff02 * 16);
  fail_unless (detail::aes_cm_keystream (
      key.data (), counter.data (), keystream.data (), keystream.size ()));
  struct {
    size_t block;
    const char *bytes;
  } expected[] = {
      {0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"},
      {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
      {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"},
      {0xfeff, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
      {0xff00, "362B7C3C6773516318A077D7FC5073AE"},
      {0xff01, "6A2CC3787889374FBEB4C81B17BA6C44"},
  };
  for (const auto &e : expected)
    fail_unless_bytes (Bytes (keystream.begin () + e.block * 16,
                           keystream.begin () + e.block * 16 + 16),
        hex (e.bytes), "keystream block");

  /* The same keystream encrypts a zero payload of SSRC 0, sequence 0. */
  detail::SessionKeys keys;
  memset (&keys, 0, sizeof keys);
  memcpy (keys.rtp_key, key.data (), 16);
  memcpy (keys.rtp_salt, counter.data (), 14);
  SrtpTransform transform;
  fail_unless (
      transform.init_session_keys (SrtpProfile::AES_CM_128_HMAC_SHA1_80, keys));
  Bytes packet (12 + 48);
  packet[0] = 0x80;
  packet = protect_rtp (transform, packet);
  fail_unless_bytes (Bytes (packet.begin () + 12, packet.begin () + 60),
      Bytes (keystream.begin (), keystream.begin () + 48), "payload");
}
GST_END_TEST;

/* RFC 3711 Appendix B.3: the session keys of one master key. */
GST_START_TEST (test_rfc3711_key_derivation)
{
  Bytes master_key = hex ("E1F97A0D3E018BE0D64FA32C06DE4139");
  Bytes master_salt = hex ("0EC675AD498AFEEBB6960B3AABE6");
  Bytes cipher_key = hex ("C61E7A93744F39EE10734AFE3FF7A087");
  Bytes cipher_salt = hex ("30CBBC08863D8C85D49DB34A9AE1");
  Bytes auth_key = hex ("CEBE321F6FF7716B6FD4AB49AF256A15"
                        "6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                        "E049646C43D9327AD175578EF7227098"
                        "6371C10C9A369AC2F94A8C5FBCDDDC25"
                        "6D6E919A48B610EF17C2041E47403576"
                        "6B68642C59BBFC2F34DB60DBDFB2");

  Bytes out (auth_key.size ());
  fail_unless (detail::aes_cm_prf (
      master_key.data (), master_salt.data (), 14, 0, out.data (), 16));
  fail_unless_bytes (
      Bytes (out.begin (), out.begin () + 16), cipher_key, "cipher key");
  fail_unless (detail::aes_cm_prf (
      master_key.data (), master_salt.data (), 14, 2, out.data (), 14));
  fail_unless_bytes (
      Bytes (out.begin (), out.begin () + 14), cipher_salt, "cipher salt");
  fail_unless (detail::aes_cm_prf (master_key.data (), master_salt.data (), 14,
      1, out.data (), out.size ()));
  fail_unless_bytes (out, auth_key, "auth key");

  detail::SessionKeys keys;
  fail_unless (
      detail::derive_session_keys (SrtpProfile::AES_CM_128_HMAC_SHA1_80,
          master_key.data (), 16, master_salt.data (), 14, &keys));
  fail_unless_bytes (
      Bytes (keys.rtp_key, keys.rtp_key + 16), cipher_key, "session key");
  fail_unless_bytes (
      Bytes (keys.rtp_salt, keys.rtp_salt + 14), cipher_salt, "session salt");
  fail_unless_bytes (Bytes (keys.rtp_auth, keys.rtp_auth + 20),
      Bytes (auth_key.begin (), auth_key.begin () + 20), "session auth key");

  /* Wrong lengths are refused. */
  fail_if (detail::derive_session_keys (SrtpProfile::AEAD_AES_128_GCM,
      master_key.data (), 16, master_salt.data (), 14, &keys));
  SrtpTransform transform;
  fail_if (transform.init (SrtpProfile::AES_CM_128_HMAC_SHA1_80,
      master_key.data (), 15, master_salt.data (), 14));
}
GST_END_TEST;

/* RFC 7714 §16.1.1 and §16.1.2: AEAD_AES_128_GCM SRTP, sequence 0xf17b
 * (ROC 0) of SSRC 0x5501a0b2, "Gallia est omnis divisa in partes tres". */
GST_START_TEST (test_rfc7714_srtp)
{
  Bytes plain = hex ("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f"
                     "6d6e6973 20646976 69736120 696e2070 61727465 73207472"
                     "6573");
  Bytes expected = hex ("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c"
                        "9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf"
                        "8833 899d7f27 beb16a91 52cf765e e4390cce");
  SrtpTransform sender, receiver;
  fail_unless (sender.init_session_keys (
      SrtpProfile::AEAD_AES_128_GCM, rfc7714_session_keys ()));
  fail_unless (receiver.init_session_keys (
      SrtpProfile::AEAD_AES_128_GCM, rfc7714_session_keys ()));
  Bytes packet = protect_rtp (sender, plain);
  fail_unless_bytes (packet, expected, "SRTP");
  fail_unless (unprotect (receiver, packet, false));
  fail_unless_bytes (packet, plain, "decrypted RTP");
}
GST_END_TEST;

/* RFC 7714 §17.1 (encrypted) and §17.3 (authenticated only): SRTCP of SSRC
 * "Mars" with index 0x5d4.  The index counts from 0, so the 0x5d4th packet
 * is the one the RFC protects. */
GST_START_TEST (test_rfc7714_srtcp)
{
  Bytes plain = hex ("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a"
                     "0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef"
                     "deadbeef");
  Bytes encrypted = hex ("81c8000d 4d617273 63e94885 dcdab67c a727d766"
                         "2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda"
                         "4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f"
                         "c5abf872 45d9eade 800005d4");
  Bytes authenticated = plain;
  Bytes trailer = hex ("841dd968 3dd78ec9 2ae58790 125f62b3 000005d4");
  authenticated.insert (authenticated.end (), trailer.begin (), trailer.end ());

  SrtpTransform sender, receiver;
  fail_unless (sender.init_session_keys (
      SrtpProfile::AEAD_AES_128_GCM, rfc7714_session_keys ()));
  fail_unless (receiver.init_session_keys (
      SrtpProfile::AEAD_AES_128_GCM, rfc7714_session_keys ()));
  for (int i = 0; i < 0x5d4; i++)
    protect_rtcp (sender, plain);
  Bytes packet = protect_rtcp (sender, plain);
  fail_unless_bytes (packet, encrypted, "SRTCP");
  fail_unless (unprotect (receiver, packet, true));
  fail_unless_bytes (packet, plain, "decrypted RTCP");

  /* The same index again, unencrypted: a replay all the same. */
  packet = authenticated;
  fail_if (unprotect (receiver, packet, true));
  SrtpTransform fresh;
  fail_unless (fresh.init_session_keys (
      SrtpProfile::AEAD_AES_128_GCM, rfc7714_session_keys ()));
  fail_unless (unprotect (fresh, packet, true));
  fail_unless_bytes (packet, plain, "authenticated RTCP");
}
GST_END_TEST;

/* What we protect, libsrtp2 unprotects, for RTP across a sequence wrap (our
 * SRTP bytes are even libsrtp2's own) and for RTCP. */
GST_START_TEST (test_libsrtp_unprotects_ours)
{
  for (SrtpProfile profile : PROFILES) {
    SrtpTransform ours;
    init_transform (ours, profile);
    Libsrtp their_sender (profile, true);
    Libsrtp their_receiver (profile, false);
    for (const Bytes &plain : rtp_across_wrap (0x11223344)) {
      Bytes packet = protect_rtp (ours, plain);
      fail_unless_bytes (
          packet, their_sender.protect (plain, false), profile_name (profile));
      fail_unless (their_receiver.unprotect (packet, false),
          "libsrtp2 refused %s RTP", profile_name (profile));
      fail_unless_bytes (packet, plain, profile_name (profile));
    }
    for (int i = 0; i < 5; i++) {
      Bytes plain = rtcp_packet (0x55667788, (uint8_t)i);
      Bytes packet = protect_rtcp (ours, plain);
      fail_unless (their_receiver.unprotect (packet, true),
          "libsrtp2 refused %s RTCP", profile_name (profile));
      fail_unless_bytes (packet, plain, profile_name (profile));
    }
  }
}
GST_END_TEST;

/* What libsrtp2 protects, we unprotect: RTP across a wrap, and RTCP. */
GST_START_TEST (test_we_unprotect_libsrtp)
{
  for (SrtpProfile profile : PROFILES) {
    SrtpTransform ours;
    init_transform (ours, profile);
    Libsrtp theirs (profile, true);
    for (const Bytes &plain : rtp_across_wrap (0x0badcafe)) {
      Bytes packet = theirs.protect (plain, false);
      fail_unless (unprotect (ours, packet, false), "%s RTP seq %u refused",
          profile_name (profile), plain[2] << 8 | plain[3]);
      fail_unless_bytes (packet, plain, profile_name (profile));
    }
    for (int i = 0; i < 5; i++) {
      Bytes plain = rtcp_packet (0x0badcafe, (uint8_t)(17 * i));
      Bytes packet = theirs.protect (plain, true);
      fail_unless (unprotect (ours, packet, true), "%s RTCP refused",
          profile_name (profile));
      fail_unless_bytes (packet, plain, profile_name (profile));
    }

    /* SRTCP in clear, authenticated only, from another sender SSRC. */
    Libsrtp in_clear (profile, true, true);
    for (int i = 0; i < 3; i++) {
      Bytes plain = rtcp_packet (0x5eed, (uint8_t)(5 * i));
      Bytes packet = in_clear.protect (plain, true);
      fail_unless (memcmp (packet.data (), plain.data (), plain.size ()) == 0);
      fail_unless (unprotect (ours, packet, true), "%s clear RTCP refused",
          profile_name (profile));
      fail_unless_bytes (packet, plain, profile_name (profile));
    }
  }
}
GST_END_TEST;

/* A bad tag, a changed byte, a replay, a truncated packet or a short buffer
 * fail, leave the packet as it was, and do not disturb what follows. */
GST_START_TEST (test_refusals)
{
  for (SrtpProfile profile : PROFILES) {
    SrtpTransform sender, receiver;
    init_transform (sender, profile);
    init_transform (receiver, profile);
    const char *name = profile_name (profile);

    for (bool rtcp : {false, true}) {
      Bytes plain = rtcp ? rtcp_packet (0xabcdef01, 9)
                         : rtp_packet (1000, 0xabcdef01, 2, 1, 160);
      Bytes first =
          rtcp ? protect_rtcp (sender, plain) : protect_rtp (sender, plain);
      Bytes second =
          rtcp ? protect_rtcp (sender, plain)
               : protect_rtp (sender, rtp_packet (1001, 0xabcdef01, 2, 1, 160));

      /* The tag's last byte, the tag's first, a payload byte, the header
       * (authenticated in clear) and, for SRTCP, the index. */
      size_t overhead =
          rtcp ? srtp_rtcp_overhead (profile) : srtp_rtp_overhead (profile);
      bool index_last = rtcp && profile == SrtpProfile::AEAD_AES_128_GCM;
      size_t tag_at =
          first.size () - srtp_rtp_overhead (profile) - (index_last ? 4 : 0);
      std::vector<size_t> flips = {tag_at + srtp_rtp_overhead (profile) - 1,
          tag_at, first.size () - overhead - 1, 5};
      if (rtcp)
        flips.push_back (
            index_last ? first.size () - 1 : first.size () - overhead + 3);
      for (size_t at : flips) {
        Bytes tampered = first;
        tampered[at] ^= 0x40;
        Bytes kept = tampered;
        fail_if (
            unprotect (receiver, tampered, rtcp), "%s: byte %zu", name, at);
        fail_unless_bytes (tampered, kept, "tampered packet");
      }

      /* Too short for a header and a tag, and the wrong version. */
      for (size_t length = 0; length < (rtcp ? 8 : 12) + overhead; length++) {
        Bytes truncated (first.begin (), first.begin () + length);
        Bytes kept = truncated;
        fail_if (unprotect (receiver, truncated, rtcp));
        fail_unless_bytes (truncated, kept, "truncated packet");
      }
      Bytes truncated (first.begin (), first.end () - 1);
      fail_if (unprotect (receiver, truncated, rtcp));
      Bytes version = first;
      version[0] = (uint8_t)(version[0] & 0x3f) | 0x40;
      fail_if (unprotect (receiver, version, rtcp));

      /* The genuine packets still pass, once each, in any order. */
      Bytes packet = second;
      fail_unless (unprotect (receiver, packet, rtcp), "%s", name);
      packet = first;
      fail_unless (unprotect (receiver, packet, rtcp), "%s", name);
      fail_unless_bytes (packet, plain, name);
      packet = first;
      Bytes kept = packet;
      fail_if (unprotect (receiver, packet, rtcp), "%s: replay", name);
      fail_unless_bytes (packet, kept, "replayed packet");
      packet = second;
      fail_if (unprotect (receiver, packet, rtcp), "%s: replay", name);

      /* No room for the tag, or not a packet of its kind. */
      Bytes buffer = plain;
      buffer.resize (plain.size () + overhead - 1);
      size_t length = plain.size ();
      fail_if (
          rtcp ? sender.protect_rtcp (buffer.data (), &length, buffer.size ())
               : sender.protect_rtp (buffer.data (), &length, buffer.size ()));
      fail_unless_equals_int (length, plain.size ());
      fail_unless_bytes (Bytes (buffer.begin (), buffer.begin () + length),
          plain, "unprotected for lack of room");
      buffer = Bytes (plain.begin (), plain.begin () + 6);
      buffer.resize (64);
      length = 6;
      fail_if (rtcp ? sender.protect_rtcp (buffer.data (), &length, 64)
                    : sender.protect_rtp (buffer.data (), &length, 64));
    }

    /* Out of the 64-packet window: too old. */
    SrtpTransform late_sender, late_receiver;
    init_transform (late_sender, profile);
    init_transform (late_receiver, profile);
    Bytes early = protect_rtp (late_sender, rtp_packet (10, 7, 0, 0, 20));
    Bytes later = protect_rtp (late_sender, rtp_packet (74, 7, 0, 0, 20));
    Bytes last = protect_rtp (late_sender, rtp_packet (73, 7, 0, 0, 20));
    fail_unless (unprotect (late_receiver, later, false));
    fail_if (unprotect (late_receiver, early, false), "%s: too old", name);
    fail_unless (unprotect (late_receiver, last, false), "%s: in window", name);
  }
}
GST_END_TEST;

/* The header (CSRCs and extension too) stays in clear; only the payload is
 * encrypted; and the receiver follows a ROC it joins late. */
GST_START_TEST (test_header_in_clear)
{
  for (SrtpProfile profile : PROFILES) {
    SrtpTransform sender, receiver;
    init_transform (sender, profile);
    init_transform (receiver, profile);
    Bytes plain = rtp_packet (42, 0x01020304, 15, 3, 100);
    size_t header = 12 + 15 * 4 + 4 + 3 * 4;
    Bytes packet = protect_rtp (sender, plain);
    fail_unless_bytes (Bytes (packet.begin (), packet.begin () + header),
        Bytes (plain.begin (), plain.begin () + header), "header");
    fail_if (
        memcmp (packet.data () + header, plain.data () + header, 100) == 0);
    fail_unless (unprotect (receiver, packet, false));
    fail_unless_bytes (packet, plain, profile_name (profile));

    /* An extension that claims more than the packet holds. */
    Bytes bad = rtp_packet (43, 0x01020304, 0, 1, 0);
    bad[15] = 200;
    size_t length = bad.size ();
    bad.resize (length + 16);
    fail_if (sender.protect_rtp (bad.data (), &length, bad.size ()));

    /* Many wraps: the sender's ROC stays with libsrtp2's. */
    Libsrtp theirs (profile, false);
    for (uint32_t i = 0; i < 3 * 65536; i += 1000) {
      Bytes p = rtp_packet ((uint16_t)i, 0x99, 0, 0, 8);
      Bytes sealed = protect_rtp (sender, p);
      fail_unless (theirs.unprotect (sealed, false), "%s: index %u",
          profile_name (profile), i);
      fail_unless_bytes (sealed, p, profile_name (profile));
    }
  }
}
GST_END_TEST;

static Suite *
srtptransform_suite (void)
{
  Suite *s = suite_create ("srtptransform");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_rfc3711_keystream);
  tcase_add_test (tc, test_rfc3711_key_derivation);
  tcase_add_test (tc, test_rfc7714_srtp);
  tcase_add_test (tc, test_rfc7714_srtcp);
  tcase_add_test (tc, test_libsrtp_unprotects_ours);
  tcase_add_test (tc, test_we_unprotect_libsrtp);
  tcase_add_test (tc, test_refusals);
  tcase_add_test (tc, test_header_in_clear);
  return s;
}

ROOM_CHECK_MAIN (srtptransform);
