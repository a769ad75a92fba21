/* gst-rooms tests and benchmarks: a WebRTC viewer made of the same parts as
 * a browser's receiving side — libnice (controlling, full ICE), an OpenSSL
 * DTLS client, SRTP — and nothing else: it counts and checks what
 * webrtcfanoutsink sends instead of decoding it.  Light enough that one
 * process holds a thousand (scripts/bench/fanout-load). */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace viewerclient {

/* The client side's certificate (ECDSA P-256, self-signed), one per
 * process like a browser's. */
class Certificate;
std::shared_ptr<Certificate> certificate_new ();

struct Counters {
  std::atomic<guint64> video_packets{0}, audio_packets{0}, bytes{0};
  std::atomic<guint64> unprotect_errors{0};
  /* video sequence numbers missing when a later one came (counted once) */
  std::atomic<guint64> video_gaps{0};
  /* gaps that a later packet (a retransmission) filled */
  std::atomic<guint64> gaps_filled{0};
  /* the highest video sequence number, extended: it starts at 0x10000 +
   * the first one, so >= 0x20000 means the 16-bit numbers wrapped */
  std::atomic<guint32> video_highest{0};
  std::atomic<bool> ice_connected{false}, dtls_connected{false};
  std::atomic<bool> failed{false};
  /* -1 unknown, 0 no, 1 yes: the first video packet starts a keyframe */
  std::atomic<int> first_video_keyframe{-1};
  /* video payload type and SSRC seen */
  std::atomic<guint> video_pt{0}, audio_pt{0};
  std::atomic<gint64> first_packet_us{0}; /* g_get_monotonic_time */
  /* the quality ladder's promise: one stream whatever the rendition */
  std::atomic<guint64> ssrc_changes{0};     /* video SSRC not the first */
  std::atomic<guint64> picture_id_jumps{0}; /* a new frame not id + 1 */
  std::atomic<guint64> timestamps_back{0};  /* a new frame earlier */
  /* packets with a sequence number already received (a probe's
   * duplicates), dropped before SRTP as a browser's replay check does */
  std::atomic<guint64> duplicates{0};
  std::atomic<guint32> video_width{0}; /* of the last VP8 keyframe */
};

class Viewer {
public:
  /* Callbacks run on @context, which the caller iterates (a thread). */
  Viewer (GMainContext *context, std::shared_ptr<Certificate> certificate,
      bool gcm = true);
  ~Viewer ();
  Viewer (const Viewer &) = delete;
  Viewer &operator= (const Viewer &) = delete;

  /* A Chromium-like recvonly offer: audio (opus 111) then video (VP8 96),
   * BUNDLE, rtcp-mux, nack and pli, our host candidates on 127.0.0.1.
   * Any thread. */
  std::string offer ();
  /* Starts ICE towards the answer's candidates; false if the answer lacks
   * credentials or candidates. */
  bool set_answer (const std::string &answer);

  /* RTCP to the sink; queued to the viewer's context. */
  void send_nack (guint16 sequence);
  void send_pli ();
  /* A receiver report on the video saying @fraction_lost (of 256). */
  void send_receiver_report (guint8 fraction_lost);
  /* Each video sequence number missing at its successor is asked for at
   * once with a NACK. */
  void set_auto_nack (bool on) { auto_nack_ = on; }
  /* Decrypts one RTP packet in @n (the others are counted from their
   * clear headers): a load generator's thousand viewers stay light.
   * Default 1: every packet. */
  void set_decrypt_every (guint n) { decrypt_every_ = MAX (n, 1u); }
  /* Sends @count datagrams of random bytes over the viewer's ICE pair, each
   * starting like STUN, DTLS, RTP or RTCP in turn (hostile input). */
  void send_garbage (guint count);
  /* Stops answering ICE (a browser that vanished): the socket closes. */
  void vanish ();

  const Counters &counters () const { return counters_; }
  /* What DTLS-SRTP negotiated, "" before. */
  std::string profile () const;

  struct Private;

private:
  std::unique_ptr<Private> priv_;
  Counters counters_;
  std::atomic<bool> auto_nack_{false};
  std::atomic<guint> decrypt_every_{1};
};

} // namespace viewerclient
