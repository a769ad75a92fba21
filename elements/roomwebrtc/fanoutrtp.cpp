/* roomwebrtc: RTP reading and the shared packet history (see fanoutrtp.h). */
#include "fanoutrtp.h"

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
