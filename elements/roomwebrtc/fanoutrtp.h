/* roomwebrtc: what webrtcfanoutsink reads in the program's RTP packets, and
 * the one history of them that answers every viewer's NACKs. */
#pragma once

#include <gst/gst.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace roomwebrtc {

enum class VideoCodec { NONE, VP8, H264 };

/* Offset of the payload in an RTP packet (after CSRCs and the header
 * extension), or 0 when @packet is not an RTP packet. */
size_t rtp_payload_offset (const uint8_t *packet, size_t length);
inline guint16
rtp_sequence (const uint8_t *packet)
{
  return (guint16)((packet[2] << 8) | packet[3]);
}
inline guint32
rtp_timestamp (const uint8_t *packet)
{
  return ((guint32)packet[4] << 24) | ((guint32)packet[5] << 16)
         | ((guint32)packet[6] << 8) | packet[7];
}
inline guint32
rtp_ssrc (const uint8_t *packet)
{
  return ((guint32)packet[8] << 24) | ((guint32)packet[9] << 16)
         | ((guint32)packet[10] << 8) | packet[11];
}

/* True when @packet is the first packet of a keyframe (VP8: the start of
 * partition 0 of a key frame; H.264: an SPS, or the first slice of an IDR
 * picture, alone, in a STAP-A or starting an FU-A). */
bool rtp_starts_keyframe (
    VideoCodec codec, const uint8_t *packet, size_t length);

/* What a viewer's RTCP says and asks, read from one decrypted compound
 * packet. */
struct RtcpFeedback {
  /* sequence numbers asked for again by generic NACKs (at most 256) */
  std::array<guint16, 256> nacks{};
  size_t nack_count = 0;
  guint keyframe_requests = 0; /* PLI and FIR */
  bool have_report = false;    /* the last report block's figures: */
  guint8 fraction_lost = 0;    /* of 256 */
  gint32 packets_lost = 0;
  guint32 jitter = 0, last_sr = 0, delay_since_last_sr = 0;
  /* every report block, by the source it reports on (the first 8) */
  struct Block {
    guint32 ssrc = 0;
    guint8 fraction_lost = 0;
    gint32 packets_lost = 0; /* cumulative */
    guint32 highest = 0;     /* extended highest sequence number */
    guint32 last_sr = 0, delay_since_last_sr = 0;
  };
  std::array<Block, 8> blocks{};
  size_t block_count = 0;
};

/* Reads a compound RTCP packet (SR, RR, generic NACK, PLI, FIR; other
 * packets skipped) into @feedback.  False when it does not even start as
 * RTCP; a malformed tail is ignored. */
bool rtcp_read_feedback (
    const uint8_t *data, size_t length, RtcpFeedback &feedback);

/* A sender report for one stream, then SDES with @cname, into @out (at
 * least 64 bytes); returns its length. */
size_t rtcp_write_sender_report (uint8_t *out, guint32 ssrc, guint64 ntp,
    guint32 rtp_timestamp, guint32 packets, guint32 octets, const char *cname);

/* The NTP timestamp (RFC 3550 §4) of the wall clock now. */
guint64 ntp_now ();

/* The last 1024 video packets of the program, by sequence number (about
 * five seconds at 2 Mbit/s): NACKs from every viewer are answered from here,
 * never from a copy per viewer.  Written by the streaming thread, read by
 * the workers. */
class PacketHistory {
public:
  PacketHistory () = default;
  ~PacketHistory () { clear (); }
  PacketHistory (const PacketHistory &) = delete;
  PacketHistory &operator= (const PacketHistory &) = delete;

  /* Keeps a reference to @packet (an RTP packet in one memory). */
  void add (GstBuffer *packet, guint16 sequence);
  /* A reference to the packet with @sequence, or null when it is older than
   * the history or never came. */
  GstBuffer *lookup (guint16 sequence) const;
  void clear ();

  static constexpr size_t SIZE = 1024;

private:
  mutable std::mutex lock_;
  std::array<GstBuffer *, SIZE> packets_{}; /* lock_ */
  std::array<guint16, SIZE> sequences_{};   /* lock_ */
};

} // namespace roomwebrtc
