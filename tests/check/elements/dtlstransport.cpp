/* gst-rooms: tests of the DTLS-SRTP server (dtlstransport.h) against an
 * OpenSSL DTLS client playing the browser, both over memory BIOs, the test
 * carrying every datagram (and dropping some). */
#include "roomcheck.h"

#include "dtlstransport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <deque>
#include <string>
#include <vector>

using namespace roomwebrtc;

namespace {

using Datagram = std::vector<uint8_t>;

const char kBothProfiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
const size_t kMtu = 1200;

/* The lengths of the DTLS records in @d, or empty when @d is not made of
 * whole records: a datagram must never cut a record. */
std::vector<size_t>
record_lengths (const Datagram &d)
{
  std::vector<size_t> lengths;
  size_t at = 0;
  while (at < d.size ()) {
    if (d.size () - at < 13)
      return {};
    size_t length = 13 + (((size_t)d[at + 11] << 8) | d[at + 12]);
    if (length > d.size () - at)
      return {};
    lengths.push_back (length);
    at += length;
  }
  return lengths;
}

std::string
sha256_fingerprint (X509 *cert)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  fail_unless (X509_digest (cert, EVP_sha256 (), digest, &length));
  std::string text;
  for (unsigned int i = 0; i < length; i++) {
    gchar *pair = g_strdup_printf ("%s%02X", i ? ":" : "", digest[i]);
    text += pair;
    g_free (pair);
  }
  return text;
}

/* A P-256 key and a self-signed certificate, the way a browser makes its
 * own; @alt_names DNS names make the certificate as large as wanted. */
struct KeyAndCert {
  EVP_PKEY *key = nullptr;
  X509 *cert = nullptr;

  explicit KeyAndCert (const char *common_name, int alt_names = 0)
  {
    key = EVP_EC_gen ("P-256");
    fail_unless (key != nullptr);
    cert = X509_new ();
    ASN1_INTEGER_set (X509_get_serialNumber (cert), 4242);
    X509_set_version (cert, X509_VERSION_3);
    X509_gmtime_adj (X509_getm_notBefore (cert), 0);
    X509_gmtime_adj (X509_getm_notAfter (cert), 3600);
    X509_set_pubkey (cert, key);
    X509_NAME *name = X509_get_subject_name (cert);
    X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8,
        (const unsigned char *)common_name, -1, -1, 0);
    X509_set_issuer_name (cert, name);
    if (alt_names > 0) {
      std::string names;
      for (int i = 0; i < alt_names; i++) {
        gchar *one = g_strdup_printf (
            "%sDNS:viewer-%04d.rooms.gst-rooms.invalid", i ? "," : "", i);
        names += one;
        g_free (one);
      }
      X509_EXTENSION *ext = X509V3_EXT_nconf_nid (
          nullptr, nullptr, NID_subject_alt_name, names.c_str ());
      fail_unless (ext != nullptr);
      X509_add_ext (cert, ext, -1);
      X509_EXTENSION_free (ext);
    }
    fail_unless (X509_sign (cert, key, EVP_sha256 ()) > 0);
  }
  ~KeyAndCert ()
  {
    X509_free (cert);
    EVP_PKEY_free (key);
  }

  std::string pem (bool certificate_first = false) const
  {
    BIO *bio = BIO_new (BIO_s_mem ());
    if (certificate_first)
      PEM_write_bio_X509 (bio, cert);
    PEM_write_bio_PrivateKey (bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    if (!certificate_first)
      PEM_write_bio_X509 (bio, cert);
    char *data = nullptr;
    long length = BIO_get_mem_data (bio, &data);
    std::string text (data, (size_t)length);
    BIO_free (bio);
    return text;
  }
};

/* The browser's side: an OpenSSL DTLS client over memory BIOs, offering
 * @profiles (null: no use_srtp).  Its output goes out one record per
 * datagram. */
struct TestClient {
  KeyAndCert identity{"browser"};
  SSL_CTX *ctx = nullptr;
  SSL *ssl = nullptr;
  BIO *in = nullptr, *out = nullptr;
  bool done = false;
  bool closed_by_peer = false;

  explicit TestClient (const char *profiles)
  {
    ctx = SSL_CTX_new (DTLS_client_method ());
    fail_unless (ctx != nullptr);
    SSL_CTX_set_min_proto_version (ctx, DTLS1_2_VERSION);
    fail_unless (SSL_CTX_use_certificate (ctx, identity.cert) == 1);
    fail_unless (SSL_CTX_use_PrivateKey (ctx, identity.key) == 1);
    /* 0 is success for this one. */
    fail_unless (!profiles || SSL_CTX_set_tlsext_use_srtp (ctx, profiles) == 0);
    ssl = SSL_new (ctx);
    in = BIO_new (BIO_s_mem ());
    out = BIO_new (BIO_s_mem ());
    BIO_set_mem_eof_return (in, -1);
    SSL_set_bio (ssl, in, out);
    SSL_set_connect_state (ssl);
    SSL_set_options (ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu (ssl, kMtu);
  }
  ~TestClient ()
  {
    SSL_free (ssl);
    SSL_CTX_free (ctx);
  }

  std::string fingerprint () const
  {
    return sha256_fingerprint (identity.cert);
  }

  /* Runs the handshake (or reads, once done) and returns what to send. */
  std::vector<Datagram> step ()
  {
    ERR_clear_error ();
    if (!done) {
      int result = SSL_do_handshake (ssl);
      if (result == 1)
        done = true;
    }
    if (done) {
      char data[2048];
      int result = SSL_read (ssl, data, sizeof (data));
      if (result <= 0 && SSL_get_error (ssl, result) == SSL_ERROR_ZERO_RETURN)
        closed_by_peer = true;
    }
    ERR_clear_error ();
    return take_output ();
  }

  std::vector<Datagram> take_output ()
  {
    std::vector<Datagram> datagrams;
    Datagram bytes (BIO_ctrl_pending (out));
    if (bytes.empty ())
      return datagrams;
    BIO_read (out, bytes.data (), (int)bytes.size ());
    size_t at = 0;
    for (size_t length : record_lengths (bytes)) {
      datagrams.emplace_back (
          bytes.begin () + at, bytes.begin () + at + length);
      at += length;
    }
    fail_unless (at == bytes.size (), "the client wrote a partial record");
    return datagrams;
  }

  std::vector<Datagram> deliver (const Datagram &d)
  {
    BIO_write (in, d.data (), (int)d.size ());
    return step ();
  }

  std::vector<Datagram> retransmit ()
  {
    DTLSv1_handle_timeout (ssl);
    return take_output ();
  }

  /* client_key, server_key, client_salt, server_salt (RFC 5764 §4.2) */
  Datagram export_keys (size_t length)
  {
    static const char label[] = "EXTRACTOR-dtls_srtp";
    Datagram material (length);
    fail_unless (SSL_export_keying_material (ssl, material.data (), length,
                     label, sizeof (label) - 1, nullptr, 0, 0)
                 == 1);
    return material;
  }
};

/* A DtlsServer whose datagrams the test collects. */
struct TestServer {
  std::deque<Datagram> to_client;
  std::vector<Datagram> sent; /* everything, for the size checks */
  DtlsServer server;

  TestServer (std::shared_ptr<DtlsCertificate> certificate,
      const std::string &peer_fingerprint)
      : server (certificate, peer_fingerprint,
          [this] (const uint8_t *data, size_t length) {
            to_client.emplace_back (data, data + length);
            sent.emplace_back (data, data + length);
          })
  {}

  DtlsServer::State deliver (const Datagram &d)
  {
    return server.handle_datagram (d.data (), d.size ());
  }
};

std::shared_ptr<DtlsCertificate>
generate_certificate ()
{
  std::string error;
  auto certificate = DtlsCertificate::generate (error);
  fail_unless (certificate != nullptr, "generate: %s", error.c_str ());
  fail_unless (error.empty ());
  return certificate;
}

/* Carries datagrams both ways until neither side has anything to say;
 * @pending: what the client has already sent. */
void
pump (
    TestClient &client, TestServer &server, std::vector<Datagram> pending = {})
{
  std::deque<Datagram> to_server (pending.begin (), pending.end ());
  if (to_server.empty () && !client.done) {
    for (auto &d : client.step ())
      to_server.push_back (std::move (d));
  }
  for (int round = 0; round < 50; round++) {
    if (to_server.empty () && server.to_client.empty ())
      return;
    while (!to_server.empty ()) {
      server.deliver (to_server.front ());
      to_server.pop_front ();
    }
    while (!server.to_client.empty ()) {
      Datagram d = std::move (server.to_client.front ());
      server.to_client.pop_front ();
      for (auto &reply : client.deliver (d))
        to_server.push_back (std::move (reply));
    }
  }
  fail ("the handshake never settled");
}

void
check_datagrams (const TestServer &server)
{
  for (const Datagram &d : server.sent) {
    fail_unless (d.size () <= kMtu, "a datagram of %u bytes exceeds the MTU",
        (guint)d.size ());
    fail_if (record_lengths (d).empty (),
        "a datagram of %u bytes cuts a DTLS record", (guint)d.size ());
  }
}

void
check_keys (TestClient &client, DtlsServer &server, SrtpProfile expected)
{
  DtlsServer::SrtpKeys keys;
  fail_unless (server.srtp_keys (keys));
  fail_unless (keys.profile == expected);
  size_t key_length = 16;
  size_t salt_length = expected == SrtpProfile::AEAD_AES_128_GCM ? 12 : 14;
  fail_unless_equals_int (keys.our_key.size (), key_length);
  fail_unless_equals_int (keys.their_key.size (), key_length);
  fail_unless_equals_int (keys.our_salt.size (), salt_length);
  fail_unless_equals_int (keys.their_salt.size (), salt_length);

  const SRTP_PROTECTION_PROFILE *profile =
      SSL_get_selected_srtp_profile (client.ssl);
  fail_unless (profile != nullptr);
  fail_unless_equals_int (profile->id, expected == SrtpProfile::AEAD_AES_128_GCM
                                           ? SRTP_AEAD_AES_128_GCM
                                           : SRTP_AES128_CM_SHA1_80);

  Datagram material = client.export_keys (2 * (key_length + salt_length));
  auto part = [&] (size_t offset, size_t length) {
    return Datagram (
        material.begin () + offset, material.begin () + offset + length);
  };
  /* The client writes with what we read, and the other way round. */
  fail_unless (part (0, key_length) == keys.their_key);
  fail_unless (part (key_length, key_length) == keys.our_key);
  fail_unless (part (2 * key_length, salt_length) == keys.their_salt);
  fail_unless (
      part (2 * key_length + salt_length, salt_length) == keys.our_salt);
  fail_if (keys.our_key == keys.their_key);
}

} // namespace

/* The generated certificate is what browsers accept: P-256, self-signed,
 * SHA-256, valid from before now, and its fingerprint is its DER's. */
GST_START_TEST (test_generate)
{
  auto certificate = generate_certificate ();
  X509 *cert = SSL_CTX_get0_certificate (certificate->context ());
  fail_unless (cert != nullptr);
  std::string fingerprint = sha256_fingerprint (cert);
  fail_unless_equals_string (
      certificate->fingerprint ().c_str (), fingerprint.c_str ());
  fail_unless_equals_int (certificate->fingerprint ().size (), 32 * 3 - 1);
  for (char c : certificate->fingerprint ())
    fail_unless (c == ':' || g_ascii_isdigit (c) || (c >= 'A' && c <= 'F'));

  char common_name[64] = "";
  X509_NAME_get_text_by_NID (X509_get_subject_name (cert), NID_commonName,
      common_name, sizeof (common_name));
  fail_unless_equals_string (common_name, "gst-rooms");
  fail_unless (X509_check_issued (cert, cert) == X509_V_OK);
  fail_unless_equals_int (X509_get_signature_nid (cert), NID_ecdsa_with_SHA256);
  EVP_PKEY *key = X509_get0_pubkey (cert);
  fail_unless (EVP_PKEY_is_a (key, "EC"));
  char group[32] = "";
  EVP_PKEY_get_group_name (key, group, sizeof (group), nullptr);
  fail_unless_equals_string (group, "prime256v1");

  int days = 0, seconds = 0;
  fail_unless (
      ASN1_TIME_diff (&days, &seconds, nullptr, X509_get0_notBefore (cert)));
  fail_unless (days == -1 || (days == 0 && seconds < -23 * 3600));
  fail_unless (
      ASN1_TIME_diff (&days, &seconds, nullptr, X509_get0_notAfter (cert)));
  fail_unless (days >= 364 && days <= 365);

  /* Two processes never share a serial. */
  auto other = generate_certificate ();
  X509 *other_cert = SSL_CTX_get0_certificate (other->context ());
  fail_unless (ASN1_INTEGER_cmp (X509_get0_serialNumber (cert),
                   X509_get0_serialNumber (other_cert))
               != 0);
  fail_if (certificate->fingerprint () == other->fingerprint ());
}
GST_END_TEST;

/* The handshake against a browser-like client, for each offer: both sides
 * export the same keys, and the profile is GCM whenever it is offered. */
GST_START_TEST (test_handshake)
{
  struct Case {
    const char *offer;
    SrtpProfile expected;
  } cases[] = {
      {kBothProfiles, SrtpProfile::AEAD_AES_128_GCM},
      /* Our preference wins over the client's order. */
      {"SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
          SrtpProfile::AEAD_AES_128_GCM},
      {"SRTP_AES128_CM_SHA1_80", SrtpProfile::AES_CM_128_HMAC_SHA1_80},
      {"SRTP_AEAD_AES_128_GCM", SrtpProfile::AEAD_AES_128_GCM},
  };
  auto certificate = generate_certificate ();

  for (const Case &c : cases) {
    TestClient client (c.offer);
    /* The SDP's fingerprint may come in lower case. */
    gchar *lower = g_ascii_strdown (client.fingerprint ().c_str (), -1);
    TestServer server (certificate, lower);
    g_free (lower);

    DtlsServer::SrtpKeys keys;
    fail_if (server.server.srtp_keys (keys), "keys before the handshake");
    fail_unless (server.server.state () == DtlsServer::State::HANDSHAKING);

    pump (client, server);
    fail_unless (client.done, "client not done (offer %s)", c.offer);
    fail_unless (server.server.state () == DtlsServer::State::CONNECTED,
        "server not connected (offer %s): %s", c.offer,
        server.server.error ().c_str ());
    fail_unless (server.server.error ().empty ());
    check_keys (client, server.server, c.expected);
    check_datagrams (server);

    /* The client checks us the same way. */
    X509 *ours = SSL_get0_peer_certificate (client.ssl);
    fail_unless (ours != nullptr);
    std::string seen = sha256_fingerprint (ours);
    fail_unless_equals_string (
        seen.c_str (), certificate->fingerprint ().c_str ());
  }
}
GST_END_TEST;

/* CBC suites are not offered (OpenSSL 3.0 cannot drop forged CBC records):
 * a client with nothing else is refused, with a reason. */
GST_START_TEST (test_no_cbc)
{
  auto certificate = generate_certificate ();
  TestClient client (kBothProfiles);
  SSL_set_cipher_list (client.ssl, "ECDHE-ECDSA-AES128-SHA");
  TestServer server (certificate, client.fingerprint ());
  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::FAILED);
  fail_unless (
      server.server.error ().find ("no shared cipher") != std::string::npos,
      "error: %s", server.server.error ().c_str ());
  fail_if (client.done);
}
GST_END_TEST;

/* A client that offers no SRTP profile gets no keys. */
GST_START_TEST (test_no_srtp)
{
  auto certificate = generate_certificate ();
  TestClient client (nullptr);
  TestServer server (certificate, client.fingerprint ());
  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::FAILED);
  fail_unless (server.server.error ().find ("SRTP") != std::string::npos,
      "error: %s", server.server.error ().c_str ());
  DtlsServer::SrtpKeys keys;
  fail_if (server.server.srtp_keys (keys));
}
GST_END_TEST;

/* A client whose certificate is not the one its SDP announced is refused
 * and gets no keys. */
GST_START_TEST (test_fingerprint_mismatch)
{
  auto certificate = generate_certificate ();
  TestClient client (kBothProfiles);
  KeyAndCert someone_else ("someone else");
  TestServer server (certificate, sha256_fingerprint (someone_else.cert));

  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::FAILED);
  fail_unless (server.server.error ().find (
                   "the browser's certificate does not match its SDP "
                   "fingerprint")
                   != std::string::npos,
      "error: %s", server.server.error ().c_str ());
  DtlsServer::SrtpKeys keys;
  fail_if (server.server.srtp_keys (keys));
  fail_unless_equals_int (server.server.timeout_ms (), -1);

  /* A failed server stays failed, whatever comes. */
  Datagram d (40, 0x17);
  fail_unless (server.deliver (d) == DtlsServer::State::FAILED);
  fail_unless (server.server.handle_timeout () == DtlsServer::State::FAILED);
}
GST_END_TEST;

/* Garbage never crashes the server: it is dropped (and the same server can
 * still shake hands) or it fails the server with a reason. */
GST_START_TEST (test_garbage)
{
  auto certificate = generate_certificate ();
  GRand *rand = g_rand_new_with_seed (5764);

  Datagram client_hello;
  {
    TestClient client (kBothProfiles);
    auto hello = client.step ();
    fail_unless_equals_int (hello.size (), 1);
    client_hello = hello[0];
  }

  std::vector<Datagram> garbage;
  for (size_t length : {1, 5, 13, 14, 100, 600, 1200, 1500}) {
    Datagram d (length);
    for (auto &byte : d)
      byte = (uint8_t)g_rand_int_range (rand, 0, 256);
    garbage.push_back (d);
    /* The same behind a plausible handshake record header. */
    if (length > 13) {
      d[0] = 22;
      d[1] = 0xfe;
      d[2] = 0xfd;
      d[11] = (uint8_t)((length - 13) >> 8);
      d[12] = (uint8_t)(length - 13);
      garbage.push_back (d);
    }
  }
  /* A ClientHello cut short, and one whose record claims more than it has. */
  size_t hello_size = client_hello.size ();
  for (size_t length :
      {(size_t)1, (size_t)13, (size_t)20, hello_size / 2, hello_size - 1})
    garbage.emplace_back (
        client_hello.begin (), client_hello.begin () + length);
  Datagram longer = client_hello;
  longer[11] = 0xff;
  garbage.push_back (longer);
  Datagram body = client_hello;
  for (size_t i = 25; i < body.size (); i += 7)
    body[i] ^= 0x5a;
  garbage.push_back (body);

  int dropped = 0, failed = 0;
  for (const Datagram &d : garbage) {
    TestServer server (certificate, "00:11");
    DtlsServer::State state = server.deliver (d);
    state = server.deliver (d); /* twice: a retransmitted bad datagram */
    if (state == DtlsServer::State::FAILED) {
      fail_if (server.server.error ().empty ());
      failed++;
      continue;
    }
    fail_unless (state == DtlsServer::State::HANDSHAKING);
    dropped++;
    /* Dropped indeed: the real handshake still goes through. */
    TestClient client (kBothProfiles);
    TestServer same_certificate (certificate, client.fingerprint ());
    same_certificate.deliver (d);
    pump (client, same_certificate);
    fail_unless (
        same_certificate.server.state () == DtlsServer::State::CONNECTED,
        "after %u garbage bytes: %s", (guint)d.size (),
        same_certificate.server.error ().c_str ());
  }
  GST_INFO ("garbage: %d dropped, %d failed", dropped, failed);
  fail_unless (dropped > 0);

  /* After the handshake, garbage is dropped too: its records fail their
   * authentication. */
  TestClient client (kBothProfiles);
  TestServer server (certificate, client.fingerprint ());
  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED);
  for (const Datagram &d : garbage) {
    DtlsServer::State state = server.deliver (d);
    fail_unless (state == DtlsServer::State::CONNECTED
                 || (state == DtlsServer::State::FAILED
                     && !server.server.error ().empty ()));
  }
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED);

  /* Forged records of the current epoch, too short for a tag, with each
   * AEAD suite: dropped, and the association still closes cleanly. */
  for (const char *suite :
      {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    TestClient forged_client (kBothProfiles);
    SSL_set_cipher_list (forged_client.ssl, suite);
    TestServer forged (certificate, forged_client.fingerprint ());
    pump (forged_client, forged);
    fail_unless (forged.server.state () == DtlsServer::State::CONNECTED);
    for (uint8_t type : {21, 22, 23}) {
      for (size_t length = 0; length <= 40; length++) {
        Datagram d (13 + length, 0x41);
        d[0] = type;
        d[1] = 0xfe;
        d[2] = 0xfd;
        d[3] = 0;
        d[4] = 1; /* epoch 1 */
        d[10] = (uint8_t)(100 + length);
        d[11] = 0;
        d[12] = (uint8_t)length;
        fail_unless (forged.deliver (d) == DtlsServer::State::CONNECTED,
            "%s: a forged record (type %d, %u bytes) failed the server: %s",
            suite, type, (guint)length, forged.server.error ().c_str ());
      }
    }
    forged.to_client.clear ();
    SSL_shutdown (forged_client.ssl);
    for (const Datagram &d : forged_client.take_output ())
      forged.deliver (d);
    fail_unless (forged.server.state () == DtlsServer::State::CLOSED, "%s: %s",
        suite, forged.server.error ().c_str ());
  }

  /* A fresh server after all that still works. */
  TestClient fresh_client (kBothProfiles);
  TestServer fresh (certificate, fresh_client.fingerprint ());
  pump (fresh_client, fresh);
  fail_unless (fresh.server.state () == DtlsServer::State::CONNECTED);
  check_keys (fresh_client, fresh.server, SrtpProfile::AEAD_AES_128_GCM);

  g_rand_free (rand);
}
GST_END_TEST;

/* Our first flight is lost: after timeout_ms() the server sends it again
 * by itself, and the handshake completes. */
GST_START_TEST (test_retransmission)
{
  auto certificate = generate_certificate ();
  TestClient client (kBothProfiles);
  TestServer server (certificate, client.fingerprint ());
  fail_unless_equals_int (server.server.timeout_ms (), -1);

  auto hello = client.step ();
  for (const Datagram &d : hello)
    server.deliver (d);
  fail_if (server.to_client.empty ());
  size_t flight = server.to_client.size ();
  server.to_client.clear (); /* lost */

  int64_t wait = server.server.timeout_ms ();
  fail_unless (wait > 0 && wait <= 1000, "timeout_ms %" G_GINT64_FORMAT, wait);
  /* Too early: nothing is resent. */
  server.server.handle_timeout ();
  fail_unless (server.to_client.empty ());

  g_usleep ((wait + 20) * 1000);
  fail_unless_equals_int (server.server.timeout_ms (), 0);
  fail_unless (
      server.server.handle_timeout () == DtlsServer::State::HANDSHAKING);
  fail_unless_equals_int (server.to_client.size (), flight);
  /* The timer backs off. */
  fail_unless (server.server.timeout_ms () > wait);

  pump (client, server, {});
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED, "%s",
      server.server.error ().c_str ());
  check_keys (client, server.server, SrtpProfile::AEAD_AES_128_GCM);
  fail_unless_equals_int (server.server.timeout_ms (), -1);
}
GST_END_TEST;

/* The client's retransmitted ClientHello (our flight lost again) gets the
 * flight again too. */
GST_START_TEST (test_client_retransmission)
{
  auto certificate = generate_certificate ();
  TestClient client (kBothProfiles);
  TestServer server (certificate, client.fingerprint ());

  for (const Datagram &d : client.step ())
    server.deliver (d);
  server.to_client.clear (); /* lost */

  struct timeval left;
  fail_unless (DTLSv1_get_timeout (client.ssl, &left) == 1);
  g_usleep (left.tv_sec * G_USEC_PER_SEC + left.tv_usec + 20000);
  auto again = client.retransmit ();
  fail_if (again.empty ());
  pump (client, server, again);
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED, "%s",
      server.server.error ().c_str ());
  check_keys (client, server.server, SrtpProfile::AEAD_AES_128_GCM);
}
GST_END_TEST;

/* A certificate far larger than a datagram: every datagram still fits the
 * 1200-byte MTU and holds whole records. */
GST_START_TEST (test_mtu)
{
  KeyAndCert large ("gst-rooms", 120);
  fail_unless (i2d_X509 (large.cert, nullptr) > 3 * (int)kMtu);
  std::string error;
  auto certificate = DtlsCertificate::from_pem (large.pem (), error);
  fail_unless (certificate != nullptr, "%s", error.c_str ());

  TestClient client (kBothProfiles);
  TestServer server (certificate, client.fingerprint ());
  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED, "%s",
      server.server.error ().c_str ());
  check_keys (client, server.server, SrtpProfile::AEAD_AES_128_GCM);

  check_datagrams (server);
  size_t total = 0;
  for (const Datagram &d : server.sent)
    total += d.size ();
  fail_unless (server.sent.size () >= 4, "%u datagrams for %u bytes",
      (guint)server.sent.size (), (guint)total);
  /* Whole records are packed together rather than one per datagram. */
  size_t records = 0;
  for (const Datagram &d : server.sent)
    records += record_lengths (d).size ();
  fail_unless (records > server.sent.size ());

  /* The client saw the large certificate whole. */
  X509 *ours = SSL_get0_peer_certificate (client.ssl);
  fail_unless (ours != nullptr);
  std::string seen = sha256_fingerprint (ours);
  fail_unless_equals_string (
      seen.c_str (), certificate->fingerprint ().c_str ());
}
GST_END_TEST;

/* The browser hangs up with close_notify: CLOSED.  Our close() sends one
 * close_notify, once. */
GST_START_TEST (test_close)
{
  auto certificate = generate_certificate ();

  {
    TestClient client (kBothProfiles);
    TestServer server (certificate, client.fingerprint ());
    pump (client, server);
    fail_unless (server.server.state () == DtlsServer::State::CONNECTED);
    server.to_client.clear ();

    SSL_shutdown (client.ssl);
    auto goodbye = client.take_output ();
    fail_unless_equals_int (goodbye.size (), 1);
    fail_unless (server.deliver (goodbye[0]) == DtlsServer::State::CLOSED);
    fail_unless (
        server.server.error ().find ("close_notify") != std::string::npos);
    fail_unless_equals_int (server.server.timeout_ms (), -1);
    /* Keys remain for late packets. */
    DtlsServer::SrtpKeys keys;
    fail_unless (server.server.srtp_keys (keys));

    /* Our answer, once. */
    server.server.close ();
    fail_unless_equals_int (server.to_client.size (), 1);
    server.server.close ();
    fail_unless_equals_int (server.to_client.size (), 1);
    fail_unless (server.server.state () == DtlsServer::State::CLOSED);
  }

  {
    TestClient client (kBothProfiles);
    TestServer server (certificate, client.fingerprint ());
    pump (client, server);
    fail_unless (server.server.state () == DtlsServer::State::CONNECTED);
    server.to_client.clear ();

    server.server.close ();
    fail_unless (server.server.state () == DtlsServer::State::CLOSED);
    fail_unless_equals_int (server.to_client.size (), 1);
    const Datagram &alert = server.to_client.front ();
    fail_unless_equals_int (record_lengths (alert).size (), 1);
    fail_unless_equals_int (alert[0], 21); /* an alert record */
    client.deliver (alert);
    fail_unless (client.closed_by_peer, "the client saw no close_notify");

    server.server.close ();
    fail_unless_equals_int (server.to_client.size (), 1);
    Datagram late (30, 0x17);
    fail_unless (server.deliver (late) == DtlsServer::State::CLOSED);
    fail_unless_equals_int (server.to_client.size (), 1);
  }

  {
    /* Closed while handshaking: nothing to send, no timer left. */
    TestClient client (kBothProfiles);
    TestServer server (certificate, client.fingerprint ());
    for (const Datagram &d : client.step ())
      server.deliver (d);
    server.to_client.clear ();
    server.server.close ();
    fail_unless (server.server.state () == DtlsServer::State::CLOSED);
    fail_unless (server.to_client.empty ());
    fail_unless_equals_int (server.server.timeout_ms (), -1);
  }
}
GST_END_TEST;

/* A key and certificate written as PEM load back with the same
 * fingerprint, in either order; broken PEM is refused with a reason. */
GST_START_TEST (test_from_pem)
{
  KeyAndCert made ("gst-rooms");
  std::string expected = sha256_fingerprint (made.cert);

  for (bool certificate_first : {false, true}) {
    std::string error;
    auto certificate =
        DtlsCertificate::from_pem (made.pem (certificate_first), error);
    fail_unless (certificate != nullptr, "%s", error.c_str ());
    fail_unless_equals_string (
        certificate->fingerprint ().c_str (), expected.c_str ());
    fail_unless (certificate->context () != nullptr);
  }

  /* The loaded certificate serves a handshake. */
  std::string error;
  auto certificate = DtlsCertificate::from_pem (made.pem (), error);
  TestClient client ("SRTP_AES128_CM_SHA1_80");
  TestServer server (certificate, client.fingerprint ());
  pump (client, server);
  fail_unless (server.server.state () == DtlsServer::State::CONNECTED, "%s",
      server.server.error ().c_str ());
  check_keys (client, server.server, SrtpProfile::AES_CM_128_HMAC_SHA1_80);

  KeyAndCert other ("other");
  std::string key_only = made.pem ();
  key_only.resize (key_only.find ("-----BEGIN CERTIFICATE-----"));
  std::string cert_only = made.pem (true);
  cert_only.resize (cert_only.find ("-----BEGIN PRIVATE KEY-----"));
  std::string mixed = key_only + other.pem (true);

  struct Bad {
    std::string pem;
    const char *reason;
  } bad[] = {
      {"", "private key"},
      {"not a PEM at all", "private key"},
      {cert_only, "private key"},
      {key_only, "certificate"},
      {mixed, "does not belong"},
  };
  for (const Bad &b : bad) {
    error.clear ();
    fail_unless (DtlsCertificate::from_pem (b.pem, error) == nullptr);
    fail_unless (error.find (b.reason) != std::string::npos,
        "expected \"%s\" in: %s", b.reason, error.c_str ());
  }
}
GST_END_TEST;

static Suite *
dtlstransport_suite (void)
{
  Suite *s = suite_create ("dtlstransport");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_generate);
  tcase_add_test (tc, test_handshake);
  tcase_add_test (tc, test_no_cbc);
  tcase_add_test (tc, test_no_srtp);
  tcase_add_test (tc, test_fingerprint_mismatch);
  tcase_add_test (tc, test_garbage);
  tcase_add_test (tc, test_retransmission);
  tcase_add_test (tc, test_client_retransmission);
  tcase_add_test (tc, test_mtu);
  tcase_add_test (tc, test_close);
  tcase_add_test (tc, test_from_pem);
  return s;
}

ROOM_CHECK_MAIN (dtlstransport);
