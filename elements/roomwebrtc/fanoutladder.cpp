/* roomwebrtc: the quality ladder of a webrtcfanoutsink viewer (see
 * fanoutladder.h). */
#include "fanoutladder.h"

#include <algorithm>
#include <cmath>

namespace roomwebrtc {

bool
vp8_read_ids (const uint8_t *packet, size_t length, Vp8Ids &ids)
{
  /* RFC 7741 §4.2: X|R|N|S|R|PID, then I|L|T|K|RSV, then the picture id
   * (M|7 bits, or M|15 bits), then TL0PICIDX */
  ids = Vp8Ids ();
  size_t offset = rtp_payload_offset (packet, length);
  if (!offset || offset >= length)
    return false;
  const uint8_t *p = packet + offset;
  size_t n = length - offset;
  if (!(p[0] & 0x80))
    return true;
  if (n < 2)
    return false;
  uint8_t flags = p[1];
  size_t i = 2;
  if (flags & 0x80) {
    if (n <= i)
      return false;
    ids.picture_id_offset = offset + i;
    if (p[i] & 0x80) {
      if (n < i + 2)
        return false;
      ids.picture_id = ((p[i] & 0x7f) << 8) | p[i + 1];
      ids.picture_id_bits = 15;
      i += 2;
    } else {
      ids.picture_id = p[i] & 0x7f;
      ids.picture_id_bits = 7;
      i += 1;
    }
  }
  if (flags & 0x40) {
    if (n <= i)
      return false;
    ids.tl0 = p[i];
    ids.tl0_offset = offset + i;
  }
  return true;
}

static void
put16 (uint8_t *p, guint16 v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void
put32 (uint8_t *p, guint32 v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void
VideoRewriter::switch_to (
    gint rendition, const uint8_t *packet, size_t length, gint64 now_us)
{
  Segment next;
  next.rendition = rendition;
  guint16 sequence = rtp_sequence (packet);
  if (!started_) {
    /* the first rendition keeps its own numbers */
    next.first = sequence;
  } else {
    next.first = (guint16)(last_sequence_ + 1);
    next.sequence = (guint16)(next.first - sequence);
    /* RTP time goes on as the wall clock did since the last packet: the
     * renditions' clocks have nothing in common */
    gint64 ticks = (now_us - last_time_) * 90000 / G_USEC_PER_SEC;
    ticks = CLAMP (ticks, 1, (gint64)G_MAXINT32);
    next.timestamp =
        (guint32)(last_timestamp_ + (guint32)ticks - rtp_timestamp (packet));
    Vp8Ids ids;
    if (codec_ == VideoCodec::VP8 && vp8_read_ids (packet, length, ids)) {
      if (ids.picture_id >= 0 && last_picture_id_ >= 0) {
        guint mask = (1u << ids.picture_id_bits) - 1;
        next.picture_id =
            (guint16)((guint)(last_picture_id_ + 1 - ids.picture_id) & mask);
      }
      if (ids.tl0 >= 0 && last_tl0_ >= 0)
        next.tl0 = (guint8)(last_tl0_ + 1 - ids.tl0);
    }
  }
  previous_ = current_;
  current_ = next;
  sent_in_current_ = 0;
  started_ = true;
}

bool
VideoRewriter::in_current (guint16 sequence) const
{
  if ((guint16)(last_sequence_ - sequence) >= 0x8000)
    return false; /* never sent */
  return sent_in_current_ > 0x8000
         || (guint16)(sequence - current_.first)
                <= (guint16)(last_sequence_ - current_.first);
}

void
VideoRewriter::apply (
    const Segment &segment, uint8_t *packet, size_t length) const
{
  put32 (packet + 8, ssrc_);
  put16 (packet + 2, (guint16)(rtp_sequence (packet) + segment.sequence));
  put32 (packet + 4, rtp_timestamp (packet) + segment.timestamp);
  if (codec_ != VideoCodec::VP8)
    return;
  Vp8Ids ids;
  if (!vp8_read_ids (packet, length, ids))
    return;
  if (ids.picture_id >= 0 && segment.picture_id) {
    guint mask = (1u << ids.picture_id_bits) - 1;
    guint id = (ids.picture_id + segment.picture_id) & mask;
    uint8_t *p = packet + ids.picture_id_offset;
    if (ids.picture_id_bits == 15) {
      p[0] = (uint8_t)(0x80 | (id >> 8));
      p[1] = (uint8_t)id;
    } else {
      p[0] = (uint8_t)id;
    }
  }
  if (ids.tl0 >= 0 && segment.tl0)
    packet[ids.tl0_offset] = (uint8_t)(ids.tl0 + segment.tl0);
}

void
VideoRewriter::rewrite (uint8_t *packet, size_t length, gint64 now_us)
{
  apply (current_, packet, length);
  last_sequence_ = rtp_sequence (packet);
  if (sent_in_current_ < G_MAXUINT32)
    sent_in_current_++;
  last_timestamp_ = rtp_timestamp (packet);
  last_time_ = now_us;
  Vp8Ids ids;
  if (codec_ == VideoCodec::VP8 && vp8_read_ids (packet, length, ids)) {
    if (ids.picture_id >= 0)
      last_picture_id_ = ids.picture_id;
    if (ids.tl0 >= 0)
      last_tl0_ = ids.tl0;
  }
}

bool
VideoRewriter::original (
    guint16 sequence, gint &rendition, guint16 &original) const
{
  if (!started_)
    return false;
  /* sent since the current rendition began, or in the one before it */
  const Segment *segment = nullptr;
  if ((guint16)(last_sequence_ - sequence) >= 0x8000)
    return false; /* never sent */
  if (in_current (sequence))
    segment = &current_;
  else if (previous_.rendition >= 0
           && (guint16)(sequence - previous_.first)
                  < (guint16)(current_.first - previous_.first))
    segment = &previous_;
  if (!segment || segment->rendition < 0)
    return false;
  rendition = segment->rendition;
  original = (guint16)(sequence - segment->sequence);
  return true;
}

void
VideoRewriter::rewrite_again (
    uint8_t *packet, size_t length, guint16 sequence) const
{
  apply (in_current (sequence) ? current_ : previous_, packet, length);
}

/* ---- the choice of rung ---- */

gint
RungChooser::fitting (const std::vector<Rung> &rungs, guint64 carried) const
{
  gint lightest = -1;
  for (size_t i = 0; i < rungs.size (); i++) {
    if (!rungs[i].bitrate)
      continue;
    lightest = (gint)i;
    if (rungs[i].bitrate * HEADROOM <= (gdouble)carried)
      return (gint)i;
  }
  return lightest;
}

void
RungChooser::probe_failed (gint64 now_us)
{
  probe_start_ = probe_end_ = 0;
  hold_us_ = MIN (hold_us_ * 2, HOLD_MAX_US);
  quiet_since_ = 0;
  last_change_ = now_us;
}

void
RungChooser::on_report (const std::vector<Rung> &rungs, gint64 now_us,
    gdouble fraction_lost, gdouble rtt_ms)
{
  if (rtt_ms >= 0)
    min_rtt_ = min_rtt_ < 0 ? rtt_ms : MIN (min_rtt_, rtt_ms);
  gdouble delay = rtt_ms >= 0 && min_rtt_ >= 0 ? rtt_ms - min_rtt_ : 0;
  queueing_ms_ = delay;
  bool quiet = fraction_lost < LOSS_CLEAN && delay < DELAY_CLEAN_MS;
  bool lossy = fraction_lost >= LOSS_DOWN || delay >= DELAY_DOWN_MS;
  guint64 sending = current_ >= 0 && (size_t)current_ < rungs.size ()
                        ? rungs[current_].bitrate
                        : 0;
  guint64 carried = (guint64)(sending * (1.0 - fraction_lost));
  if (!quiet)
    estimate_ = carried;
  else if (carried > estimate_)
    estimate_ = carried;

  if (probe_start_) {
    if (!quiet || nacks_in_probe_) {
      probe_failed (now_us);
    } else if (probe_end_ && now_us > probe_end_) {
      /* a quiet report after the probe: the next rung up fits */
      gint up = current_ - 1;
      while (up >= 0 && !rungs[up].bitrate)
        up--;
      probe_start_ = probe_end_ = 0;
      if (up >= 0 && adaptive_ && pinned_ < 0) {
        estimate_ = MAX (estimate_, (guint64)(rungs[up].bitrate * HEADROOM));
        target_ = up;
        last_change_ = now_us;
        hold_us_ = HOLD_MIN_US;
      }
    }
  }

  if (quiet) {
    if (!quiet_since_)
      quiet_since_ = now_us;
  } else {
    quiet_since_ = 0;
    if (pinned_ >= 0)
      troubled_while_pinned_ = true;
  }

  /* down: never while a switch is pending, nor for the reports just after
   * one (they still count what the old rung lost, and the keyframe the
   * switch landed on) */
  if (!adaptive_ || pinned_ >= 0 || target_ != current_
      || now_us - last_change_ < (just_joined () ? JOIN_SETTLE_US : SETTLE_US))
    return;
  lossy_reports_ = lossy ? lossy_reports_ + 1 : 0;
  if (fraction_lost >= LOSS_DOWN_NOW || (lossy && lossy_reports_ >= 2)) {
    gint down = fitting (rungs, carried);
    if (down <= current_) {
      down = current_ + 1;
      while ((size_t)down < rungs.size () && !rungs[down].bitrate)
        down++;
    }
    /* the picture goes only from the lightest video rung, and only if
     * that one keeps losing: a busy receiver loses packets as a narrow
     * link does, and a frozen picture is the last resort */
    if (down >= 0 && (size_t)down < rungs.size ()
        && rungs[down].rendition < 0) {
      gint lightest = -1;
      for (size_t i = 0; i < rungs.size (); i++)
        if (rungs[i].bitrate && rungs[i].rendition >= 0)
          lightest = (gint)i;
      if (lightest > current_)
        down = lightest;
      else if (lossy_reports_ < 3)
        return;
    }
    if (down >= 0 && (size_t)down < rungs.size () && down != current_) {
      target_ = down;
      last_change_ = now_us;
      lossy_reports_ = 0;
      quiet_since_ = 0;
      probe_start_ = probe_end_ = 0;
    }
  }
}

void
RungChooser::pin (gint rung)
{
  if (rung >= 0 && pinned_ < 0) {
    auto_before_pin_ = target_;
    troubled_while_pinned_ = false;
  }
  pinned_ = rung;
  if (rung >= 0)
    return;
  target_ = auto_before_pin_ >= 0 && !troubled_while_pinned_ ? auto_before_pin_
                                                             : current_;
  auto_before_pin_ = -1;
}

void
RungChooser::on_nacks (gint64 now_us, guint count)
{
  if (!probe_start_)
    return;
  nacks_in_probe_ += count;
  /* the probe already hurt: stop it at once */
  if (!probe_end_)
    probe_failed (now_us);
}

void
RungChooser::switched (gint rung, gint64 now_us)
{
  switches_++;
  current_ = rung;
  if (!adaptive_)
    target_ = rung;
  last_change_ = now_us;
  quiet_since_ = 0;
  lossy_reports_ = 0;
  probe_start_ = probe_end_ = 0;
}

size_t
RungChooser::probe_budget (const std::vector<Rung> &rungs, gint64 now_us)
{
  gint up = current_ - 1;
  while (up >= 0 && (size_t)up < rungs.size () && !rungs[up].bitrate)
    up--;
  if (!adaptive_ || pinned_ >= 0 || up < 0 || target_ != current_
      || (size_t)current_ >= rungs.size ()) {
    probe_start_ = probe_end_ = 0;
    return 0;
  }
  if (!probe_start_) {
    if (!quiet_since_ || now_us - quiet_since_ < hold_us_
        || now_us - last_change_ < hold_us_)
      return 0;
    probe_start_ = probe_last_ = now_us;
    probe_end_ = probe_full_ = 0;
    probe_credit_ = 0;
    nacks_in_probe_ = 0;
  }
  if (probe_end_) {
    if (now_us - probe_end_ > VERDICT_US)
      probe_failed (now_us); /* no report came: do not trust the link */
    return 0;
  }
  if (probe_full_ && now_us - probe_full_ >= PROBE_HOLD_US) {
    probe_end_ = now_us;
    return 0;
  }
  /* what the viewer is sent, rung and duplicates, grows from the rung's
   * rate by PROBE_GROWTH a second up to the next rung's */
  gdouble sending = (gdouble)rungs[current_].bitrate;
  gdouble goal = rungs[up].bitrate * HEADROOM;
  gdouble seconds = (now_us - probe_start_) / (gdouble)G_USEC_PER_SEC;
  gdouble total = sending * pow (PROBE_GROWTH, seconds);
  if (total >= goal) {
    total = goal;
    if (!probe_full_)
      probe_full_ = now_us;
  }
  gdouble extra = total - sending;
  if (extra <= 0)
    extra = rungs[up].bitrate * (HEADROOM - 1.0);
  gdouble rate = extra / 8.0; /* bytes per second */
  probe_credit_ += rate * (now_us - probe_last_) / G_USEC_PER_SEC;
  probe_credit_ = MIN (probe_credit_, rate / 10.0); /* no burst > 100 ms */
  probe_last_ = now_us;
  size_t budget = (size_t)probe_credit_;
  probe_credit_ -= budget;
  return budget;
}

} // namespace roomwebrtc
