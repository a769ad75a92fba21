/* roomwebrtc: the DTLS server of DTLS-SRTP (RFC 5764) on OpenSSL 3.
 *
 * OpenSSL 3.0 (Debian 12) has no datagram memory BIO: BIO_s_mem() is a byte
 * stream, so the records OpenSSL writes for a flight come out glued together.
 * We cut them apart again by their record headers (RFC 6347 §4.1) and pack
 * whole records into datagrams of at most kLinkMtu bytes; OpenSSL already
 * keeps every record within that MTU.  On the way in, one datagram at a time
 * goes into the read BIO, so no record spans two datagrams.
 *
 * A DtlsServer is not thread-safe: its owner calls it from one thread at a
 * time.  Servers on several threads may share one DtlsCertificate (OpenSSL
 * makes SSL_new() on a shared SSL_CTX safe). */
#include "dtlstransport.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdio>

namespace roomwebrtc {

namespace {

/* ICE candidates carry at least 1200 bytes without IP fragmentation on any
 * path a browser uses (the same figure as QUIC's minimum). */
constexpr long kLinkMtu = 1200;
constexpr size_t kRecordHeaderLength = 13; /* type, version, epoch+seq, len */

/* DTLS-SRTP master key and salt lengths (RFC 5764 §4.1.2, RFC 7714 §12),
 * kept here so that this file does not depend on srtptransform.cpp. */
constexpr size_t kCmKeyLength = 16, kCmSaltLength = 14;
constexpr size_t kGcmKeyLength = 16, kGcmSaltLength = 12;

const char kSrtpProfiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
/* Forward secret AEAD suites only, which every browser offers; the RSA ones
 * serve a PEM with an RSA key.  No CBC suite: OpenSSL 3.0 ends a CBC
 * association on any forged record instead of dropping it. */
const char kCipherList[] = "ECDHE-ECDSA-AES128-GCM-SHA256:"
                           "ECDHE-ECDSA-AES256-GCM-SHA384:"
                           "ECDHE-ECDSA-CHACHA20-POLY1305:"
                           "ECDHE-RSA-AES128-GCM-SHA256:"
                           "ECDHE-RSA-AES256-GCM-SHA384:"
                           "ECDHE-RSA-CHACHA20-POLY1305";

/* Everything on this thread's OpenSSL error queue, oldest first, which
 * empties it for the next call. */
std::string
take_openssl_errors (const char *fallback)
{
  std::string text;
  unsigned long code;
  while ((code = ERR_get_error ()) != 0) {
    char buffer[256];
    ERR_error_string_n (code, buffer, sizeof (buffer));
    if (!text.empty ())
      text += "; ";
    text += buffer;
  }
  return text.empty () ? fallback : text;
}

std::string
with_openssl_errors (const std::string &what)
{
  std::string detail = take_openssl_errors ("");
  return detail.empty () ? what : what + ": " + detail;
}

std::string
format_fingerprint (const unsigned char *digest, unsigned int length)
{
  std::string text;
  for (unsigned int i = 0; i < length; i++) {
    char hex[4];
    snprintf (hex, sizeof (hex), i ? ":%02X" : "%02X", digest[i]);
    text += hex;
  }
  return text;
}

bool
sha256_fingerprint (X509 *cert, std::string &fingerprint)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!X509_digest (cert, EVP_sha256 (), digest, &length))
    return false;
  fingerprint = format_fingerprint (digest, length);
  return true;
}

std::string
upper_case (std::string text)
{
  for (char &c : text)
    c = (char)toupper ((unsigned char)c);
  return text;
}

/* The shortest record @cipher can protect: the tag, and GCM's explicit
 * nonce (RFC 5288 §3, RFC 7905 §2). */
size_t
shortest_protected_record (const SSL_CIPHER *cipher)
{
  return SSL_CIPHER_get_cipher_nid (cipher) == NID_chacha20_poly1305 ? 16 : 24;
}

/* @datagram without the protected records (epoch 1 and later) too short to
 * hold their tag.  OpenSSL 3.0 fails the association on such a record
 * rather than dropping it as DTLS must (RFC 6347 §4.1.2.7), so a forged
 * 14-byte datagram would end a viewer's call. */
std::vector<uint8_t>
without_short_records (
    const uint8_t *datagram, size_t length, const SSL_CIPHER *cipher)
{
  std::vector<uint8_t> kept;
  size_t shortest = shortest_protected_record (cipher);
  size_t at = 0;
  while (at < length) {
    size_t left = length - at;
    size_t body = left >= kRecordHeaderLength
                      ? ((size_t)datagram[at + 11] << 8) | datagram[at + 12]
                      : left;
    /* A cut record is OpenSSL's to drop. */
    size_t record =
        left >= kRecordHeaderLength && body <= left - kRecordHeaderLength
            ? kRecordHeaderLength + body
            : left;
    bool protected_record = record > kRecordHeaderLength
                            && (datagram[at + 3] != 0 || datagram[at + 4] != 0);
    if (!(protected_record && body < shortest))
      kept.insert (kept.end (), datagram + at, datagram + at + record);
    at += record;
  }
  return kept;
}

/* Browsers present self-signed certificates: the chain proves nothing, the
 * fingerprint from the signalled SDP does (checked after the handshake). */
int
accept_any_chain (int, X509_STORE_CTX *)
{
  return 1;
}

/* An encrypted key is refused rather than asking for a password on the
 * terminal, which OpenSSL's default callback would do. */
int
no_password (char *, int, int, void *)
{
  return 0;
}

} // namespace

/* ---- DtlsCertificate ---- */

struct DtlsCertificate::Private {
  EVP_PKEY *key = nullptr;
  X509 *cert = nullptr;
  SSL_CTX *context = nullptr;
  std::string fingerprint;

  ~Private ()
  {
    SSL_CTX_free (context);
    X509_free (cert);
    EVP_PKEY_free (key);
  }

  /* Fingerprint and context from key and cert; false with @error set. */
  bool finish (std::string &error);
};

bool
DtlsCertificate::Private::finish (std::string &error)
{
  if (!sha256_fingerprint (cert, fingerprint)) {
    error = with_openssl_errors ("cannot hash the certificate");
    return false;
  }

  context = SSL_CTX_new (DTLS_method ());
  if (!context) {
    error = with_openssl_errors ("cannot create a DTLS context");
    return false;
  }
  /* SSL_CTX_set_tlsext_use_srtp() returns 0 on success. */
  if (!SSL_CTX_set_min_proto_version (context, DTLS1_2_VERSION)
      || SSL_CTX_use_certificate (context, cert) != 1
      || SSL_CTX_use_PrivateKey (context, key) != 1
      || SSL_CTX_check_private_key (context) != 1
      || SSL_CTX_set_tlsext_use_srtp (context, kSrtpProfiles) != 0
      || SSL_CTX_set_cipher_list (context, kCipherList) != 1) {
    error = with_openssl_errors ("cannot set up the DTLS context");
    return false;
  }
  SSL_CTX_set_verify (context,
      SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_chain);
  /* Browsers never resume a DTLS-SRTP session: no tickets, no cache. */
  SSL_CTX_set_options (context, SSL_OP_NO_TICKET);
  /* Ours is the order above (AES-128-GCM first), not the browser's. */
  SSL_CTX_set_options (context, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode (context, SSL_SESS_CACHE_OFF);
  return true;
}

DtlsCertificate::DtlsCertificate () : priv_ (new Private) {}

DtlsCertificate::~DtlsCertificate () = default;

std::shared_ptr<DtlsCertificate>
DtlsCertificate::generate (std::string &error)
{
  ERR_clear_error ();
  std::shared_ptr<DtlsCertificate> self (new DtlsCertificate);
  Private &p = *self->priv_;

  p.key = EVP_PKEY_Q_keygen (nullptr, nullptr, "EC", "P-256");
  if (!p.key) {
    error = with_openssl_errors ("cannot generate an ECDSA P-256 key");
    return nullptr;
  }

  p.cert = X509_new ();
  if (!p.cert) {
    error = with_openssl_errors ("cannot create a certificate");
    return nullptr;
  }
  /* A random positive 63-bit serial: browsers reject repeated serials from
   * one issuer name, and every process signs as "gst-rooms". */
  unsigned char serial_bytes[8];
  BIGNUM *serial = nullptr;
  bool ok = RAND_bytes (serial_bytes, sizeof (serial_bytes)) == 1;
  serial_bytes[0] &= 0x7f;
  ok = ok && (serial = BN_bin2bn (serial_bytes, sizeof (serial_bytes), nullptr))
       && BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (p.cert));
  BN_free (serial);

  X509_NAME *name = X509_get_subject_name (p.cert);
  /* Valid from yesterday: the viewer's clock may be behind ours. */
  ok = ok && X509_set_version (p.cert, X509_VERSION_3)
       && X509_gmtime_adj (X509_getm_notBefore (p.cert), -24L * 3600)
       && X509_gmtime_adj (X509_getm_notAfter (p.cert), 365L * 24 * 3600)
       && X509_set_pubkey (p.cert, p.key)
       && X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8,
           (const unsigned char *)"gst-rooms", -1, -1, 0)
       && X509_set_issuer_name (p.cert, name)
       && X509_sign (p.cert, p.key, EVP_sha256 ()) > 0;
  if (!ok) {
    error = with_openssl_errors ("cannot make a self-signed certificate");
    return nullptr;
  }
  if (!p.finish (error))
    return nullptr;
  return self;
}

std::shared_ptr<DtlsCertificate>
DtlsCertificate::from_pem (const std::string &pem, std::string &error)
{
  ERR_clear_error ();
  std::shared_ptr<DtlsCertificate> self (new DtlsCertificate);
  Private &p = *self->priv_;

  /* Each read scans the text from its start for its own block, so the key
   * and the certificate may come in either order. */
  BIO *bio = BIO_new_mem_buf (pem.data (), (int)pem.size ());
  if (bio)
    p.key = PEM_read_bio_PrivateKey (bio, nullptr, no_password, nullptr);
  BIO_free (bio);
  if (!p.key) {
    error = with_openssl_errors (
        "no readable private key in the PEM text (an encrypted key is not "
        "supported)");
    return nullptr;
  }

  bio = BIO_new_mem_buf (pem.data (), (int)pem.size ());
  if (bio)
    p.cert = PEM_read_bio_X509 (bio, nullptr, no_password, nullptr);
  BIO_free (bio);
  if (!p.cert) {
    error = with_openssl_errors ("no readable certificate in the PEM text");
    return nullptr;
  }

  if (X509_check_private_key (p.cert, p.key) != 1) {
    error = with_openssl_errors (
        "the private key in the PEM text does not belong to its certificate");
    return nullptr;
  }
  if (!p.finish (error))
    return nullptr;
  return self;
}

const std::string &
DtlsCertificate::fingerprint () const
{
  return priv_->fingerprint;
}

SSL_CTX *
DtlsCertificate::context () const
{
  return priv_->context;
}

/* ---- DtlsServer ---- */

struct DtlsServer::Private {
  std::shared_ptr<DtlsCertificate> certificate; /* owns the SSL_CTX */
  std::string peer_fingerprint;                 /* upper case */
  SendFunc send;

  SSL *ssl = nullptr;
  BIO *incoming = nullptr; /* owned by ssl */
  BIO *outgoing = nullptr; /* owned by ssl */

  State state = State::HANDSHAKING;
  std::string error;
  bool closed_by_us = false; /* close() ran: never twice */
  SrtpKeys keys;

  void fail (std::string why);
  void flush ();
  void send_datagram (const uint8_t *data, size_t length);
  void continue_handshake ();
  bool finish_handshake ();
  void read_records ();
};

void
DtlsServer::Private::fail (std::string why)
{
  state = State::FAILED;
  error = std::move (why);
}

void
DtlsServer::Private::send_datagram (const uint8_t *data, size_t length)
{
  if (send && length > 0)
    send (data, length);
}

/* Sends what OpenSSL wrote since the last flush, whole records packed into
 * datagrams of at most kLinkMtu bytes. */
void
DtlsServer::Private::flush ()
{
  size_t pending = BIO_ctrl_pending (outgoing);
  if (pending == 0)
    return;
  std::vector<uint8_t> bytes (pending);
  int got = BIO_read (outgoing, bytes.data (), (int)pending);
  if (got <= 0)
    return;
  bytes.resize ((size_t)got);

  size_t start = 0, end = 0;
  while (end < bytes.size ()) {
    size_t record = kRecordHeaderLength;
    if (bytes.size () - end >= kRecordHeaderLength)
      record += ((size_t)bytes[end + 11] << 8) | bytes[end + 12];
    /* OpenSSL writes whole records; should that ever change, what is left
     * goes out as it is rather than being lost. */
    if (record > bytes.size () - end)
      record = bytes.size () - end;
    if (end > start && end - start + record > (size_t)kLinkMtu) {
      send_datagram (bytes.data () + start, end - start);
      start = end;
    }
    end += record;
  }
  send_datagram (bytes.data () + start, end - start);
}

/* After the handshake: the peer must be who its SDP said, and the SRTP keys
 * come from the master secret. */
bool
DtlsServer::Private::finish_handshake ()
{
  X509 *peer = SSL_get0_peer_certificate (ssl);
  std::string fingerprint;
  if (!peer) {
    fail ("the browser sent no DTLS certificate");
    return false;
  }
  if (!sha256_fingerprint (peer, fingerprint)) {
    fail (with_openssl_errors ("cannot hash the browser's certificate"));
    return false;
  }
  if (fingerprint != peer_fingerprint) {
    fail ("the browser's certificate does not match its SDP fingerprint "
          "(certificate "
          + fingerprint + ", SDP " + peer_fingerprint + ")");
    return false;
  }

  const SRTP_PROTECTION_PROFILE *profile = SSL_get_selected_srtp_profile (ssl);
  size_t key_length, salt_length;
  if (profile && profile->id == SRTP_AEAD_AES_128_GCM) {
    keys.profile = SrtpProfile::AEAD_AES_128_GCM;
    key_length = kGcmKeyLength;
    salt_length = kGcmSaltLength;
  } else if (profile && profile->id == SRTP_AES128_CM_SHA1_80) {
    keys.profile = SrtpProfile::AES_CM_128_HMAC_SHA1_80;
    key_length = kCmKeyLength;
    salt_length = kCmSaltLength;
  } else {
    fail ("the browser agreed on no SRTP profile we support (use_srtp)");
    return false;
  }

  /* RFC 5764 §4.2: client key, server key, client salt, server salt. */
  static const char label[] = "EXTRACTOR-dtls_srtp";
  std::vector<uint8_t> material (2 * (key_length + salt_length));
  if (SSL_export_keying_material (ssl, material.data (), material.size (),
          label, sizeof (label) - 1, nullptr, 0, 0)
      != 1) {
    fail (with_openssl_errors ("cannot export the SRTP keys"));
    return false;
  }
  const uint8_t *client_key = material.data ();
  const uint8_t *server_key = client_key + key_length;
  const uint8_t *client_salt = server_key + key_length;
  const uint8_t *server_salt = client_salt + salt_length;
  /* We are the server: we protect with the server's half. */
  keys.our_key.assign (server_key, server_key + key_length);
  keys.our_salt.assign (server_salt, server_salt + salt_length);
  keys.their_key.assign (client_key, client_key + key_length);
  keys.their_salt.assign (client_salt, client_salt + salt_length);
  state = State::CONNECTED;
  return true;
}

void
DtlsServer::Private::continue_handshake ()
{
  ERR_clear_error ();
  int result = SSL_do_handshake (ssl);
  if (result == 1) {
    if (!finish_handshake ())
      return;
    /* Records that came behind the client's Finished (an alert, data). */
    read_records ();
    return;
  }
  int reason = SSL_get_error (ssl, result);
  if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE)
    return;
  fail (with_openssl_errors ("DTLS handshake failed"));
}

/* After the handshake nothing but alerts and retransmitted handshake
 * messages matter (media goes over SRTP, not DTLS): read and drop. */
void
DtlsServer::Private::read_records ()
{
  uint8_t discard[2048];
  for (;;) {
    ERR_clear_error ();
    int result = SSL_read (ssl, discard, sizeof (discard));
    if (result > 0)
      continue;
    int reason = SSL_get_error (ssl, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE)
      return;
    if (reason == SSL_ERROR_ZERO_RETURN) {
      state = State::CLOSED;
      error = "the browser closed the DTLS association (close_notify)";
    } else {
      fail (with_openssl_errors ("DTLS association failed"));
    }
    return;
  }
}

DtlsServer::DtlsServer (std::shared_ptr<DtlsCertificate> certificate,
    std::string peer_fingerprint, SendFunc send)
    : priv_ (new Private)
{
  Private &p = *priv_;
  p.certificate = std::move (certificate);
  p.peer_fingerprint = upper_case (std::move (peer_fingerprint));
  p.send = std::move (send);

  ERR_clear_error ();
  SSL_CTX *context = p.certificate ? p.certificate->context () : nullptr;
  if (!context) {
    p.fail ("no DTLS certificate");
    return;
  }
  p.ssl = SSL_new (context);
  p.incoming = BIO_new (BIO_s_mem ());
  p.outgoing = BIO_new (BIO_s_mem ());
  if (!p.ssl || !p.incoming || !p.outgoing) {
    BIO_free (p.incoming);
    BIO_free (p.outgoing);
    p.incoming = p.outgoing = nullptr;
    p.fail (with_openssl_errors ("cannot create the DTLS connection"));
    return;
  }
  /* An empty read BIO means "wait for the next datagram", not EOF. */
  BIO_set_mem_eof_return (p.incoming, -1);
  SSL_set_bio (p.ssl, p.incoming, p.outgoing);
  SSL_set_accept_state (p.ssl);
  /* A memory BIO has no path MTU to ask for. */
  SSL_set_options (p.ssl, SSL_OP_NO_QUERY_MTU);
  if (!DTLS_set_link_mtu (p.ssl, kLinkMtu))
    p.fail (with_openssl_errors ("cannot set the DTLS MTU"));
}

DtlsServer::~DtlsServer ()
{
  /* Frees both BIOs with it. */
  SSL_free (priv_->ssl);
}

DtlsServer::State
DtlsServer::handle_datagram (const uint8_t *data, size_t length)
{
  Private &p = *priv_;
  if (p.state == State::FAILED || p.state == State::CLOSED || !data
      || length == 0)
    return p.state;

  std::vector<uint8_t> filtered;
  if (const SSL_CIPHER *cipher = SSL_get_current_cipher (p.ssl)) {
    filtered = without_short_records (data, length, cipher);
    if (filtered.empty ())
      return p.state;
    data = filtered.data ();
    length = filtered.size ();
  }

  /* Whatever a broken record left behind must not be glued to this
   * datagram. */
  (void)BIO_reset (p.incoming);
  if (BIO_write (p.incoming, data, (int)length) != (int)length) {
    p.fail (with_openssl_errors ("cannot queue a DTLS datagram"));
    return p.state;
  }
  if (p.state == State::HANDSHAKING)
    p.continue_handshake ();
  else
    p.read_records ();
  /* Our flight, a retransmission the peer asked for, or an alert. */
  p.flush ();
  return p.state;
}

int64_t
DtlsServer::timeout_ms () const
{
  const Private &p = *priv_;
  if (p.state != State::HANDSHAKING && p.state != State::CONNECTED)
    return -1;
  struct timeval left;
  if (DTLSv1_get_timeout (p.ssl, &left) != 1)
    return -1;
  /* Rounded up, so that handle_timeout() is never called early. */
  return (int64_t)left.tv_sec * 1000 + (left.tv_usec + 999) / 1000;
}

DtlsServer::State
DtlsServer::handle_timeout ()
{
  Private &p = *priv_;
  if (p.state != State::HANDSHAKING && p.state != State::CONNECTED)
    return p.state;
  ERR_clear_error ();
  if (DTLSv1_handle_timeout (p.ssl) < 0)
    p.fail (with_openssl_errors ("the browser stopped answering the DTLS "
                                 "handshake"));
  p.flush ();
  return p.state;
}

void
DtlsServer::close ()
{
  Private &p = *priv_;
  if (p.state == State::FAILED || p.closed_by_us)
    return;
  p.closed_by_us = true;
  p.state = State::CLOSED;
  /* OpenSSL sends no close_notify before the handshake is done; the
   * browser then gives up by its own timer. */
  if (SSL_is_init_finished (p.ssl)) {
    ERR_clear_error ();
    SSL_shutdown (p.ssl);
    ERR_clear_error ();
    p.flush ();
  }
}

DtlsServer::State
DtlsServer::state () const
{
  return priv_->state;
}

const std::string &
DtlsServer::error () const
{
  return priv_->error;
}

bool
DtlsServer::srtp_keys (SrtpKeys &keys) const
{
  /* Keys stay valid once the association closes: late SRTCP may still
   * need them. */
  if (priv_->keys.our_key.empty ())
    return false;
  keys = priv_->keys;
  return true;
}

} // namespace roomwebrtc
