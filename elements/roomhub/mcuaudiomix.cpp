/* gst-rooms: the audio mixing engine of mcucompositor (see mcuaudiomix.h).
 *
 * Locks (in this order): a port's convert_lock, then McuAudioMix::lock_.
 * push() converts under the port's convert_lock only, so a slow conversion
 * (resampling) on one pad never holds up render() or the other pads; it
 * takes lock_ just to append the converted samples to the port's queue.
 * render() holds lock_ while it cuts and mixes one window.
 */
#include "mcuaudiomix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (mcuaudiomix_debug);
#define GST_CAT_DEFAULT mcuaudiomix_debug

struct McuAudioMix::Port {
  explicit Port (guint id) : id (id) { gst_audio_info_init (&in_info); }
  ~Port ()
  {
    if (converter)
      gst_audio_converter_free (converter);
  }
  Port (const Port &) = delete;
  Port &operator= (const Port &) = delete;

  const guint id;

  /* Guards everything down to the next comment: the input side. */
  std::mutex convert_lock;
  GstAudioInfo in_info;
  /* Input caps to mix format; NULL while the port has no (usable) caps.  It
   * lives as long as the caps so resampling is continuous across buffers. */
  GstAudioConverter *converter = nullptr;
  /* Where the current stretch of continuous audio started, in mix frames,
   * and how much came in and went out since then: the next buffer is
   * expected at base_position + in_frames converted to the mix rate. */
  bool placed = false;
  gint64 base_position = 0;
  guint64 in_frames = 0;
  guint64 out_frames = 0;
  /* A resampler gives out the last few frames it was given only once more
   * come in.  Its output is placed this many mix frames late, so that what
   * it gave out reaches as far as the input it was given: audio pushed up to
   * the end of a window fills the window. */
  gint64 delay_frames = 0;
  bool warned_no_caps = false;
  std::vector<guint8> converted;

  /* Guarded by McuAudioMix::lock_: the queue and the render side. */
  bool removed = false;
  /* Converted frames from byte offset queue_head on; the first one plays at
   * mix frame queue_start. */
  std::vector<guint8> queue;
  gsize queue_head = 0;
  gint64 queue_start = 0;
  bool warned_overflow = false;
  /* This port's contribution to the last rendered window. */
  std::vector<guint8> window;
  bool window_silent = true;
  double level = 0.0;
};

namespace {

/* The arithmetic of one output sample format: samples of type Sample are
 * summed in Acc and brought back to full scale with saturate(). */
struct S16Mix {
  using Sample = gint16;
  using Acc = gint32;
  static constexpr double kFullScale = 32768.0;
  static Sample saturate (Acc v)
  {
    return (Sample)CLAMP (v, G_MININT16, G_MAXINT16);
  }
};

struct F32Mix {
  using Sample = gfloat;
  using Acc = gfloat;
  static constexpr double kFullScale = 1.0;
  /* NaN (from a broken source) becomes silence rather than spreading. */
  static Sample saturate (Acc v)
  {
    if (v >= -1.0f)
      return v <= 1.0f ? v : 1.0f;
    return v < -1.0f ? -1.0f : 0.0f;
  }
};

template <typename Mix>
void
accumulate (
    std::vector<typename Mix::Acc> &total, const std::vector<guint8> &window)
{
  auto *samples =
      reinterpret_cast<const typename Mix::Sample *> (window.data ());
  for (gsize i = 0; i < total.size (); i++)
    total[i] += samples[i];
}

template <typename Mix>
double
rms (const std::vector<guint8> &window, gsize n_samples)
{
  if (n_samples == 0)
    return 0.0;
  auto *samples =
      reinterpret_cast<const typename Mix::Sample *> (window.data ());
  double sum = 0.0;
  for (gsize i = 0; i < n_samples; i++)
    sum += (double)samples[i] * samples[i];
  return std::min (1.0, std::sqrt (sum / n_samples) / Mix::kFullScale);
}

/* total, minus @own when it is not NULL, saturated into @out. */
template <typename Mix>
void
write_mix (const std::vector<typename Mix::Acc> &total,
    const std::vector<guint8> *own, guint8 *out)
{
  auto *dest = reinterpret_cast<typename Mix::Sample *> (out);
  if (own) {
    auto *own_samples =
        reinterpret_cast<const typename Mix::Sample *> (own->data ());
    for (gsize i = 0; i < total.size (); i++)
      dest[i] = Mix::saturate (total[i] - own_samples[i]);
  } else {
    for (gsize i = 0; i < total.size (); i++)
      dest[i] = Mix::saturate (total[i]);
  }
}

/* The mix arithmetic for one render, in the output's sample type. */
template <typename Mix>
void
mix_window (const std::vector<const std::vector<guint8> *> &windows,
    gsize n_samples, GstBuffer **full,
    std::map<guint, const std::vector<guint8> *> &own_by_key,
    std::map<guint, GstBuffer *> &minus)
{
  std::vector<typename Mix::Acc> total (n_samples, 0);
  for (const auto *window : windows)
    accumulate<Mix> (total, *window);

  gsize size = n_samples * sizeof (typename Mix::Sample);
  auto new_mix = [&] (const std::vector<guint8> *own) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
    GstMapInfo map;
    if (gst_buffer_map (buf, &map, GST_MAP_WRITE)) {
      write_mix<Mix> (total, own, map.data);
      gst_buffer_unmap (buf, &map);
    }
    return buf;
  };

  if (full)
    *full = new_mix (nullptr);
  for (auto &entry : minus)
    entry.second = new_mix (own_by_key[entry.first]);
}

/* A converter configuration mixing @in's channels into @out's by number:
 * input channel i goes to output channel i modulo the output's count (its
 * share divided by how many inputs that output gets), and with fewer inputs
 * than outputs, output o repeats input o modulo the input's count. */
GstStructure *
unpositioned_mix_config (const GstAudioInfo &in, const GstAudioInfo &out)
{
  gint in_channels = GST_AUDIO_INFO_CHANNELS (&in);
  gint out_channels = GST_AUDIO_INFO_CHANNELS (&out);
  GValue matrix = G_VALUE_INIT;
  g_value_init (&matrix, GST_TYPE_ARRAY);
  for (gint o = 0; o < out_channels; o++) {
    GValue row = G_VALUE_INIT;
    g_value_init (&row, GST_TYPE_ARRAY);
    gint sharing = 0;
    for (gint i = o; i < in_channels; i += out_channels)
      sharing++;
    for (gint i = 0; i < in_channels; i++) {
      gfloat gain = 0.0f;
      if (in_channels >= out_channels)
        gain = i % out_channels == o ? 1.0f / sharing : 0.0f;
      else
        gain = o % in_channels == i ? 1.0f : 0.0f;
      GValue v = G_VALUE_INIT;
      g_value_init (&v, G_TYPE_FLOAT);
      g_value_set_float (&v, gain);
      gst_value_array_append_and_take_value (&row, &v);
    }
    gst_value_array_append_and_take_value (&matrix, &row);
  }
  GstStructure *config = gst_structure_new_empty ("GstAudioConverter.config");
  gst_structure_take_value (
      config, GST_AUDIO_CONVERTER_OPT_MIX_MATRIX, &matrix);
  return config;
}

} // namespace

McuAudioMix::McuAudioMix (const GstAudioInfo &out_info) : out_info_ (out_info)
{
  static std::once_flag debug_once;
  std::call_once (debug_once, [] {
    GST_DEBUG_CATEGORY_INIT (mcuaudiomix_debug, "mcuaudiomix", 0,
        "mcucompositor audio mixing engine");
  });

  GstAudioFormat format = GST_AUDIO_INFO_FORMAT (&out_info_);
  if ((format != GST_AUDIO_FORMAT_S16 && format != GST_AUDIO_FORMAT_F32)
      || !GST_AUDIO_INFO_IS_VALID (&out_info_)
      || GST_AUDIO_INFO_LAYOUT (&out_info_) != GST_AUDIO_LAYOUT_INTERLEAVED) {
    /* A programming error of the caller: mix something sane instead. */
    GST_ERROR ("unsupported mix format %s, %d Hz, %d channels; mixing S16",
        gst_audio_format_to_string (format), GST_AUDIO_INFO_RATE (&out_info_),
        GST_AUDIO_INFO_CHANNELS (&out_info_));
    gint rate = GST_AUDIO_INFO_RATE (&out_info_);
    gint channels = GST_AUDIO_INFO_CHANNELS (&out_info_);
    gst_audio_info_set_format (&out_info_, GST_AUDIO_FORMAT_S16,
        rate > 0 ? rate : 48000, CLAMP (channels, 1, 8), NULL);
  }

  gint rate = GST_AUDIO_INFO_RATE (&out_info_);
  max_queued_frames_ =
      (gint64)gst_util_uint64_scale_int (kMaxQueued, rate, GST_SECOND);
  jitter_frames_ =
      (gint64)gst_util_uint64_scale_int (kJitterTolerance, rate, GST_SECOND);
}

McuAudioMix::~McuAudioMix () = default;

std::shared_ptr<McuAudioMix::Port>
McuAudioMix::find_port (guint port) const
{
  std::lock_guard<std::mutex> guard (lock_);
  auto it = ports_.find (port);
  return it == ports_.end () ? nullptr : it->second;
}

void
McuAudioMix::add_port (guint port)
{
  std::lock_guard<std::mutex> guard (lock_);
  if (ports_.count (port))
    return;
  ports_[port] = std::make_shared<Port> (port);
  GST_DEBUG ("added port %u", port);
}

void
McuAudioMix::remove_port (guint port)
{
  std::shared_ptr<Port> removed;
  {
    std::lock_guard<std::mutex> guard (lock_);
    auto it = ports_.find (port);
    if (it == ports_.end ())
      return;
    removed = it->second;
    /* A push() of this port still converting appends nothing after this. */
    removed->removed = true;
    gsize dropped = (removed->queue.size () - removed->queue_head)
                    / GST_AUDIO_INFO_BPF (&out_info_);
    removed->queue.clear ();
    removed->queue_head = 0;
    ports_.erase (it);
    GST_DEBUG ("removed port %u, dropped %" G_GSIZE_FORMAT " queued frames",
        port, dropped);
  }
  /* The last reference may go here, outside lock_. */
}

bool
McuAudioMix::set_port_caps (guint port, GstCaps *caps)
{
  std::shared_ptr<Port> p = find_port (port);
  if (!p) {
    GST_WARNING ("caps for unknown port %u", port);
    return false;
  }

  GstAudioInfo in_info;
  if (!caps || !gst_audio_info_from_caps (&in_info, caps)) {
    GST_WARNING ("port %u: not raw audio caps %" GST_PTR_FORMAT, port, caps);
    std::lock_guard<std::mutex> guard (p->convert_lock);
    g_clear_pointer (&p->converter, gst_audio_converter_free);
    return false;
  }

  std::lock_guard<std::mutex> guard (p->convert_lock);
  if (p->converter && gst_audio_info_is_equal (&in_info, &p->in_info))
    return true;

  g_clear_pointer (&p->converter, gst_audio_converter_free);
  if (GST_AUDIO_INFO_LAYOUT (&in_info) != GST_AUDIO_LAYOUT_INTERLEAVED) {
    GST_WARNING ("port %u: non-interleaved audio is not supported", port);
    return false;
  }
  GstAudioConverter *converter = gst_audio_converter_new (
      GST_AUDIO_CONVERTER_FLAG_NONE, &in_info, &out_info_, NULL);
  if (!converter && GST_AUDIO_INFO_IS_UNPOSITIONED (&in_info)) {
    /* Channels without positions cannot be down- or upmixed by position:
     * spread them over the mix's channels in turn instead. */
    converter = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE,
        &in_info, &out_info_, unpositioned_mix_config (in_info, out_info_));
  }
  if (!converter) {
    GST_WARNING (
        "port %u: cannot convert %" GST_PTR_FORMAT " to the mix", port, caps);
    return false;
  }
  p->converter = converter;
  p->in_info = in_info;
  p->delay_frames = 0;
  gint in_rate = GST_AUDIO_INFO_RATE (&in_info);
  gint out_rate = GST_AUDIO_INFO_RATE (&out_info_);
  if (in_rate != out_rate) {
    /* Held back: at most the latency plus a fraction of an input frame, in
     * mix frames, rounded up; one more for the rounding of the frame
     * counts. */
    guint64 held_in = gst_audio_converter_get_max_latency (converter) + 1;
    p->delay_frames =
        (gint64)gst_util_uint64_scale_int_ceil (held_in, out_rate, in_rate) + 1;
  }
  /* New caps start a new stretch: the next buffer is placed by its running
   * time. */
  p->placed = false;
  GST_DEBUG ("port %u: caps %" GST_PTR_FORMAT, port, caps);
  return true;
}

void
McuAudioMix::push (guint port, GstBuffer *buf, GstClockTime running_time)
{
  g_return_if_fail (GST_IS_BUFFER (buf));

  std::shared_ptr<Port> p = find_port (port);
  if (!p) {
    GST_DEBUG ("dropping buffer of unknown port %u", port);
    return;
  }
  /* Our own reference: the caller may unref its buffer as soon as we return,
   * and we read it without holding lock_. */
  GstBuffer *ref = gst_buffer_ref (buf);

  std::lock_guard<std::mutex> convert_guard (p->convert_lock);
  if (!p->converter) {
    if (!p->warned_no_caps)
      GST_WARNING ("port %u: dropping audio received before usable caps", port);
    p->warned_no_caps = true;
    gst_buffer_unref (ref);
    return;
  }

  gint in_rate = GST_AUDIO_INFO_RATE (&p->in_info);
  gint out_rate = GST_AUDIO_INFO_RATE (&out_info_);
  gint64 position = -1;
  if (GST_CLOCK_TIME_IS_VALID (running_time))
    position = (gint64)gst_util_uint64_scale_round (
        running_time, out_rate, GST_SECOND);

  if (p->placed && position >= 0) {
    gint64 expected =
        p->base_position
        + (gint64)gst_util_uint64_scale_round (p->in_frames, out_rate, in_rate);
    bool discont = GST_BUFFER_FLAG_IS_SET (ref, GST_BUFFER_FLAG_DISCONT);
    if (discont || ABS (position - expected) > jitter_frames_) {
      GST_DEBUG ("port %u: %s, placing audio at %" G_GINT64_FORMAT
                 " instead of %" G_GINT64_FORMAT,
          port, discont ? "discont" : "gap", position, expected);
      p->placed = false;
      /* Do not let the resampler's history bleed across the gap. */
      gst_audio_converter_reset (p->converter);
    }
  }
  if (!p->placed) {
    if (position < 0) {
      GST_DEBUG ("port %u: dropping buffer without running time", port);
      gst_buffer_unref (ref);
      return;
    }
    p->placed = true;
    p->base_position = position;
    p->in_frames = 0;
    p->out_frames = 0;
  }

  GstMapInfo map;
  if (!gst_buffer_map (ref, &map, GST_MAP_READ)) {
    GST_WARNING ("port %u: cannot map buffer", port);
    gst_buffer_unref (ref);
    return;
  }
  gsize in_frames = map.size / GST_AUDIO_INFO_BPF (&p->in_info);
  gsize out_frames =
      gst_audio_converter_get_out_frames (p->converter, in_frames);
  p->converted.resize (out_frames * GST_AUDIO_INFO_BPF (&out_info_));
  gpointer in_planes[1] = {map.data};
  gpointer out_planes[1] = {p->converted.data ()};
  gboolean converted =
      gst_audio_converter_samples (p->converter, GST_AUDIO_CONVERTER_FLAG_NONE,
          in_planes, in_frames, out_planes, out_frames);
  gst_buffer_unmap (ref, &map);
  gst_buffer_unref (ref);
  if (!converted) {
    GST_WARNING ("port %u: conversion failed, dropping %" G_GSIZE_FORMAT
                 " frames",
        port, in_frames);
    p->placed = false;
    return;
  }

  gint64 out_position =
      p->base_position + p->delay_frames + (gint64)p->out_frames;
  p->in_frames += in_frames;
  p->out_frames += out_frames;

  GST_LOG ("port %u: %" G_GSIZE_FORMAT " frames at %" G_GINT64_FORMAT, port,
      out_frames, out_position);
  std::lock_guard<std::mutex> guard (lock_);
  if (!p->removed)
    append_locked (*p, out_position, p->converted.data (), out_frames);
}

void
McuAudioMix::append_locked (
    Port &port, gint64 position, const guint8 *data, gsize n_frames)
{
  const gsize bpf = GST_AUDIO_INFO_BPF (&out_info_);
  gint64 queued = (gint64)((port.queue.size () - port.queue_head) / bpf);
  gint64 queue_end = port.queue_start + queued;

  if (queued == 0 || position < port.queue_start
      || position - queue_end > max_queued_frames_) {
    /* Nothing worth keeping before the new audio. */
    port.queue.clear ();
    port.queue_head = 0;
    port.queue_start = position;
  } else if (position > queue_end) {
    /* A gap in the port's audio plays as silence. */
    port.queue.resize (port.queue.size () + (position - queue_end) * bpf, 0);
  } else if (position < queue_end) {
    /* Newer audio for the same time replaces the older. */
    port.queue.resize (port.queue_head + (position - port.queue_start) * bpf);
  }
  port.queue.insert (port.queue.end (), data, data + n_frames * bpf);

  queued = (gint64)((port.queue.size () - port.queue_head) / bpf);
  if (queued > max_queued_frames_) {
    gint64 excess = queued - max_queued_frames_;
    if (!port.warned_overflow)
      GST_WARNING ("port %u: more than %" GST_TIME_FORMAT
                   " of audio queued, dropping the oldest (nobody renders?)",
          port.id, GST_TIME_ARGS (kMaxQueued));
    port.warned_overflow = true;
    port.queue_head += excess * bpf;
    port.queue_start += excess;
  }
  /* Keep the vector from growing: move the live part to the front once the
   * consumed part is the larger. */
  if (port.queue_head > port.queue.size () / 2) {
    port.queue.erase (port.queue.begin (),
        port.queue.begin () + (std::ptrdiff_t)port.queue_head);
    port.queue_head = 0;
  }
}

void
McuAudioMix::render (GstClockTime start, guint n_samples, GstBuffer **full,
    std::map<guint, GstBuffer *> &minus)
{
  const gsize bpf = GST_AUDIO_INFO_BPF (&out_info_);
  const gsize channels = GST_AUDIO_INFO_CHANNELS (&out_info_);
  const gsize window_size = (gsize)n_samples * bpf;

  std::lock_guard<std::mutex> guard (lock_);

  gint64 window_start = GST_CLOCK_TIME_IS_VALID (start)
                            ? (gint64)gst_util_uint64_scale_round (start,
                                GST_AUDIO_INFO_RATE (&out_info_), GST_SECOND)
                            : last_render_end_;
  /* Windows computed from frame times may be off by a rounding error; keep
   * them back to back so no port sample is repeated or skipped. */
  if (last_render_end_ >= 0
      && (window_start < 0 || ABS (window_start - last_render_end_) <= 2))
    window_start = last_render_end_;
  if (window_start < 0)
    window_start = 0;
  gint64 window_end = window_start + n_samples;
  last_render_end_ = window_end;
  GST_LOG ("rendering frames %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
           " for %" G_GSIZE_FORMAT " mix-minus",
      window_start, window_end, (gsize)minus.size ());

  std::vector<const std::vector<guint8> *> windows;
  for (auto &entry : ports_) {
    Port &port = *entry.second;
    port.window.assign (window_size, 0);
    port.window_silent = true;

    gint64 queued = (gint64)((port.queue.size () - port.queue_head) / bpf);
    if (port.queue_start < window_start && queued > 0) {
      gint64 stale = std::min (queued, window_start - port.queue_start);
      GST_LOG (
          "port %u: dropping %" G_GINT64_FORMAT " late frames", port.id, stale);
      port.queue_head += stale * bpf;
      port.queue_start += stale;
      queued -= stale;
    }
    if (queued > 0 && port.queue_start < window_end) {
      gint64 offset = port.queue_start - window_start;
      gint64 take = std::min (queued, window_end - port.queue_start);
      memcpy (port.window.data () + offset * bpf,
          port.queue.data () + port.queue_head, take * bpf);
      port.queue_head += take * bpf;
      port.queue_start += take;
      port.window_silent = false;
      windows.push_back (&port.window);
    }
    if (port.queue_head == port.queue.size ()) {
      port.queue.clear ();
      port.queue_head = 0;
    }

    if (port.window_silent)
      port.level = 0.0;
    else if (GST_AUDIO_INFO_FORMAT (&out_info_) == GST_AUDIO_FORMAT_F32)
      port.level = rms<F32Mix> (port.window, n_samples * channels);
    else
      port.level = rms<S16Mix> (port.window, n_samples * channels);
  }

  std::map<guint, const std::vector<guint8> *> own_by_key;
  for (auto &entry : minus) {
    auto it = ports_.find (entry.first);
    bool contributes = it != ports_.end () && !it->second->window_silent;
    own_by_key[entry.first] = contributes ? &it->second->window : nullptr;
  }

  if (GST_AUDIO_INFO_FORMAT (&out_info_) == GST_AUDIO_FORMAT_F32)
    mix_window<F32Mix> (windows, n_samples * channels, full, own_by_key, minus);
  else
    mix_window<S16Mix> (windows, n_samples * channels, full, own_by_key, minus);
}

void
McuAudioMix::flush_port (guint port)
{
  std::shared_ptr<Port> p = find_port (port);
  if (!p)
    return;
  std::lock_guard<std::mutex> convert_guard (p->convert_lock);
  p->placed = false;
  if (p->converter)
    gst_audio_converter_reset (p->converter);
  std::lock_guard<std::mutex> guard (lock_);
  p->queue.clear ();
  p->queue_head = 0;
  p->level = 0.0;
  GST_DEBUG ("flushed port %u", port);
}

void
McuAudioMix::reset ()
{
  std::vector<guint> ids;
  {
    std::lock_guard<std::mutex> guard (lock_);
    for (auto &entry : ports_)
      ids.push_back (entry.first);
  }
  /* Not under lock_: flush_port takes the ports' convert_lock first. */
  for (guint id : ids)
    flush_port (id);
  std::lock_guard<std::mutex> guard (lock_);
  last_render_end_ = -1;
}

GstClockTime
McuAudioMix::latency (guint port) const
{
  std::shared_ptr<Port> p = find_port (port);
  if (!p)
    return 0;
  std::lock_guard<std::mutex> convert_guard (p->convert_lock);
  return gst_util_uint64_scale_int (
      (guint64)p->delay_frames, GST_SECOND, GST_AUDIO_INFO_RATE (&out_info_));
}

double
McuAudioMix::level (guint port) const
{
  std::lock_guard<std::mutex> guard (lock_);
  auto it = ports_.find (port);
  return it == ports_.end () ? 0.0 : it->second->level;
}

gsize
McuAudioMix::queued_frames (guint port) const
{
  std::lock_guard<std::mutex> guard (lock_);
  auto it = ports_.find (port);
  if (it == ports_.end ())
    return 0;
  const Port &p = *it->second;
  return (p.queue.size () - p.queue_head) / GST_AUDIO_INFO_BPF (&out_info_);
}

GstClockTime
McuAudioMix::queued_until (guint port) const
{
  std::lock_guard<std::mutex> guard (lock_);
  auto it = ports_.find (port);
  if (it == ports_.end ())
    return GST_CLOCK_TIME_NONE;
  const Port &p = *it->second;
  gint64 queued = (gint64)((p.queue.size () - p.queue_head)
                           / GST_AUDIO_INFO_BPF (&out_info_));
  gint64 end = p.queue_start + queued;
  if (queued == 0 || end < 0)
    return GST_CLOCK_TIME_NONE;
  return gst_util_uint64_scale_int (
      (guint64)end, GST_SECOND, GST_AUDIO_INFO_RATE (&out_info_));
}
