/* gst-rooms: the audio mixing engine of mcucompositor.
 *
 * Each port's raw audio is converted once to the mix format (sample format,
 * channels and rate of the output) and queued as samples positioned on the
 * running-time axis.  render() cuts one window out of every port's queue,
 * sums the ports once in a wider type and derives both the full mix and
 * every requested mix-minus (the mix of every port but one) from that sum,
 * so the cost is O(ports) whatever the number of mix-minus outputs.
 *
 * Positioning: a port's samples are placed by the running time of the buffer
 * that starts a stretch of audio.  Later buffers continue where the port left
 * off as long as their running time agrees with that within
 * McuAudioMix::kJitterTolerance; a larger gap or a DISCONT buffer places the
 * audio anew (silence fills a gap forward, newer audio replaces older audio
 * on a jump backward).  A source whose clock drifts against the pipeline's
 * therefore plays continuously and is re-placed (one short gap or cut) each
 * time the drift reaches the tolerance; for 100 ppm that is every 400 s.
 *
 * Threads: push() and set_port_caps() are called from the pads' streaming
 * threads, render() from the aggregator's thread, add_port()/remove_port()
 * from the application.  Every method may be called from any thread.
 */
#pragma once

#include <gst/audio/audio.h>
#include <gst/gst.h>

#include <map>
#include <memory>
#include <mutex>

class McuAudioMix {
public:
  /* Positions closer than this to where a port left off are taken as
   * jitter: the audio continues without a gap. */
  static constexpr GstClockTime kJitterTolerance = 40 * GST_MSECOND;
  /* The most audio a port may have queued; older audio is dropped beyond. */
  static constexpr GstClockTime kMaxQueued = GST_SECOND;

  /* @out_info: the mix format, S16LE or F32LE interleaved, any rate, 1 to 8
   * channels. */
  explicit McuAudioMix (const GstAudioInfo &out_info);
  ~McuAudioMix ();
  McuAudioMix (const McuAudioMix &) = delete;
  McuAudioMix &operator= (const McuAudioMix &) = delete;

  /* Adding a port that exists already does nothing; removing one drops its
   * queued audio, and it no longer counts in any mix from the next render. */
  void add_port (guint port);
  void remove_port (guint port);

  /* Any raw interleaved audio the converter handles.  Returns false (and
   * leaves the port without caps, so its buffers are dropped) when the caps
   * cannot be converted to the mix format; the caller then posts
   * not-negotiated.  Audio already queued is kept. */
  bool set_port_caps (guint port, GstCaps *caps);

  /* Queues @buf (a new reference is taken; the caller keeps its own), whose
   * first sample plays at @running_time.  GST_CLOCK_TIME_NONE continues where
   * the port left off.  Buffers of an unknown port or one without caps are
   * dropped. */
  void push (guint port, GstBuffer *buf, GstClockTime running_time);

  /* Renders the window [start, start + n_samples / rate).  *@full (when @full
   * is not NULL) becomes the mix of every port; for each key p present in
   * @minus on entry, minus[p] becomes the mix of every port but p (a key
   * without a port gets the full mix).  Entry values are overwritten, never
   * unreffed.  Returns new buffers the caller owns, timestamps unset.  Audio
   * queued before the window is dropped. */
  void render (GstClockTime start, guint n_samples, GstBuffer **full,
      std::map<guint, GstBuffer *> &minus);

  /* RMS, 0 to 1 of full scale, of the port's contribution to the last
   * rendered window; 0 for an unknown port. */
  double level (guint port) const;

  /* Drops @port's queued audio and where it was placed: its next buffer is
   * placed by its running time (for a flush on its pad). */
  void flush_port (guint port);
  /* Every port flushed and the render position forgotten (for a flush of the
   * output or a restart); ports and caps stay. */
  void reset ();

  /* How much later than its running time @port's audio plays: 0 unless it
   * is resampled, then under 1 ms for rates from 44.1 kHz up, 3 ms from
   * 8 kHz (the resampler's look-ahead). */
  GstClockTime latency (guint port) const;

  /* How many frames of audio @port has queued (for tests and debugging). */
  gsize queued_frames (guint port) const;
  /* Running time just after @port's last queued frame, or
   * GST_CLOCK_TIME_NONE when it has nothing queued: the port has audio for a
   * window ending at or before this. */
  GstClockTime queued_until (guint port) const;

  const GstAudioInfo &out_info () const { return out_info_; }

private:
  struct Port;

  std::shared_ptr<Port> find_port (guint port) const;
  void append_locked (
      Port &port, gint64 position, const guint8 *data, gsize n_frames);

  GstAudioInfo out_info_;
  gint64 max_queued_frames_;
  gint64 jitter_frames_;

  /* Lock order: a port's convert_lock, then lock_.  lock_ guards ports_,
   * every port's queue and level, and last_render_end_. */
  mutable std::mutex lock_;
  std::map<guint, std::shared_ptr<Port>> ports_;
  /* Frame position just after the last rendered window, or -1. */
  gint64 last_render_end_ = -1;
};
