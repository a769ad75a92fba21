/* gst-rooms tests and benchmarks: a light WebRTC viewer (see viewerclient.h). */
#include "viewerclient.h"

#include <nice/agent.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <sstream>
#include <vector>

#include "srtptransform.h"

namespace viewerclient {

using roomwebrtc::SrtpProfile;
using roomwebrtc::SrtpTransform;

/* "AB:CD:…", the SHA-256 of @x509's DER, as SDP writes fingerprints. */
static std::string
sha256_fingerprint (X509 *x509)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest (x509, EVP_sha256 (), md, &n);
  std::string fingerprint;
  for (unsigned int i = 0; i < n; i++) {
    char hex[4];
    g_snprintf (hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
    fingerprint += hex;
  }
  return fingerprint;
}

class Certificate {
public:
  Certificate ()
  {
    key = EVP_PKEY_Q_keygen (nullptr, nullptr, "EC", "P-256");
    x509 = X509_new ();
    X509_set_version (x509, 2);
    ASN1_INTEGER_set (X509_get_serialNumber (x509), (long)g_random_int ());
    X509_gmtime_adj (X509_getm_notBefore (x509), -3600);
    X509_gmtime_adj (X509_getm_notAfter (x509), 3600L * 24 * 30);
    X509_NAME *name = X509_get_subject_name (x509);
    X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
        (const unsigned char *)"viewerclient", -1, -1, 0);
    X509_set_issuer_name (x509, name);
    X509_set_pubkey (x509, key);
    X509_sign (x509, key, EVP_sha256 ());
    fingerprint = sha256_fingerprint (x509);
    for (int gcm = 0; gcm < 2; gcm++) {
      SSL_CTX *ctx = SSL_CTX_new (DTLS_client_method ());
      SSL_CTX_use_certificate (ctx, x509);
      SSL_CTX_use_PrivateKey (ctx, key);
      SSL_CTX_set_verify (
          ctx, SSL_VERIFY_PEER, [] (int, X509_STORE_CTX *) { return 1; });
      SSL_CTX_set_tlsext_use_srtp (ctx, gcm ? "SRTP_AEAD_AES_128_GCM:"
                                              "SRTP_AES128_CM_SHA1_80"
                                            : "SRTP_AES128_CM_SHA1_80");
      contexts[gcm] = ctx;
    }
  }
  ~Certificate ()
  {
    for (SSL_CTX *ctx : contexts)
      SSL_CTX_free (ctx);
    X509_free (x509);
    EVP_PKEY_free (key);
  }
  EVP_PKEY *key = nullptr;
  X509 *x509 = nullptr;
  std::string fingerprint;
  SSL_CTX *contexts[2] = {nullptr, nullptr};
};

std::shared_ptr<Certificate>
certificate_new ()
{
  return std::make_shared<Certificate> ();
}

constexpr guint VIDEO_PT = 96;
constexpr guint AUDIO_PT = 111;
constexpr guint32 OUR_SSRC = 0x5eed0001;

struct Viewer::Private {
  Viewer *owner = nullptr;
  GMainContext *context = nullptr;
  std::shared_ptr<Certificate> certificate;
  bool gcm = true;
  NiceAgent *agent = nullptr;
  guint stream = 0;
  SSL *ssl = nullptr;
  BIO *in = nullptr, *out = nullptr;
  GSource *timer = nullptr;
  SrtpTransform receive, send;
  bool srtp = false;
  std::string server_fingerprint;
  mutable std::mutex lock;
  std::string profile; /* lock */
  guint32 video_ssrc = 0;
  bool have_video = false;
  guint32 highest = 0; /* extended highest video sequence number */
  guint64 received = 0;
  std::set<guint32> missing;
  guint32 first_ssrc = 0, last_timestamp = 0;
  gint last_picture_id = -1;
  guint32 reported_highest = 0;
  gint32 reported_lost = 0;

  void flush ()
  {
    std::array<char, 2048> datagram;
    while (BIO_ctrl_pending (out) > 0) {
      int n = BIO_read (out, datagram.data (), (int)datagram.size ());
      if (n <= 0)
        break;
      nice_agent_send (agent, stream, 1, (guint)n, datagram.data ());
    }
  }

  void arm_timer ()
  {
    if (timer) {
      g_source_destroy (timer);
      g_source_unref (timer);
      timer = nullptr;
    }
    struct timeval tv;
    if (!ssl || SSL_is_init_finished (ssl) || !DTLSv1_get_timeout (ssl, &tv))
      return;
    timer =
        g_timeout_source_new ((guint)(tv.tv_sec * 1000 + tv.tv_usec / 1000));
    g_source_set_callback (
        timer,
        [] (gpointer data) -> gboolean {
          auto *p = static_cast<Private *> (data);
          g_source_unref (p->timer);
          p->timer = nullptr;
          DTLSv1_handle_timeout (p->ssl);
          p->flush ();
          p->arm_timer ();
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach (timer, context);
  }

  void start_dtls ()
  {
    if (ssl)
      return;
    ssl = SSL_new (certificate->contexts[gcm ? 1 : 0]);
    in = BIO_new (BIO_s_mem ());
    out = BIO_new (BIO_s_mem ());
    BIO_set_mem_eof_return (in, -1);
    SSL_set_bio (ssl, in, out);
    SSL_set_options (ssl, SSL_OP_NO_QUERY_MTU);
    DTLS_set_link_mtu (ssl, 1200);
    SSL_set_connect_state (ssl);
    handshake ();
  }

  void handshake ()
  {
    if (!SSL_is_init_finished (ssl)) {
      int r = SSL_do_handshake (ssl);
      flush ();
      if (r == 1)
        on_connected ();
      else if (SSL_get_error (ssl, r) != SSL_ERROR_WANT_READ)
        owner->counters_.failed = true;
      arm_timer ();
      return;
    }
    std::array<char, 2048> data;
    while (SSL_read (ssl, data.data (), (int)data.size ()) > 0)
      ;
    flush ();
  }

  void on_connected ()
  {
    X509 *peer = SSL_get1_peer_certificate (ssl);
    std::string fingerprint;
    if (peer) {
      fingerprint = sha256_fingerprint (peer);
      X509_free (peer);
    }
    if (g_ascii_strcasecmp (
            fingerprint.c_str (), server_fingerprint.c_str ())) {
      owner->counters_.failed = true;
      return;
    }
    SRTP_PROTECTION_PROFILE *selected = SSL_get_selected_srtp_profile (ssl);
    if (!selected) {
      owner->counters_.failed = true;
      return;
    }
    bool is_gcm = selected->id == SRTP_AEAD_AES_128_GCM;
    SrtpProfile p = is_gcm ? SrtpProfile::AEAD_AES_128_GCM
                           : SrtpProfile::AES_CM_128_HMAC_SHA1_80;
    size_t key = 16, salt = is_gcm ? 12 : 14;
    std::vector<uint8_t> material (2 * (key + salt));
    static const char label[] = "EXTRACTOR-dtls_srtp";
    SSL_export_keying_material (ssl, material.data (), material.size (), label,
        sizeof label - 1, nullptr, 0, 0);
    const uint8_t *client_key = material.data (),
                  *server_key = client_key + key;
    const uint8_t *client_salt = server_key + key,
                  *server_salt = client_salt + salt;
    send.init (p, client_key, key, client_salt, salt);
    receive.init (p, server_key, key, server_salt, salt);
    srtp = true;
    {
      std::lock_guard<std::mutex> guard (lock);
      profile = is_gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80";
    }
    owner->counters_.dtls_connected = true;
  }

  void send_rtcp (std::array<uint8_t, 64> &packet, size_t length)
  {
    if (!srtp)
      return;
    if (send.protect_rtcp (packet.data (), &length, packet.size ()))
      nice_agent_send (
          agent, stream, 1, (guint)length, (gchar *)packet.data ());
  }

  void nack (guint16 sequence)
  {
    std::array<uint8_t, 64> p{};
    p[0] = 0x81;
    p[1] = 205;
    p[3] = 3;
    for (int i = 0; i < 4; i++) {
      p[4 + i] = (uint8_t)(OUR_SSRC >> (24 - 8 * i));
      p[8 + i] = (uint8_t)(video_ssrc >> (24 - 8 * i));
    }
    p[12] = (uint8_t)(sequence >> 8);
    p[13] = (uint8_t)sequence;
    send_rtcp (p, 16);
  }

  void pli ()
  {
    std::array<uint8_t, 64> p{};
    p[0] = 0x81;
    p[1] = 206;
    p[3] = 2;
    for (int i = 0; i < 4; i++) {
      p[4 + i] = (uint8_t)(OUR_SSRC >> (24 - 8 * i));
      p[8 + i] = (uint8_t)(video_ssrc >> (24 - 8 * i));
    }
    send_rtcp (p, 12);
  }

  void receiver_report (guint8 fraction_lost)
  {
    std::array<uint8_t, 64> p{};
    p[0] = 0x81;
    p[1] = 201;
    p[3] = 7;
    for (int i = 0; i < 4; i++) {
      p[4 + i] = (uint8_t)(OUR_SSRC >> (24 - 8 * i));
      p[8 + i] = (uint8_t)(video_ssrc >> (24 - 8 * i));
    }
    /* the cumulative loss follows what the fraction says of the packets
     * since the last report, as a receiver's would */
    if (reported_highest)
      reported_lost +=
          (gint32)((highest - reported_highest) * fraction_lost / 256);
    reported_highest = highest;
    p[12] = fraction_lost;
    p[13] = (uint8_t)(reported_lost >> 16);
    p[14] = (uint8_t)(reported_lost >> 8);
    p[15] = (uint8_t)reported_lost;
    p[16] = (uint8_t)(highest >> 24);
    p[17] = (uint8_t)(highest >> 16);
    p[18] = (uint8_t)(highest >> 8);
    p[19] = (uint8_t)highest;
    send_rtcp (p, 32);
  }

  void on_rtp (uint8_t *data, size_t length);
  void on_ice_state (guint state)
  {
    if (state == NICE_COMPONENT_STATE_READY) {
      owner->counters_.ice_connected = true;
      start_dtls ();
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
      owner->counters_.failed = true;
    }
  }
};

void
Viewer::Private::on_rtp (uint8_t *data, size_t length)
{
  Counters &c = owner->counters_;
  if (length >= 12 && (data[1] & 0x7f) == VIDEO_PT && have_video) {
    /* the header is clear: a number already received is a duplicate */
    guint16 sequence = (guint16)((data[2] << 8) | data[3]);
    guint32 extended = highest + (gint16)(sequence - (guint16)highest);
    if (extended <= highest && !missing.count (extended)) {
      c.duplicates++;
      return;
    }
  }
  guint every = owner->decrypt_every_.load ();
  bool decrypt = every <= 1 || (++received % every) == 0;
  if (!srtp || (decrypt && !receive.unprotect_rtp (data, &length))) {
    c.unprotect_errors++;
    return;
  }
  guint pt = data[1] & 0x7f;
  guint16 sequence = (guint16)((data[2] << 8) | data[3]);
  c.bytes += length;
  gint64 zero = 0;
  c.first_packet_us.compare_exchange_strong (zero, g_get_monotonic_time ());
  if (pt != VIDEO_PT) {
    c.audio_packets++;
    c.audio_pt = pt;
    return;
  }
  c.video_packets++;
  c.video_pt = pt;
  video_ssrc = ((guint32)data[8] << 24) | ((guint32)data[9] << 16)
               | ((guint32)data[10] << 8) | data[11];
  if (!first_ssrc)
    first_ssrc = video_ssrc;
  else if (video_ssrc != first_ssrc)
    c.ssrc_changes++;
  if (decrypt) {
    /* RFC 7741 descriptor: a new frame (new timestamp) has the next
     * picture id and a later time */
    size_t at = 12 + 4 * (data[0] & 0x0f);
    guint32 timestamp = ((guint32)data[4] << 24) | ((guint32)data[5] << 16)
                        | ((guint32)data[6] << 8) | data[7];
    if (!(data[0] & 0x10) && at + 4 <= length && (data[at] & 0x80)
        && (data[at + 1] & 0x80)) {
      gint id = (data[at + 2] & 0x80)
                    ? ((data[at + 2] & 0x7f) << 8) | data[at + 3]
                    : data[at + 2] & 0x7f;
      gint mask = (data[at + 2] & 0x80) ? 0x7fff : 0x7f;
      if (last_picture_id >= 0 && timestamp != last_timestamp) {
        if (id != ((last_picture_id + 1) & mask))
          c.picture_id_jumps++;
        if ((gint32)(timestamp - last_timestamp) < 0)
          c.timestamps_back++;
      }
      last_picture_id = id;
      last_timestamp = timestamp;
      /* a keyframe's first packet: S bit, then the frame tag and the
       * 3-byte start code, then the width */
      size_t skip = 2 + ((data[at + 2] & 0x80) ? 2 : 1)
                    + ((data[at + 1] & 0x40) ? 1 : 0)
                    + ((data[at + 1] & 0x30) ? 1 : 0);
      const uint8_t *f = data + at + skip;
      if ((data[at] & 0x10) && at + skip + 10 <= length && !(f[0] & 0x01)
          && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a)
        c.video_width = (f[6] | (f[7] << 8)) & 0x3fff;
    }
  }
  if (c.first_video_keyframe.load () < 0) {
    /* RFC 7741: S bit, partition 0, then the key frame bit of the frame */
    size_t offset = 12 + 4 * (data[0] & 0x0f);
    if (data[0] & 0x10)
      offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3]);
    const uint8_t *d = data + offset;
    size_t skip = 1;
    if (d[0] & 0x80) {
      skip = 2;
      if (d[1] & 0x80)
        skip += (d[skip] & 0x80) ? 2 : 1;
      if (d[1] & 0x40)
        skip += 1;
      if (d[1] & 0x30)
        skip += 1;
    }
    bool key = (d[0] & 0x10) && (d[0] & 0x07) == 0 && (d[skip] & 0x01) == 0;
    c.first_video_keyframe = key ? 1 : 0;
  }
  /* extend the sequence number around the highest one seen */
  guint32 extended;
  if (!have_video) {
    have_video = true;
    highest = extended = 0x10000 + sequence;
  } else {
    gint16 delta = (gint16)(sequence - (guint16)highest);
    extended = highest + delta;
  }
  if (extended > highest) {
    for (guint32 s = highest + 1; s < extended && missing.size () < 1000; s++) {
      missing.insert (s);
      c.video_gaps++;
      if (owner->auto_nack_)
        nack ((guint16)s);
    }
    highest = extended;
    c.video_highest = highest;
  } else if (missing.erase (extended)) {
    c.gaps_filled++;
  }
}

static void
on_receive (NiceAgent *, guint, guint, guint len, gchar *buf, gpointer data)
{
  auto *p = static_cast<Viewer::Private *> (data);
  auto *bytes = reinterpret_cast<uint8_t *> (buf);
  if (len == 0 || len > 2048)
    return;
  if (bytes[0] >= 20 && bytes[0] <= 63) {
    if (!p->ssl)
      return;
    BIO_write (p->in, bytes, (int)len);
    p->handshake ();
  } else if (bytes[0] >= 128 && bytes[0] <= 191 && len >= 12
             && !(bytes[1] >= 192 && bytes[1] <= 223)) {
    std::array<uint8_t, 2048> copy;
    memcpy (copy.data (), bytes, len);
    p->on_rtp (copy.data (), len);
  }
}

static void
on_state (NiceAgent *, guint, guint, guint state, gpointer data)
{
  static_cast<Viewer::Private *> (data)->on_ice_state (state);
}

Viewer::Viewer (
    GMainContext *context, std::shared_ptr<Certificate> certificate, bool gcm)
    : priv_ (new Private ())
{
  priv_->owner = this;
  priv_->context = g_main_context_ref (context);
  priv_->certificate = std::move (certificate);
  priv_->gcm = gcm;
}

Viewer::~Viewer ()
{
  /* Torn down on the viewer's own context, and waited for: none of its
   * callbacks may be running, or run later, once this object is gone. */
  Private *p = priv_.get ();
  struct Teardown {
    Private *p;
    std::mutex lock;
    std::condition_variable done_cond;
    bool done = false;
  } teardown{p};
  g_main_context_invoke (
      p->context,
      [] (gpointer data) -> gboolean {
        auto *t = static_cast<Teardown *> (data);
        Private *p = t->p;
        if (p->timer) {
          g_source_destroy (p->timer);
          g_source_unref (p->timer);
          p->timer = nullptr;
        }
        if (p->agent) {
          /* the stream's sockets close here, whoever still holds the
           * agent: no datagram can reach a callback after this */
          if (p->stream) {
            nice_agent_attach_recv (
                p->agent, p->stream, 1, p->context, nullptr, nullptr);
            nice_agent_remove_stream (p->agent, p->stream);
          }
          g_signal_handlers_disconnect_by_data (p->agent, p);
          g_object_unref (p->agent);
          p->agent = nullptr;
        }
        std::lock_guard<std::mutex> guard (t->lock);
        t->done = true;
        t->done_cond.notify_one ();
        return G_SOURCE_REMOVE;
      },
      &teardown);
  {
    std::unique_lock<std::mutex> guard (teardown.lock);
    teardown.done_cond.wait (guard, [&] { return teardown.done; });
  }
  if (p->ssl)
    SSL_free (p->ssl);
  g_main_context_unref (p->context);
}

std::string
Viewer::offer ()
{
  Private *p = priv_.get ();
  p->agent = nice_agent_new_full (
      p->context, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
  g_object_set (p->agent, "controlling-mode", TRUE, "upnp", FALSE, "ice-tcp",
      FALSE, nullptr);
  NiceAddress address;
  nice_address_init (&address);
  nice_address_set_from_string (&address, "127.0.0.1");
  nice_agent_add_local_address (p->agent, &address);
  p->stream = nice_agent_add_stream (p->agent, 1);
  g_signal_connect (
      p->agent, "component-state-changed", G_CALLBACK (on_state), p);
  nice_agent_attach_recv (p->agent, p->stream, 1, p->context, on_receive, p);
  nice_agent_gather_candidates (p->agent, p->stream);
  gchar *ufrag = nullptr, *pwd = nullptr;
  nice_agent_get_local_credentials (p->agent, p->stream, &ufrag, &pwd);
  std::string candidates;
  GSList *locals = nice_agent_get_local_candidates (p->agent, p->stream, 1);
  for (GSList *l = locals; l; l = l->next) {
    gchar *line = nice_agent_generate_local_candidate_sdp (
        p->agent, static_cast<NiceCandidate *> (l->data));
    candidates += std::string (line) + "\r\n";
    g_free (line);
  }
  g_slist_free_full (locals, (GDestroyNotify)nice_candidate_free);

  std::ostringstream sdp;
  sdp << "v=0\r\no=- " << g_random_int () << " 2 IN IP4 127.0.0.1\r\ns=-\r\n"
      << "t=0 0\r\na=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n";
  struct Media {
    const char *kind, *mid;
    guint pt;
    const char *rtpmap;
  } media[] = {{"audio", "0", AUDIO_PT, "opus/48000/2"},
      {"video", "1", VIDEO_PT, "VP8/90000"}};
  for (const Media &m : media) {
    sdp << "m=" << m.kind << " 9 UDP/TLS/RTP/SAVPF " << m.pt << "\r\n"
        << "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
        << "a=ice-ufrag:" << ufrag << "\r\na=ice-pwd:" << pwd << "\r\n"
        << "a=fingerprint:sha-256 " << p->certificate->fingerprint << "\r\n"
        << "a=setup:actpass\r\na=mid:" << m.mid << "\r\na=recvonly\r\n"
        << "a=rtcp-mux\r\na=rtpmap:" << m.pt << " " << m.rtpmap << "\r\n";
    if (g_str_equal (m.kind, "video"))
      sdp << "a=rtcp-fb:" << m.pt << " nack\r\na=rtcp-fb:" << m.pt
          << " nack pli\r\na=rtcp-fb:" << m.pt << " ccm fir\r\n";
    else
      sdp << "a=fmtp:" << m.pt << " minptime=10;useinbandfec=1\r\n";
    sdp << candidates;
  }
  g_free (ufrag);
  g_free (pwd);
  return sdp.str ();
}

bool
Viewer::set_answer (const std::string &answer)
{
  Private *p = priv_.get ();
  std::string ufrag, pwd;
  std::vector<std::string> candidates;
  std::istringstream lines (answer);
  std::string line;
  while (std::getline (lines, line)) {
    if (!line.empty () && line.back () == '\r')
      line.pop_back ();
    if (line.rfind ("a=ice-ufrag:", 0) == 0)
      ufrag = line.substr (12);
    else if (line.rfind ("a=ice-pwd:", 0) == 0)
      pwd = line.substr (10);
    else if (line.rfind ("a=fingerprint:sha-256 ", 0) == 0)
      p->server_fingerprint = line.substr (22);
    else if (line.rfind ("a=candidate:", 0) == 0)
      candidates.push_back (line);
  }
  if (ufrag.empty () || pwd.empty () || candidates.empty ())
    return false;
  nice_agent_set_remote_credentials (
      p->agent, p->stream, ufrag.c_str (), pwd.c_str ());
  GSList *list = nullptr;
  for (const std::string &c : candidates) {
    NiceCandidate *cand =
        nice_agent_parse_remote_candidate_sdp (p->agent, p->stream, c.c_str ());
    if (cand)
      list = g_slist_append (list, cand);
  }
  gint added = nice_agent_set_remote_candidates (p->agent, p->stream, 1, list);
  g_slist_free_full (list, (GDestroyNotify)nice_candidate_free);
  return added > 0;
}

static void
invoke (GMainContext *context, std::function<void ()> fn)
{
  g_main_context_invoke_full (
      context, G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      },
      new std::function<void ()> (std::move (fn)),
      [] (gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
}

void
Viewer::send_nack (guint16 sequence)
{
  Private *p = priv_.get ();
  invoke (p->context, [p, sequence] { p->nack (sequence); });
}

void
Viewer::send_pli ()
{
  Private *p = priv_.get ();
  invoke (p->context, [p] { p->pli (); });
}

void
Viewer::send_receiver_report (guint8 fraction_lost)
{
  Private *p = priv_.get ();
  invoke (
      p->context, [p, fraction_lost] { p->receiver_report (fraction_lost); });
}

void
Viewer::send_garbage (guint count)
{
  Private *p = priv_.get ();
  invoke (p->context, [p, count] {
    static const uint8_t starts[][2] = {{0x00, 0x01}, {0x01, 0x01}, {22, 0xfe},
        {23, 0xfe}, {0x80, 96}, {0x81, 200}, {0x81, 205}, {0x81, 206}};
    std::array<uint8_t, 300> datagram;
    for (guint i = 0; i < count && p->stream; i++) {
      for (uint8_t &b : datagram)
        b = (uint8_t)g_random_int ();
      const uint8_t *start = starts[i % G_N_ELEMENTS (starts)];
      datagram[0] = start[0];
      datagram[1] = start[1];
      guint length = 8 + g_random_int_range (0, (gint)datagram.size () - 8);
      nice_agent_send (
          p->agent, p->stream, 1, length, (gchar *)datagram.data ());
    }
  });
}

void
Viewer::vanish ()
{
  Private *p = priv_.get ();
  invoke (p->context, [p] {
    if (p->agent && p->stream) {
      nice_agent_attach_recv (
          p->agent, p->stream, 1, p->context, nullptr, nullptr);
      nice_agent_remove_stream (p->agent, p->stream);
      p->stream = 0;
    }
  });
}

std::string
Viewer::profile () const
{
  std::lock_guard<std::mutex> guard (priv_->lock);
  return priv_->profile;
}

} // namespace viewerclient
