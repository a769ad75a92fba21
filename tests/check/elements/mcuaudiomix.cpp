/* gst-rooms: unit tests of McuAudioMix, the audio engine of mcucompositor.
 *
 * No element and no clock: the tests push generated audio at chosen running
 * times and render chosen windows, then check what a listener would hear —
 * which tones are in which mix, exact samples where positions matter. */
#include "roomcheck.h"

#include "mcuaudiomix.h"

#include <cmath>
#include <thread>
#include <map>
#include <vector>

static const gint kRate = 48000;

static GstAudioInfo
audio_info (GstAudioFormat format, gint rate, gint channels)
{
  GstAudioInfo info;
  gst_audio_info_set_format (&info, format, rate, channels, NULL);
  return info;
}

static void
set_caps (McuAudioMix &mix, guint port, GstAudioFormat format, gint rate,
    gint channels)
{
  GstAudioInfo info = audio_info (format, rate, channels);
  GstCaps *caps = gst_audio_info_to_caps (&info);
  fail_unless (mix.set_port_caps (port, caps));
  gst_caps_unref (caps);
}

/* A buffer of @n frames, every channel carrying value(frame index) in full
 * scale units (-1 to 1), the index counted from @first. */
template <typename F>
static GstBuffer *
make_buffer (
    GstAudioFormat format, gint channels, guint64 first, guint n, F value)
{
  GstAudioInfo info = audio_info (format, kRate, channels);
  GstBuffer *buf =
      gst_buffer_new_allocate (NULL, n * GST_AUDIO_INFO_BPF (&info), NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (guint i = 0; i < n; i++) {
    double v = value (first + i);
    for (gint c = 0; c < channels; c++) {
      if (format == GST_AUDIO_FORMAT_F32)
        ((gfloat *)map.data)[i * channels + c] = (gfloat)v;
      else
        ((gint16 *)map.data)[i * channels + c] =
            (gint16)lround (CLAMP (v * 32768.0, -32768.0, 32767.0));
    }
  }
  gst_buffer_unmap (buf, &map);
  return buf;
}

static GstBuffer *
sine_buffer (GstAudioFormat format, gint rate, gint channels, double freq,
    double amplitude, guint64 first, guint n)
{
  return make_buffer (format, channels, first, n, [=] (guint64 i) {
    return amplitude * sin (2.0 * G_PI * freq * (double)i / rate);
  });
}

/* The S16 sample value a port sending make_buffer (value) has at @frame. */
static gint16
s16_value (double v)
{
  return (gint16)lround (CLAMP (v * 32768.0, -32768.0, 32767.0));
}

static GstClockTime
frame_time (guint64 frame, gint rate = kRate)
{
  return gst_util_uint64_scale_int (frame, GST_SECOND, rate);
}

/* Pushes (and unrefs) a buffer starting at frame @first of its own rate. */
static void
push_at (McuAudioMix &mix, guint port, GstBuffer *buf, guint64 first,
    gint rate = kRate)
{
  mix.push (port, buf, frame_time (first, rate));
  gst_buffer_unref (buf);
}

/* Channel @channel of an interleaved S16 or F32 buffer, in full scale units. */
static std::vector<double>
channel_of (GstBuffer *buf, const GstAudioInfo &info, gint channel)
{
  std::vector<double> out;
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  gint channels = GST_AUDIO_INFO_CHANNELS (&info);
  gsize frames = map.size / GST_AUDIO_INFO_BPF (&info);
  for (gsize i = 0; i < frames; i++) {
    if (GST_AUDIO_INFO_FORMAT (&info) == GST_AUDIO_FORMAT_F32)
      out.push_back (((gfloat *)map.data)[i * channels + channel]);
    else
      out.push_back (((gint16 *)map.data)[i * channels + channel] / 32768.0);
  }
  gst_buffer_unmap (buf, &map);
  return out;
}

static std::vector<gint16>
s16_samples (GstBuffer *buf)
{
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  std::vector<gint16> out (
      (gint16 *)map.data, (gint16 *)map.data + map.size / sizeof (gint16));
  gst_buffer_unmap (buf, &map);
  return out;
}

/* Amplitude of the tone at @freq in @x (Goertzel over a Hann window, so
 * tones a few tens of Hz apart do not leak into each other). */
static double
tone_amplitude (const std::vector<double> &x, double freq, gint rate)
{
  double coeff = 2.0 * cos (2.0 * G_PI * freq / rate);
  double s1 = 0.0, s2 = 0.0, weight = 0.0;
  gsize n = x.size ();
  for (gsize i = 0; i < n; i++) {
    double w = 0.5 - 0.5 * cos (2.0 * G_PI * i / (n - 1));
    double s = x[i] * w + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
    weight += w;
  }
  double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2.0 * sqrt (MAX (power, 0.0)) / weight;
}

static double
db (double amplitude, double reference)
{
  return 20.0 * log10 (MAX (amplitude, 1e-12) / reference);
}

/* Renders one window with mix-minus outputs for @keys; the caller unrefs. */
struct Window {
  GstBuffer *full = nullptr;
  std::map<guint, GstBuffer *> minus;

  Window (McuAudioMix &mix, GstClockTime start, guint n,
      std::initializer_list<guint> keys)
  {
    for (guint key : keys)
      minus[key] = nullptr;
    mix.render (start, n, &full, minus);
    fail_unless (full != nullptr);
    for (auto &entry : minus)
      fail_unless (entry.second != nullptr);
  }
  ~Window ()
  {
    gst_buffer_unref (full);
    for (auto &entry : minus)
      gst_buffer_unref (entry.second);
  }
  Window (const Window &) = delete;
  Window &operator= (const Window &) = delete;
};

static const double kTones[] = {440.0, 660.0, 990.0};

GST_START_TEST (test_full_mix_and_mix_minus_tones)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 2);
  McuAudioMix mix (out);
  for (guint p = 0; p < 3; p++) {
    mix.add_port (p);
    set_caps (mix, p, GST_AUDIO_FORMAT_S16, kRate, 2);
  }

  /* 300 ms of each tone in 10 ms buffers, then ten 1/30 s windows. */
  const guint chunk = 480, window = 1600;
  for (guint64 f = 0; f < 30 * chunk; f += chunk)
    for (guint p = 0; p < 3; p++)
      push_at (mix, p,
          sine_buffer (
              GST_AUDIO_FORMAT_S16, kRate, 2, kTones[p], 0.25, f, chunk),
          f);

  std::vector<double> full[2];
  std::map<guint, std::vector<double>> minus[2];
  for (guint k = 0; k < 9; k++) {
    Window w (
        mix, gst_util_uint64_scale (k, GST_SECOND, 30), window, {0, 1, 2});
    for (gint c = 0; c < 2; c++) {
      auto samples = channel_of (w.full, out, c);
      full[c].insert (full[c].end (), samples.begin (), samples.end ());
      for (auto &entry : w.minus) {
        auto m = channel_of (entry.second, out, c);
        minus[c][entry.first].insert (
            minus[c][entry.first].end (), m.begin (), m.end ());
      }
    }
    /* Every window is full of every tone: RMS of a 0.25 sine. */
    for (guint p = 0; p < 3; p++)
      fail_unless (fabs (mix.level (p) - 0.25 / sqrt (2.0)) < 0.005,
          "level of port %u is %f", p, mix.level (p));
  }

  for (gint c = 0; c < 2; c++) {
    for (guint p = 0; p < 3; p++) {
      double a = tone_amplitude (full[c], kTones[p], kRate);
      fail_unless (
          fabs (a - 0.25) < 0.01, "full mix: %.0f Hz at %f", kTones[p], a);
    }
    for (guint p = 0; p < 3; p++) {
      for (guint q = 0; q < 3; q++) {
        double a = tone_amplitude (minus[c][p], kTones[q], kRate);
        if (p == q)
          fail_unless (db (a, 0.25) < -40.0,
              "mix-minus %u still has its own tone at %.1f dB", p,
              db (a, 0.25));
        else
          fail_unless (fabs (a - 0.25) < 0.01, "mix-minus %u: %.0f Hz at %f", p,
              kTones[q], a);
      }
    }
  }
}

GST_END_TEST;

/* Mono F32 at other rates is converted to the stereo 48 kHz S16 mix.  The
 * buffers arrive just in time, as mcucompositor feeds them: only those that
 * start before the window's end.  The resampler holds back the last few
 * input frames of what it was given; that must not leave a hole at the end
 * of the window. */
GST_START_TEST (test_convert_mono_f32_other_rates)
{
  for (gint in_rate : {44100, 8000, 16000, 96000}) {
    GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 2);
    McuAudioMix mix (out);
    mix.add_port (7);
    set_caps (mix, 7, GST_AUDIO_FORMAT_F32, in_rate, 1);
    auto tone = [in_rate] (guint64 i) {
      return 0.5 * sin (2.0 * G_PI * 1000.0 * i / in_rate);
    };

    /* 1 kHz in 10 ms buffers for 14 windows of 1/30 s. */
    const guint chunk = in_rate / 100;
    guint64 pushed = 0;
    std::vector<double> left, right;
    for (guint k = 0; k < 14; k++) {
      GstClockTime start = gst_util_uint64_scale (k, GST_SECOND, 30);
      GstClockTime end = gst_util_uint64_scale (k + 1, GST_SECOND, 30);
      while (frame_time (pushed, in_rate) < end) {
        push_at (mix, 7,
            make_buffer (GST_AUDIO_FORMAT_F32, 1, pushed, chunk, tone), pushed,
            in_rate);
        pushed += chunk;
      }
      std::map<guint, GstBuffer *> none;
      GstBuffer *full = nullptr;
      mix.render (start, 1600, &full, none);
      /* Skip the first windows (the resampler's start) in the analysis. */
      if (k >= 2) {
        auto l = channel_of (full, out, 0), r = channel_of (full, out, 1);
        left.insert (left.end (), l.begin (), l.end ());
        right.insert (right.end (), r.begin (), r.end ());
      }
      gst_buffer_unref (full);
    }

    for (auto *channel : {&left, &right}) {
      double amplitude = tone_amplitude (*channel, 1000.0, kRate);
      /* Unresampled, the tone would sound at 1000 * 48000 / in_rate Hz. */
      double wrong_freq = 1000.0 * kRate / in_rate;
      double wrong = tone_amplitude (*channel, wrong_freq, kRate);
      fail_unless (
          amplitude > 0.3, "%d Hz input: 1 kHz at %f", in_rate, amplitude);
      fail_unless (db (wrong, amplitude) < -40.0,
          "%d Hz input: %.0f Hz at %.1f dB", in_rate, wrong_freq,
          db (wrong, amplitude));
      /* Continuous across input buffers and windows: no step is larger than
       * the tone's own steepest slope. */
      double max_step = amplitude * 2.0 * G_PI * 1000.0 / kRate;
      for (gsize i = 1; i < channel->size (); i++)
        fail_unless (fabs ((*channel)[i] - (*channel)[i - 1]) < 1.2 * max_step,
            "%d Hz input: jump of %f at sample %" G_GSIZE_FORMAT, in_rate,
            fabs ((*channel)[i] - (*channel)[i - 1]), i);
    }
  }
}

GST_END_TEST;

/* Ports 0 and 1 play from the start, 2 joins at 100 ms, 1 leaves at 200 ms;
 * pushes run ahead of renders as a live source would.  The mix-minus of
 * port 2 must be exactly the other ports' samples in every window. */
GST_START_TEST (test_join_and_leave_keep_others_continuous)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  auto tone = [] (guint p) {
    return [p] (guint64 i) {
      return 0.2 * sin (2.0 * G_PI * kTones[p] * (double)i / kRate);
    };
  };
  mix.add_port (0);
  mix.add_port (1);
  set_caps (mix, 0, GST_AUDIO_FORMAT_S16, kRate, 1);
  set_caps (mix, 1, GST_AUDIO_FORMAT_S16, kRate, 1);

  const guint window = 1600, chunk = 441;
  const guint64 join = 4800, leave = 9600;
  guint64 pushed[3] = {0, 0, join};
  for (guint k = 0; k < 9; k++) {
    guint64 start = (guint64)k * window, end = start + window;
    if (start == join) {
      mix.add_port (2);
      set_caps (mix, 2, GST_AUDIO_FORMAT_S16, kRate, 1);
    }
    if (start == leave)
      mix.remove_port (1);
    for (guint p = 0; p < 3; p++) {
      bool active =
          p == 0 || (p == 1 && start < leave) || (p == 2 && start >= join);
      /* Each source is 10 ms ahead, in buffers that straddle windows. */
      while (active && pushed[p] < end + 480) {
        push_at (mix, p,
            make_buffer (GST_AUDIO_FORMAT_S16, 1, pushed[p], chunk, tone (p)),
            pushed[p]);
        pushed[p] += chunk;
      }
    }

    Window w (mix, frame_time (start), window, {0, 1, 2});
    auto minus2 = s16_samples (w.minus[2]);
    auto full = s16_samples (w.full);
    for (guint i = 0; i < window; i++) {
      guint64 f = start + i;
      gint s0 = s16_value (tone (0) (f));
      gint s1 = f < leave ? s16_value (tone (1) (f)) : 0;
      gint s2 = f >= join ? s16_value (tone (2) (f)) : 0;
      fail_unless_equals_int (minus2[i], s0 + s1);
      fail_unless_equals_int (full[i], s0 + s1 + s2);
    }
    /* Port 1 is gone: its mix-minus is the full mix. */
    if (start >= leave)
      fail_unless (s16_samples (w.minus[1]) == full);
  }
  fail_unless_equals_int (mix.queued_frames (1), 0);
  fail_unless (mix.level (1) == 0.0);
}

GST_END_TEST;

/* Audio lands in the window its running time says, whenever it is pushed. */
GST_START_TEST (test_early_and_late_audio_positions)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  for (guint p = 0; p < 2; p++) {
    mix.add_port (p);
    set_caps (mix, p, GST_AUDIO_FORMAT_S16, kRate, 1);
  }
  const guint window = 960; /* 20 ms */
  auto dc = [] (double v) { return [v] (guint64) { return v; }; };

  /* Early: 10 ms pushed long before its time, at 105 ms. */
  push_at (
      mix, 0, make_buffer (GST_AUDIO_FORMAT_S16, 1, 0, 480, dc (0.25)), 5040);
  for (guint k = 0; k < 10; k++) {
    guint64 start = (guint64)k * window;
    if (k == 7) {
      /* Late: 20 ms at 130 ms, pushed after [120, 140) was rendered; only
       * its last 10 ms can still play. */
      push_at (mix, 1, make_buffer (GST_AUDIO_FORMAT_S16, 1, 0, 960, dc (0.5)),
          6240);
    }
    Window w (mix, frame_time (start), window, {});
    auto samples = s16_samples (w.full);
    for (guint i = 0; i < window; i++) {
      guint64 f = start + i;
      gint expected = 0;
      if (f >= 5040 && f < 5520)
        expected += s16_value (0.25);
      if (f >= 6720 && f < 7200)
        expected += s16_value (0.5);
      fail_unless_equals_int (samples[i], expected);
    }
  }
}

GST_END_TEST;

/* Running times that wobble by a few ms are jitter: the audio plays back to
 * back.  A gap over 40 ms or a DISCONT buffer places the audio anew. */
GST_START_TEST (test_jitter_absorbed_gap_repositions)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  mix.add_port (3);
  set_caps (mix, 3, GST_AUDIO_FORMAT_S16, kRate, 1);
  /* A ramp: sample n of the port's audio has the value n. */
  auto ramp = [] (guint64 i) { return (double)(i % 30000) / 32768.0; };

  const gint jitter_ms[] = {0, 3, -2, 4, -4, 1, 0, -3, 2, 0};
  guint64 n = 0;
  for (gint j : jitter_ms) {
    GstBuffer *buf = make_buffer (GST_AUDIO_FORMAT_S16, 1, n, 480, ramp);
    mix.push (3, buf, frame_time (1000 + n) + j * GST_MSECOND);
    gst_buffer_unref (buf);
    n += 480;
  }
  /* 60 ms later than expected: a gap. */
  GstBuffer *buf = make_buffer (GST_AUDIO_FORMAT_S16, 1, n, 480, ramp);
  mix.push (3, buf, frame_time (1000 + n + 2880));
  gst_buffer_unref (buf);
  /* Only 5 ms off but flagged DISCONT: placed exactly. */
  buf = make_buffer (GST_AUDIO_FORMAT_S16, 1, n + 480, 480, ramp);
  GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  mix.push (3, buf, frame_time (1000 + n + 2880 + 480 + 240));
  gst_buffer_unref (buf);

  GstBuffer *full = nullptr;
  std::map<guint, GstBuffer *> none;
  mix.render (frame_time (1000), 9600, &full, none);
  auto samples = s16_samples (full);
  gst_buffer_unref (full);
  for (guint i = 0; i < 9600; i++) {
    gint expected = 0;
    if (i < n)
      expected = i; /* the ramp, back to back */
    else if (i >= n + 2880 && i < n + 2880 + 480)
      expected = i - 2880; /* after 60 ms of silence */
    else if (i >= n + 2880 + 720 && i < n + 2880 + 720 + 480)
      expected = i - 2880 - 240; /* after 5 ms more */
    fail_unless_equals_int (samples[i], expected);
  }
}

GST_END_TEST;

GST_START_TEST (test_saturation_clamps)
{
  for (GstAudioFormat format : {GST_AUDIO_FORMAT_S16, GST_AUDIO_FORMAT_F32}) {
    GstAudioInfo out = audio_info (format, kRate, 1);
    McuAudioMix mix (out);
    for (guint p = 0; p < 2; p++) {
      mix.add_port (p);
      set_caps (mix, p, format, kRate, 1);
    }
    /* Two ports at +0.9 then -0.9 full scale: the sum must clamp to full
     * scale of the same sign, never wrap around. */
    for (guint p = 0; p < 2; p++)
      push_at (mix, p,
          make_buffer (format, 1, 0, 960,
              [] (guint64 i) { return i < 480 ? 0.9 : -0.9; }),
          0);
    Window w (mix, 0, 960, {0});
    auto full = channel_of (w.full, out, 0);
    auto minus0 = channel_of (w.minus[0], out, 0);
    double top = format == GST_AUDIO_FORMAT_F32 ? 1.0 : 32767.0 / 32768.0;
    for (guint i = 0; i < 960; i++) {
      fail_unless (
          full[i] == (i < 480 ? top : -1.0), "sample %u: %f", i, full[i]);
      /* The mix-minus subtracts before clamping: exactly the other port. */
      double other = format == GST_AUDIO_FORMAT_F32 ? (gfloat)0.9
                                                    : s16_value (0.9) / 32768.0;
      fail_unless (minus0[i] == (i < 480 ? other : -other), "sample %u: %f", i,
          minus0[i]);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_remove_port_drops_its_audio)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_F32, kRate, 2);
  McuAudioMix mix (out);
  for (guint p = 0; p < 2; p++) {
    mix.add_port (p);
    set_caps (mix, p, GST_AUDIO_FORMAT_F32, kRate, 2);
    push_at (mix, p,
        sine_buffer (GST_AUDIO_FORMAT_F32, kRate, 2, kTones[p], 0.3, 0, 4800),
        0);
  }
  fail_unless_equals_int (mix.queued_frames (1), 4800);
  mix.remove_port (1);
  fail_unless_equals_int (mix.queued_frames (1), 0);
  /* Its number comes back as a new port: the old audio stays gone. */
  mix.add_port (1);
  set_caps (mix, 1, GST_AUDIO_FORMAT_F32, kRate, 2);

  Window w (mix, 0, 4800, {0});
  auto full = channel_of (w.full, out, 0);
  fail_unless (fabs (tone_amplitude (full, kTones[0], kRate) - 0.3) < 0.01);
  fail_unless (db (tone_amplitude (full, kTones[1], kRate), 0.3) < -80.0);
  /* Nothing else plays: the mix-minus of port 0 is silence. */
  for (double v : channel_of (w.minus[0], out, 1))
    fail_unless (v == 0.0);
  fail_unless (mix.level (1) == 0.0);
  fail_unless (mix.level (0) > 0.2);
}

GST_END_TEST;

GST_START_TEST (test_queue_is_capped)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  mix.add_port (0);
  set_caps (mix, 0, GST_AUDIO_FORMAT_S16, kRate, 1);
  auto ramp = [] (guint64 i) { return (double)(i % 30000) / 32768.0; };

  /* 3 s of audio and nobody renders. */
  for (guint64 f = 0; f < 3 * kRate; f += 480) {
    push_at (mix, 0, make_buffer (GST_AUDIO_FORMAT_S16, 1, f, 480, ramp), f);
    fail_unless (mix.queued_frames (0) <= (gsize)kRate);
  }
  fail_unless_equals_int (mix.queued_frames (0), kRate);

  /* The newest second is what is kept: 1 s is gone, 2 s plays on time. */
  {
    Window w (mix, GST_SECOND, 960, {});
    for (gint16 v : s16_samples (w.full))
      fail_unless_equals_int (v, 0);
  }
  Window w (mix, 2 * GST_SECOND, 960, {});
  auto samples = s16_samples (w.full);
  for (guint i = 0; i < 960; i++)
    fail_unless_equals_int (samples[i], (2 * kRate + i) % 30000);
}

GST_END_TEST;

GST_START_TEST (test_unsupported_caps_refused)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 2);
  McuAudioMix mix (out);
  mix.add_port (0);

  GstCaps *video = gst_caps_from_string ("video/x-raw,format=I420");
  fail_if (mix.set_port_caps (0, video));
  gst_caps_unref (video);

  GstCaps *planar = gst_caps_from_string ("audio/x-raw,format=S16LE,"
                                          "rate=48000,channels=2,"
                                          "layout=non-interleaved");
  fail_if (mix.set_port_caps (0, planar));
  gst_caps_unref (planar);

  /* Without caps, its buffers are dropped, not mixed as garbage. */
  push_at (mix, 0,
      sine_buffer (GST_AUDIO_FORMAT_S16, kRate, 2, 440.0, 0.5, 0, 960), 0);
  fail_unless_equals_int (mix.queued_frames (0), 0);
  fail_if (mix.set_port_caps (42, NULL));

  /* Good caps after bad ones work. */
  set_caps (mix, 0, GST_AUDIO_FORMAT_S16, 16000, 1);
}

GST_END_TEST;

/* Output windows of 29.97 fps video at 44.1 kHz are not a whole number of
 * samples: rounding makes consecutive windows overlap or miss by a sample.
 * The port's audio must still come out back to back. */
GST_START_TEST (test_fractional_windows_back_to_back)
{
  const gint rate = 44100;
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, rate, 1);
  McuAudioMix mix (out);
  mix.add_port (0);
  set_caps (mix, 0, GST_AUDIO_FORMAT_S16, rate, 1);
  auto ramp = [] (guint64 i) { return (double)(i % 30000) / 32768.0; };
  for (guint64 f = 0; f < (guint64)rate * 9 / 10; f += 1024)
    push_at (
        mix, 0, make_buffer (GST_AUDIO_FORMAT_S16, 1, f, 1024, ramp), f, rate);

  std::vector<gint16> played;
  for (guint k = 0; k < 25; k++) {
    GstClockTime start = gst_util_uint64_scale (k, 1001 * GST_SECOND, 30000);
    GstClockTime end = gst_util_uint64_scale (k + 1, 1001 * GST_SECOND, 30000);
    /* Truncating here where the engine rounds: windows disagree by one. */
    guint n = (guint)(gst_util_uint64_scale (end, rate, GST_SECOND)
                      - gst_util_uint64_scale (start, rate, GST_SECOND));
    Window w (mix, start, n, {});
    auto samples = s16_samples (w.full);
    played.insert (played.end (), samples.begin (), samples.end ());
  }
  for (gsize i = 0; i < played.size (); i++)
    fail_unless_equals_int (played[i], i % 30000);
}

GST_END_TEST;

/* Resampled audio is placed as precisely as the rest: a step at 100 ms of
 * 44.1 kHz input is at sample 4800 of the 48 kHz mix, plus the fixed
 * look-ahead of the resampler. */
GST_START_TEST (test_resampled_audio_lands_on_time)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  mix.add_port (0);
  set_caps (mix, 0, GST_AUDIO_FORMAT_F32, 44100, 1);
  for (guint64 f = 0; f < 22050; f += 441)
    push_at (mix, 0,
        make_buffer (GST_AUDIO_FORMAT_F32, 1, f, 441,
            [] (guint64 i) { return i >= 4410 ? 0.5 : 0.0; }),
        f, 44100);

  Window w (mix, 0, 9600, {});
  auto samples = channel_of (w.full, out, 0);
  gsize crossing = 0;
  while (crossing < samples.size () && samples[crossing] < 0.25)
    crossing++;
  /* Late by the resampler's look-ahead only, which latency() tells. */
  GstClockTime latency = mix.latency (0);
  fail_unless (latency > 0 && latency < GST_MSECOND);
  gsize expected =
      4800 + gst_util_uint64_scale_round (latency, kRate, GST_SECOND);
  fail_unless (crossing + 1 >= expected && crossing <= expected + 1,
      "step at %" G_GSIZE_FORMAT " instead of %" G_GSIZE_FORMAT, crossing,
      expected);
  /* Steady after the step's ringing: the converter passes DC unchanged. */
  for (gsize i = 4900; i < samples.size (); i++)
    fail_unless (fabs (samples[i] - 0.5) < 0.01);
}

GST_END_TEST;

/* Pushes from several streaming threads while the aggregator thread renders
 * earlier windows: nothing is lost or torn.  The outcome does not depend on
 * the interleaving because the pushed audio is all for later windows. */
GST_START_TEST (test_concurrent_push_and_render)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  const guint n_ports = 4;
  for (guint p = 0; p < n_ports; p++) {
    mix.add_port (p);
    set_caps (
        mix, p, p % 2 ? GST_AUDIO_FORMAT_F32 : GST_AUDIO_FORMAT_S16, kRate, 1);
  }
  /* Port p sends the constant (p + 1) / 16 from 1 s to 1.5 s.  The buffers
   * are made here: the pushing threads only push (libcheck cannot fail a
   * test from another thread). */
  std::vector<std::vector<std::pair<guint64, GstBuffer *>>> chunks (n_ports);
  for (guint p = 0; p < n_ports; p++) {
    GstAudioFormat format = p % 2 ? GST_AUDIO_FORMAT_F32 : GST_AUDIO_FORMAT_S16;
    for (guint64 f = kRate; f < kRate + kRate / 2; f += 240)
      chunks[p].emplace_back (f, make_buffer (format, 1, f, 240,
                                     [p] (guint64) { return (p + 1) / 16.0; }));
  }
  std::vector<std::thread> pushers;
  for (guint p = 0; p < n_ports; p++) {
    pushers.emplace_back ([&mix, &chunks, p] {
      for (auto &chunk : chunks[p])
        push_at (mix, p, chunk.second, chunk.first);
    });
  }
  for (guint k = 0; k < 30; k++) {
    Window w (mix, gst_util_uint64_scale (k, GST_SECOND, 30), 1600, {0, 3});
    for (gint16 v : s16_samples (w.full))
      fail_unless_equals_int (v, 0);
  }
  for (auto &t : pushers)
    t.join ();

  gint expected_full = 0;
  for (guint p = 0; p < n_ports; p++)
    expected_full += s16_value ((p + 1) / 16.0);
  for (guint k = 30; k < 45; k++) {
    Window w (mix, gst_util_uint64_scale (k, GST_SECOND, 30), 1600, {0, 3});
    for (gint16 v : s16_samples (w.full))
      fail_unless_equals_int (v, expected_full);
    for (gint16 v : s16_samples (w.minus[3]))
      fail_unless_equals_int (v, expected_full - s16_value (4 / 16.0));
  }
}

GST_END_TEST;

/* A flush forgets a port's audio and placement; reset() also the render
 * position, so rendering can restart at running time 0. */
GST_START_TEST (test_flush_and_reset)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 1);
  McuAudioMix mix (out);
  auto dc = [] (double v) { return [v] (guint64) { return v; }; };
  for (guint p = 0; p < 2; p++) {
    mix.add_port (p);
    set_caps (mix, p, GST_AUDIO_FORMAT_S16, kRate, 1);
    push_at (
        mix, p, make_buffer (GST_AUDIO_FORMAT_S16, 1, 0, 960, dc (0.25)), 480);
  }
  fail_unless_equals_uint64 (mix.queued_until (0), 30 * GST_MSECOND);
  /* Same rate: no resampler, no added delay. */
  fail_unless_equals_uint64 (mix.latency (0), 0);
  fail_unless_equals_uint64 (mix.queued_until (5), GST_CLOCK_TIME_NONE);

  mix.flush_port (1);
  fail_unless_equals_uint64 (mix.queued_until (1), GST_CLOCK_TIME_NONE);
  /* After the flush, 5 ms off is placed exactly, not taken as jitter. */
  push_at (
      mix, 1, make_buffer (GST_AUDIO_FORMAT_S16, 1, 0, 480, dc (0.5)), 240);
  {
    Window w (mix, 0, 1440, {});
    auto samples = s16_samples (w.full);
    for (guint i = 0; i < 1440; i++) {
      gint expected = (i >= 480 ? s16_value (0.25) : 0)
                      + (i >= 240 && i < 720 ? s16_value (0.5) : 0);
      fail_unless_equals_int (samples[i], expected);
    }
  }

  /* Restart: the same running times play again. */
  mix.reset ();
  fail_unless_equals_int (mix.queued_frames (0), 0);
  push_at (mix, 0, make_buffer (GST_AUDIO_FORMAT_S16, 1, 0, 480, dc (0.25)), 0);
  Window w (mix, 0, 480, {});
  for (gint16 v : s16_samples (w.full))
    fail_unless_equals_int (v, s16_value (0.25));
}

GST_END_TEST;

/* Renders @n_windows windows of 1/30 s and returns each channel of the full
 * mix, all windows after the first two (the resampler's start). */
static std::vector<std::vector<double>>
render_channels (McuAudioMix &mix, guint n_windows)
{
  gint channels = GST_AUDIO_INFO_CHANNELS (&mix.out_info ());
  std::vector<std::vector<double>> out (channels);
  for (guint k = 0; k < n_windows; k++) {
    Window w (mix, gst_util_uint64_scale (k, GST_SECOND, 30), 1600, {});
    for (gint c = 0; k >= 2 && c < channels; c++) {
      auto samples = channel_of (w.full, mix.out_info (), c);
      out[c].insert (out[c].end (), samples.begin (), samples.end ());
    }
  }
  return out;
}

/* Any raw interleaved audio is accepted, not only the mix's formats. */
GST_START_TEST (test_any_interleaved_format)
{
  const char *formats[] = {
      "format=U8,rate=22050,channels=1",
      "format=S24LE,rate=48000,channels=6,channel-mask=(bitmask)0x3f",
      "format=F64LE,rate=32000,channels=2,channel-mask=(bitmask)0x3",
      "format=S16BE,rate=48000,channels=2,channel-mask=(bitmask)0x3",
  };
  for (const char *format : formats) {
    GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 2);
    McuAudioMix mix (out);
    mix.add_port (0);
    gchar *desc = g_strdup_printf ("audio/x-raw,layout=interleaved,%s", format);
    GstCaps *caps = gst_caps_from_string (desc);
    g_free (desc);
    GstAudioInfo in;
    fail_unless (gst_audio_info_from_caps (&in, caps));
    fail_unless (mix.set_port_caps (0, caps), "refused %s", format);
    gst_caps_unref (caps);

    /* The input is made by converting F32 with the library's converter. */
    gint rate = GST_AUDIO_INFO_RATE (&in);
    GstAudioInfo f32 = in;
    gst_audio_info_set_format (&f32, GST_AUDIO_FORMAT_F32, rate,
        GST_AUDIO_INFO_CHANNELS (&in), in.position);
    GstAudioConverter *to_input = gst_audio_converter_new (
        GST_AUDIO_CONVERTER_FLAG_NONE, &f32, &in, NULL);
    fail_unless (to_input != NULL);
    const guint chunk = rate / 100;
    for (guint64 f = 0; f < 40 * (guint64)chunk; f += chunk) {
      GstBuffer *src = make_buffer (GST_AUDIO_FORMAT_F32,
          GST_AUDIO_INFO_CHANNELS (&in), f, chunk, [rate] (guint64 i) {
            return 0.5 * sin (2.0 * G_PI * 1000.0 * i / rate);
          });
      GstBuffer *dest = gst_buffer_new_allocate (
          NULL, chunk * GST_AUDIO_INFO_BPF (&in), NULL);
      GstMapInfo src_map, dest_map;
      fail_unless (gst_buffer_map (src, &src_map, GST_MAP_READ));
      fail_unless (gst_buffer_map (dest, &dest_map, GST_MAP_WRITE));
      gpointer in_planes[1] = {src_map.data};
      gpointer out_planes[1] = {dest_map.data};
      fail_unless (gst_audio_converter_samples (to_input,
          GST_AUDIO_CONVERTER_FLAG_NONE, in_planes, chunk, out_planes, chunk));
      gst_buffer_unmap (src, &src_map);
      gst_buffer_unmap (dest, &dest_map);
      gst_buffer_unref (src);
      push_at (mix, 0, dest, f, rate);
    }
    gst_audio_converter_free (to_input);

    auto channels = render_channels (mix, 12);
    for (gint c = 0; c < 2; c++) {
      double amplitude = tone_amplitude (channels[c], 1000.0, kRate);
      fail_unless (amplitude > 0.1, "%s: 1 kHz at %f in channel %d", format,
          amplitude, c);
    }
  }
}

GST_END_TEST;

/* Channels without positions are spread over the mix's channels in turn:
 * of four, 0 and 2 go left, 1 and 3 right, each at half. */
GST_START_TEST (test_unpositioned_channels_spread)
{
  GstAudioInfo out = audio_info (GST_AUDIO_FORMAT_S16, kRate, 2);
  McuAudioMix mix (out);
  mix.add_port (0);
  GstCaps *caps = gst_caps_from_string ("audio/x-raw,format=S16LE,"
                                        "layout=interleaved,rate=48000,"
                                        "channels=4,channel-mask=(bitmask)0");
  fail_unless (mix.set_port_caps (0, caps));
  gst_caps_unref (caps);

  const double freqs[4] = {440.0, 660.0, 990.0, 1320.0};
  for (guint64 f = 0; f < 40 * 480; f += 480) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 480 * 4 * 2, NULL);
    GstMapInfo map;
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
    for (guint i = 0; i < 480; i++)
      for (guint c = 0; c < 4; c++)
        ((gint16 *)map.data)[i * 4 + c] =
            s16_value (0.4 * sin (2.0 * G_PI * freqs[c] * (f + i) / kRate));
    gst_buffer_unmap (buf, &map);
    push_at (mix, 0, buf, f);
  }
  std::vector<double> left = render_channels (mix, 12)[0];
  mix.reset ();
  fail_unless_equals_int (mix.queued_frames (0), 0);
  for (gint c = 0; c < 4; c++) {
    double a = tone_amplitude (left, freqs[c], kRate);
    if (c % 2 == 0)
      fail_unless (fabs (a - 0.2) < 0.01, "channel %d in left at %f", c, a);
    else
      fail_unless (db (a, 0.2) < -60.0, "channel %d in left at %f", c, a);
  }
}

GST_END_TEST;

static Suite *
mcuaudiomix_suite (void)
{
  Suite *s = suite_create ("mcuaudiomix");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_full_mix_and_mix_minus_tones);
  tcase_add_test (tc, test_convert_mono_f32_other_rates);
  tcase_add_test (tc, test_join_and_leave_keep_others_continuous);
  tcase_add_test (tc, test_early_and_late_audio_positions);
  tcase_add_test (tc, test_jitter_absorbed_gap_repositions);
  tcase_add_test (tc, test_saturation_clamps);
  tcase_add_test (tc, test_remove_port_drops_its_audio);
  tcase_add_test (tc, test_queue_is_capped);
  tcase_add_test (tc, test_unsupported_caps_refused);
  tcase_add_test (tc, test_fractional_windows_back_to_back);
  tcase_add_test (tc, test_resampled_audio_lands_on_time);
  tcase_add_test (tc, test_concurrent_push_and_render);
  tcase_add_test (tc, test_flush_and_reset);
  tcase_add_test (tc, test_any_interleaved_format);
  tcase_add_test (tc, test_unpositioned_channels_spread);
  return s;
}

/* ROOM_CHECK_MAIN calls gst_deinit() after the suite, but gst_check_init()
 * of GStreamer 1.22 already deinitialises at exit (where the leaks tracer
 * reports), and a second gst_deinit() aborts the test.  Same main without
 * it. */
int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  int failed =
      gst_check_run_suite (mcuaudiomix_suite (), "mcuaudiomix", __FILE__);
  return failed == 0 ? 0 : 1;
}
