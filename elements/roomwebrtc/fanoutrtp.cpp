/* roomwebrtc: RTP reading and the shared packet history (see fanoutrtp.h). */
#include "fanoutrtp.h"

#include <cstring>

namespace roomwebrtc {

size_t
rtp_payload_offset (const uint8_t *packet, size_t length)
{
  if (length < 12 || (packet[0] >> 6) != 2)
    return 0;
  size_t offset = 12 + 4 * (packet[0] & 0x0f);
  if (packet[0] & 0x10) {
    if (length < offset + 4)
      return 0;
    size_t words = (packet[offset + 2] << 8) | packet[offset + 3];
    offset += 4 + 4 * words;
  }
  size_t padding = (packet[0] & 0x20) && length > 0 ? packet[length - 1] : 0;
  if (offset + padding >= length)
    return 0;
  return offset;
}

static bool
vp8_starts_keyframe (const uint8_t *payload, size_t size)
{
  /* RFC 7741 §4.2: the payload descriptor, then the VP8 frame header */
  if (size < 1)
    return false;
  bool start = payload[0] & 0x10;
  guint partition = payload[0] & 0x07;
  if (!start || partition != 0)
    return false;
  size_t offset = 1;
  if (payload[0] & 0x80) {
    if (size < 2)
      return false;
    guint8 extension = payload[1];
    offset = 2;
    if (extension & 0x80) { /* I: picture id, 7 or 15 bits */
      if (size <= offset)
        return false;
      offset += (payload[offset] & 0x80) ? 2 : 1;
    }
    if (extension & 0x40) /* L: TL0PICIDX */
      offset += 1;
    if (extension & 0x30) /* T or K: TID/KEYIDX */
      offset += 1;
  }
  if (size <= offset)
    return false;
  /* the frame tag's first bit is 0 for a key frame */
  return (payload[offset] & 0x01) == 0;
}

static bool
h264_starts_keyframe (const uint8_t *payload, size_t size)
{
  if (size < 1)
    return false;
  guint type = payload[0] & 0x1f;
  if (type == 5 || type == 7)
    return true;
  if (type == 24) { /* STAP-A: 16-bit sizes, then NAL units */
    size_t offset = 1;
    while (offset + 3 <= size) {
      size_t unit = (payload[offset] << 8) | payload[offset + 1];
      guint unit_type = payload[offset + 2] & 0x1f;
      if (unit_type == 5 || unit_type == 7)
        return true;
      offset += 2 + unit;
    }
    return false;
  }
  if (type == 28 && size >= 2) /* FU-A: the start of an IDR slice */
    return (payload[1] & 0x80) && (payload[1] & 0x1f) == 5;
  return false;
}

bool
rtp_starts_keyframe (VideoCodec codec, const uint8_t *packet, size_t length)
{
  size_t offset = rtp_payload_offset (packet, length);
  if (offset == 0)
    return false;
  size_t padding = (packet[0] & 0x20) ? packet[length - 1] : 0;
  const uint8_t *payload = packet + offset;
  size_t size = length - offset - padding;
  switch (codec) {
    case VideoCodec::VP8:
      return vp8_starts_keyframe (payload, size);
    case VideoCodec::H264:
      return h264_starts_keyframe (payload, size);
    case VideoCodec::NONE:
      break;
  }
  return false;
}

static guint32
read32 (const uint8_t *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8)
         | p[3];
}

static void
write32 (uint8_t *p, guint32 v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

bool
rtcp_read_feedback (const uint8_t *data, size_t length, RtcpFeedback &feedback)
{
  if (length < 8 || (data[0] >> 6) != 2 || data[1] < 192 || data[1] > 223)
    return false;
  size_t offset = 0;
  while (offset + 8 <= length) {
    const uint8_t *p = data + offset;
    if ((p[0] >> 6) != 2)
      break;
    size_t size = 4 * ((((size_t)p[2] << 8) | p[3]) + 1);
    if (offset + size > length)
      break;
    guint count = p[0] & 0x1f;
    guint type = p[1];
    if (type == 200 || type == 201) { /* SR, RR: their report blocks */
      size_t block = type == 200 ? 28 : 8;
      for (guint i = 0; i < count && block + 24 <= size; i++, block += 24) {
        const uint8_t *b = p + block;
        feedback.have_report = true;
        feedback.fraction_lost = b[4];
        gint32 lost = (gint32)((b[5] << 16) | (b[6] << 8) | b[7]);
        if (lost & 0x800000)
          lost -= 0x1000000;
        feedback.packets_lost = lost;
        feedback.jitter = read32 (b + 12);
        feedback.last_sr = read32 (b + 16);
        feedback.delay_since_last_sr = read32 (b + 20);
        if (feedback.block_count < feedback.blocks.size ()) {
          RtcpFeedback::Block &out = feedback.blocks[feedback.block_count++];
          out.ssrc = read32 (b);
          out.fraction_lost = b[4];
          out.packets_lost = lost;
          out.highest = read32 (b + 8);
          out.last_sr = feedback.last_sr;
          out.delay_since_last_sr = feedback.delay_since_last_sr;
        }
      }
    } else if (type == 205 && count == 1) { /* generic NACK: PID, BLP */
      for (size_t fci = 12; fci + 4 <= size; fci += 4) {
        guint16 pid = (guint16)((p[fci] << 8) | p[fci + 1]);
        guint16 blp = (guint16)((p[fci + 2] << 8) | p[fci + 3]);
        for (guint bit = 0; bit <= 16; bit++) {
          if (bit > 0 && !(blp & (1u << (bit - 1))))
            continue;
          if (feedback.nack_count < feedback.nacks.size ())
            feedback.nacks[feedback.nack_count++] = (guint16)(pid + bit);
        }
      }
    } else if (type == 206 && (count == 1 || count == 4)) { /* PLI, FIR */
      feedback.keyframe_requests++;
    }
    offset += size;
  }
  return true;
}

size_t
rtcp_write_sender_report (uint8_t *out, guint32 ssrc, guint64 ntp,
    guint32 rtp_timestamp, guint32 packets, guint32 octets, const char *cname)
{
  /* SR without report blocks: 28 bytes */
  out[0] = 0x80;
  out[1] = 200;
  out[2] = 0;
  out[3] = 6;
  write32 (out + 4, ssrc);
  write32 (out + 8, (guint32)(ntp >> 32));
  write32 (out + 12, (guint32)ntp);
  write32 (out + 16, rtp_timestamp);
  write32 (out + 20, packets);
  write32 (out + 24, octets);
  /* SDES with one chunk: CNAME, then a null item, padded to 32 bits */
  size_t name = MIN (strlen (cname), (size_t)24);
  uint8_t *s = out + 28;
  size_t chunk = 4 + 2 + name + 1;
  chunk = (chunk + 3) & ~(size_t)3;
  memset (s, 0, 4 + chunk);
  s[0] = 0x81;
  s[1] = 202;
  s[3] = (uint8_t)(chunk / 4);
  write32 (s + 4, ssrc);
  s[8] = 1; /* CNAME */
  s[9] = (uint8_t)name;
  memcpy (s + 10, cname, name);
  return 28 + 4 + chunk;
}

guint64
ntp_now ()
{
  gint64 us = g_get_real_time ();
  guint64 seconds = (guint64)(us / G_USEC_PER_SEC) + 2208988800ull;
  guint64 fraction = ((guint64)(us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;
  return (seconds << 32) | fraction;
}

void
PacketHistory::add (GstBuffer *packet, guint16 sequence)
{
  GstBuffer *old;
  {
    std::lock_guard<std::mutex> guard (lock_);
    size_t slot = sequence % SIZE;
    old = packets_[slot];
    packets_[slot] = gst_buffer_ref (packet);
    sequences_[slot] = sequence;
  }
  if (old)
    gst_buffer_unref (old);
}

GstBuffer *
PacketHistory::lookup (guint16 sequence) const
{
  std::lock_guard<std::mutex> guard (lock_);
  size_t slot = sequence % SIZE;
  if (!packets_[slot] || sequences_[slot] != sequence)
    return nullptr;
  return gst_buffer_ref (packets_[slot]);
}

void
PacketHistory::clear ()
{
  std::array<GstBuffer *, SIZE> old;
  {
    std::lock_guard<std::mutex> guard (lock_);
    old = packets_;
    packets_.fill (nullptr);
  }
  for (GstBuffer *b : old)
    if (b)
      gst_buffer_unref (b);
}

} // namespace roomwebrtc
