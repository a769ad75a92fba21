/* roomwebrtc: the quality ladder of a webrtcfanoutsink viewer.  The program
 * may come in several renditions of one picture (720p, 360p, …), each
 * encoded once for every viewer; each viewer gets one rung at a time.
 *
 * - VideoRewriter makes the renditions a viewer gets over time look like one
 *   continuous stream: one SSRC, sequence numbers without a jump, RTP time
 *   that follows the wall clock across a switch, VP8 picture ids that go on
 *   counting.  It also maps a NACKed sequence number back to the packet of
 *   the rendition it came from.
 * - RungChooser decides, from the viewer's RTCP, which rung it should get:
 *   down quickly on loss or queueing delay, up only after a probe (duplicate
 *   packets, which the viewer's SRTP replay check drops) showed the next
 *   rung fits.
 *
 * Both are plain state, used on the viewer's worker thread only. */
#pragma once

#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fanoutrtp.h"

namespace roomwebrtc {

class VideoRewriter {
public:
  /* Every packet goes out with @ssrc (the one the answer announced). */
  VideoRewriter (guint32 ssrc, VideoCodec codec) : ssrc_ (ssrc), codec_ (codec)
  {}

  /* From @packet on (a keyframe's first packet, arrived at @now_us), the
   * viewer gets @rendition.  The first call keeps the rendition's own
   * numbers; later ones continue where the last packet sent left off. */
  void switch_to (
      gint rendition, const uint8_t *packet, size_t length, gint64 now_us);
  /* Rewrites @packet (of the current rendition) in place, as sent at
   * @now_us. */
  void rewrite (uint8_t *packet, size_t length, gint64 now_us);
  /* The rendition and its own sequence number of the packet sent as
   * @sequence, for a NACK; false when it is older than the last two
   * renditions sent. */
  bool original (guint16 sequence, gint &rendition, guint16 &original) const;
  /* Rewrites a retransmitted @packet (found by original()) as it was first
   * sent. */
  void rewrite_again (uint8_t *packet, size_t length, guint16 sequence) const;

  gint rendition () const { return current_.rendition; }
  /* @sequence was sent since the last switch */
  bool since_switch (guint16 sequence) const
  {
    return started_ && in_current (sequence);
  }
  bool started () const { return started_; }

private:
  struct Segment {
    gint rendition = -1;
    guint16 first = 0;    /* the first sequence number sent in it */
    guint16 sequence = 0; /* added to the rendition's */
    guint32 timestamp = 0;
    guint16 picture_id = 0; /* VP8, modulo the packet's picture id width */
    guint8 tl0 = 0;         /* VP8 TL0PICIDX */
  };
  void apply (const Segment &segment, uint8_t *packet, size_t length) const;
  /* @sequence was sent in the current segment.  Its numbers are 16 bits: a
   * segment of more than half of them (a viewer on one rendition for some
   * minutes) reaches back half of them, as far as a number can be told
   * from one still to come. */
  bool in_current (guint16 sequence) const;

  guint32 ssrc_;
  VideoCodec codec_;
  bool started_ = false;
  Segment current_, previous_;
  /* the last packet sent */
  guint16 last_sequence_ = 0;
  guint32 sent_in_current_ = 0; /* packets, saturating */
  guint32 last_timestamp_ = 0;
  gint64 last_time_ = 0;
  gint last_picture_id_ = -1; /* -1: none seen */
  gint last_tl0_ = -1;
};

/* VP8 payload descriptor fields, or -1 when absent. */
struct Vp8Ids {
  gint picture_id = -1;
  gint picture_id_bits = 0; /* 7 or 15 */
  gint tl0 = -1;
  size_t picture_id_offset = 0, tl0_offset = 0; /* in the packet */
};
bool vp8_read_ids (const uint8_t *packet, size_t length, Vp8Ids &ids);

/* One rung of the ladder as the chooser sees it. */
struct Rung {
  std::string label;
  gint rendition = -1; /* -1: audio only */
  guint64 bitrate = 0; /* bits/s the rung costs (video and audio); 0: not
                         * flowing now, never chosen */
};

class RungChooser {
public:
  /* Rungs from the heaviest (0) to the lightest; the viewer starts on
   * @start. */
  explicit RungChooser (gint start = 0)
      : start_ (start), current_ (start), target_ (start)
  {}

  /* A receiver report about the video at @now_us: the fraction lost since
   * the last one, the round-trip time (ms, <0: unknown) */
  void on_report (const std::vector<Rung> &rungs, gint64 now_us,
      gdouble fraction_lost, gdouble rtt_ms);
  /* The viewer asked for @count packets again. */
  void on_nacks (gint64 now_us, guint count);
  /* The viewer now gets @rung (a switch landed on its keyframe). */
  void switched (gint rung, gint64 now_us);

  /* The rung the viewer should get; a pinned rung wins. */
  gint target () const { return pinned_ >= 0 ? pinned_ : target_; }
  /* -1: back to automatic: to the rung chosen before the pin if no report
   * since showed loss or queueing (the link carried it then), else from the
   * rung the viewer has */
  void pin (gint rung);
  gint current () const { return current_; }
  gint pinned () const { return pinned_; }
  void set_adaptive (bool adaptive) { adaptive_ = adaptive; }
  /* bits/s the viewer's link is thought to carry; 0: unknown */
  guint64 estimate () const { return estimate_; }
  /* the round-trip time above its best at the last report: how long the
   * bottleneck's queue is */
  gdouble queueing_ms () const { return queueing_ms_; }

  /* Bytes of duplicates to add to what is sent at @now_us (0 outside a
   * probe), given the rungs' rates. */
  size_t probe_budget (const std::vector<Rung> &rungs, gint64 now_us);
  bool probing () const { return probe_start_ > 0; }

  /* Tuning, in one place. */
  static constexpr gdouble LOSS_DOWN_NOW = 0.15; /* one report: go down */
  /* two reports in a row (three from the lightest video rung to audio) */
  static constexpr gdouble LOSS_DOWN = 0.04;
  static constexpr gdouble LOSS_CLEAN = 0.02;   /* a quiet report */
  static constexpr gdouble DELAY_DOWN_MS = 250; /* RTT above its best */
  static constexpr gdouble DELAY_CLEAN_MS = 80;
  /* reports this soon after a switch say nothing about the new rung */
  static constexpr gint64 SETTLE_US = 3 * G_USEC_PER_SEC;
  /* after the first keyframe there is no old rung to blame: the first
   * second already says whether the link carries the one it joined on */
  static constexpr gint64 JOIN_SETTLE_US = 1 * G_USEC_PER_SEC;
  static constexpr gint64 HOLD_MIN_US = 3 * G_USEC_PER_SEC;
  static constexpr gint64 HOLD_MAX_US = 8 * G_USEC_PER_SEC;
  /* a probe grows what the viewer is sent by this factor a second, from the
   * rung it has to the next one up (with HEADROOM), then holds that for
   * PROBE_HOLD_US: a link a little too narrow fills its queue slowly, and
   * a report shows the queueing (or a NACK the loss) before much is lost */
  static constexpr gdouble PROBE_GROWTH = 1.3;
  static constexpr gint64 PROBE_HOLD_US = 1 * G_USEC_PER_SEC;
  /* after the probe, the report that covers it decides (or this passes) */
  static constexpr gint64 VERDICT_US = 3 * G_USEC_PER_SEC;
  /* a rung fits a link that carries this much more than it costs */
  static constexpr gdouble HEADROOM = 1.15;

private:
  gint fitting (const std::vector<Rung> &rungs, guint64 carried) const;
  void probe_failed (gint64 now_us);

  gint start_, current_, target_;
  gint pinned_ = -1;
  gint auto_before_pin_ = -1; /* the automatic choice when a pin began */
  bool troubled_while_pinned_ = false;
  bool adaptive_ = true;
  guint64 estimate_ = 0;
  gdouble min_rtt_ = -1, queueing_ms_ = 0;
  gint lossy_reports_ = 0;
  gint64 quiet_since_ = 0; /* 0: not quiet */
  gint64 hold_us_ = HOLD_MIN_US;
  gint64 last_change_ = 0;
  guint switches_ = 0; /* landed, the viewer's first keyframe included */
  bool just_joined () const { return switches_ <= 1 && current_ == start_; }
  /* a probe: when it started (0: none), when it ended (0: running) */
  gint64 probe_start_ = 0, probe_end_ = 0;
  gint64 probe_last_ = 0;
  gint64 probe_full_ = 0; /* when the probe reached the next rung's rate */
  gdouble probe_credit_ = 0;
  guint nacks_in_probe_ = 0;
};

} // namespace roomwebrtc
