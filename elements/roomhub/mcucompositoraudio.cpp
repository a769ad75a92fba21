/* gst-rooms: mcucompositor's audio outputs (see gstmcucompositorprivate.h):
 * the output format, the mix rendered once per video frame into the full mix
 * and every mix-minus, and each output's sticky events.  The mixing itself
 * is McuAudioMix's (mcuaudiomix.h); the pushing, OutputPusher's. */
#include "gstmcucompositorprivate.h"

#define GST_CAT_DEFAULT gst_mcu_compositor_debug

static GstCaps *
audio_fixate (GstCaps *caps)
{
  caps = gst_caps_make_writable (caps);
  caps = gst_caps_truncate (caps);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_fixate_field_nearest_int (s, "rate", FALLBACK_RATE);
  gst_structure_fixate_field_nearest_int (s, "channels", FALLBACK_CHANNELS);
  gst_structure_fixate_field_string (s, "format", "S16LE");
  caps = gst_caps_fixate (caps);
  return caps;
}

void
mcu_audio_setup (GstMcuCompositor *self)
{
  McuCompositorPrivate *priv = self->priv;
  GstCaps *templ = gst_pad_get_pad_template_caps (self->audio_srcpad);
  /* Ask audio_src's peer, or the first linked mix-minus output's. */
  GstPad *ask = self->audio_srcpad;
  if (!gst_pad_is_linked (ask)) {
    for (auto &o : priv->audio_outs) {
      if (gst_pad_is_linked (o->pad)) {
        ask = o->pad;
        break;
      }
    }
  }
  GstCaps *peer = gst_pad_peer_query_caps (ask, templ);
  GstCaps *caps;
  if (peer && !gst_caps_is_empty (peer)) {
    caps = gst_caps_intersect (peer, templ);
    if (gst_caps_is_empty (caps))
      gst_caps_replace (&caps, templ);
  } else {
    caps = gst_caps_ref (templ);
  }
  gst_clear_caps (&peer);
  gst_caps_unref (templ);
  caps = audio_fixate (caps);
  if (!gst_audio_info_from_caps (&priv->audio_info, caps))
    gst_audio_info_set_format (&priv->audio_info, GST_AUDIO_FORMAT_S16LE,
        FALLBACK_RATE, FALLBACK_CHANNELS, NULL);
  gst_caps_unref (caps);
  priv->mix.reset (new McuAudioMix (priv->audio_info));
  priv->mix_ports.clear ();
  priv->levels.clear ();
  GST_INFO_OBJECT (self, "audio output: %d Hz, %d channels",
      GST_AUDIO_INFO_RATE (&priv->audio_info),
      GST_AUDIO_INFO_CHANNELS (&priv->audio_info));
}

gboolean
gst_mcu_compositor_audio_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstMcuCompositor *self = GST_MCU_COMPOSITOR (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = gst_pad_get_current_caps (pad);
      if (!caps)
        caps = gst_pad_get_pad_template_caps (pad);
      gst_query_parse_caps (query, &filter);
      if (filter) {
        GstCaps *tmp =
            gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = tmp;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps, *templ = gst_pad_get_pad_template_caps (pad);
      gst_query_parse_accept_caps (query, &caps);
      gst_query_set_accept_caps_result (
          query, gst_caps_can_intersect (caps, templ));
      gst_caps_unref (templ);
      return TRUE;
    }
    case GST_QUERY_LATENCY:
    case GST_QUERY_POSITION:
    case GST_QUERY_DURATION:
    case GST_QUERY_SEEKING:
    case GST_QUERY_SEGMENT:
      /* Same timing as the video output. */
      return gst_pad_query (GST_AGGREGATOR_SRC_PAD (self), query);
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

gboolean
gst_mcu_compositor_audio_src_event (
    GstPad *pad, GstObject *parent, GstEvent *event)
{
  /* Audio outputs follow the video output; nothing to do upstream. */
  gst_event_unref (event);
  return TRUE;
}

std::vector<std::shared_ptr<AudioOut>>
mcu_audio_outputs (McuCompositorPrivate *priv)
{
  std::lock_guard<std::mutex> guard (priv->audio_lock);
  return priv->audio_outs;
}

void
mcu_audio_push_sticky (
    GstMcuCompositor *self, AudioOut &out, const GstSegment *segment)
{
  McuCompositorPrivate *priv = self->priv;
  if (out.need_stream_start) {
    gchar *id = g_strdup_printf ("%08x%08x/%s", g_random_int (),
        g_random_int (), GST_OBJECT_NAME (out.pad));
    GstEvent *ev = gst_event_new_stream_start (id);
    gst_event_set_group_id (ev, gst_util_group_id_next ());
    g_free (id);
    out.pusher->push_event (ev);
    out.need_stream_start = false;
  }
  if (out.need_caps) {
    GstCaps *caps = gst_audio_info_to_caps (&priv->audio_info);
    out.pusher->push_event (gst_event_new_caps (caps));
    gst_caps_unref (caps);
    out.need_caps = false;
  }
  if (out.need_segment) {
    out.pusher->push_event (gst_event_new_segment (segment));
    out.need_segment = false;
  }
}

static void
push_audio (GstMcuCompositor *self, AudioOut &out, GstBuffer *buf,
    const GstSegment *segment)
{
  mcu_audio_push_sticky (self, out, segment);
  /* Queued for the output's own thread: a blocked consumer of one output
   * loses its own buffers and holds up nothing else. */
  out.pusher->push_buffer (buf);
}

void
mcu_audio_output_frame (GstMcuCompositor *self, const GstSegment *segment,
    GstClockTime ts_offset, guint64 nframes, gint fps_n, gint fps_d,
    const std::set<guint> &audio_ports)
{
  McuCompositorPrivate *priv = self->priv;
  std::vector<std::shared_ptr<AudioOut>> outs = mcu_audio_outputs (priv);
  GstBuffer *full = NULL;
  std::map<guint, GstBuffer *> minus;
  GstClockTime pts;
  guint n_samples;

  {
    std::lock_guard<std::mutex> guard (priv->audio_lock);
    if (!priv->mix)
      return;
    /* Ports whose audio pad went away. */
    for (auto it = priv->mix_ports.begin (); it != priv->mix_ports.end ();) {
      if (!audio_ports.count (*it)) {
        priv->mix->remove_port (*it);
        priv->levels.erase (*it);
        it = priv->mix_ports.erase (it);
      } else {
        ++it;
      }
    }
    const gint rate = GST_AUDIO_INFO_RATE (&priv->audio_info);
    /* Exact sample positions from the frame count: no drift. */
    const guint64 s0 =
        gst_util_uint64_scale (nframes, (guint64)rate * fps_d, fps_n);
    const guint64 s1 =
        gst_util_uint64_scale (nframes + 1, (guint64)rate * fps_d, fps_n);
    n_samples = (guint)(s1 - s0);
    pts = ts_offset + gst_util_uint64_scale (s0, GST_SECOND, rate);
    if (n_samples == 0)
      return;
    for (auto &o : outs)
      if (o->minus)
        minus[o->port] = NULL;
    const GstClockTime rt =
        gst_segment_to_running_time (segment, GST_FORMAT_TIME, pts);
    priv->mix->render (rt, n_samples, &full, minus);
    for (guint port : priv->mix_ports)
      priv->levels[port] = priv->mix->level (port);

    const GstClockTime duration =
        gst_util_uint64_scale (s1, GST_SECOND, rate) - (pts - ts_offset);
    auto stamp = [&] (GstBuffer *b) {
      if (!b)
        return;
      GST_BUFFER_PTS (b) = pts;
      GST_BUFFER_DURATION (b) = duration;
      GST_BUFFER_OFFSET (b) = s0;
      GST_BUFFER_OFFSET_END (b) = s1;
    };
    stamp (full);
    for (auto &m : minus)
      stamp (m.second);
  }

  for (auto &o : outs) {
    GstBuffer *buf;
    if (o->minus) {
      buf = minus[o->port];
      minus[o->port] = NULL;
    } else {
      buf = full;
      full = NULL;
    }
    if (buf)
      push_audio (self, *o, buf, segment);
  }
  gst_clear_buffer (&full);
  for (auto &m : minus)
    gst_clear_buffer (&m.second);
}
