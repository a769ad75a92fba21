/* gst-rooms: mcucompositor's internals shared by its source files: the pad
 * and element structures (gstmcucompositor.cpp, the element) and the audio
 * outputs (mcucompositoraudio.cpp).  Not an API: only these two include it.
 *
 * Lock order: the element's object lock and a pad's object lock are never
 * held together; McuCompositorPrivate::audio_lock is never taken while
 * holding an object lock. */
#pragma once

#include <gst/audio/audio.h>
#include <gst/base/gstaggregator.h>
#include <gst/video/video.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "gstmcucompositor.h"
#include "mcuaudiomix.h"
#include "mcudraw.h"
#include "mculayout.h"
#include "outputpusher.h"

GST_DEBUG_CATEGORY_EXTERN (gst_mcu_compositor_debug);

/* The audio format when downstream leaves it open. */
#define FALLBACK_RATE 48000
#define FALLBACK_CHANNELS 2

struct McuPadState {
  /* Set in the CAPS event (aggregator thread), read there: the pad's object
   * lock guards it since the event may run on the pad's streaming thread. */
  GstVideoInfo info;
  gboolean have_info = FALSE;

  /* Aggregator (src) thread only. */
  GstBuffer *current = nullptr;
  GstVideoInfo current_info;
  GstClockTime current_rt = GST_CLOCK_TIME_NONE;
  mcu::TileConverter converter;
  GstBuffer *blend_buffer = nullptr; /* tile-sized scratch for alpha < 1 */
  GstVideoInfo blend_info;

  ~McuPadState ()
  {
    gst_clear_buffer (&current);
    gst_clear_buffer (&blend_buffer);
  }
};

struct _GstMcuCompositorPad {
  GstAggregatorPad parent;

  guint port; /* constant after creation */

  /* Guarded by the pad's object lock. */
  gint order;
  gboolean visible;
  gboolean speaker;
  gint xpos, ypos, width, height;
  guint zorder;
  gdouble alpha;
  gchar *label;

  McuPadState *state;
};

struct _GstMcuCompositorAudioPad {
  GstAggregatorPad parent;

  guint port; /* constant after creation */

  /* Guarded by the pad's object lock: the caps of the stream, and a serial
   * bumped on each change so the aggregator thread passes them on once. */
  GstCaps *caps;
  guint caps_serial;

  /* Aggregator thread only. */
  guint applied_serial;
  gboolean caps_ok;
};

/* One audio output: audio_src (full mix) or audio_src_%u (mix-minus). */
struct AudioOut {
  GstPad *pad = nullptr; /* owned reference */
  gboolean minus = FALSE;
  guint port = 0;
  /* Aggregator thread only: sticky events still to send. */
  bool need_stream_start = true;
  bool need_caps = true;
  bool need_segment = true;
  /* The output's own streaming thread (constant after creation). */
  std::unique_ptr<OutputPusher> pusher;

  explicit AudioOut (GstPad *p)
      : pad (GST_PAD (gst_object_ref (p))), pusher (new OutputPusher (p))
  {}
  ~AudioOut ()
  {
    pusher.reset ();
    gst_object_unref (pad);
  }
};

struct LayoutEntry {
  guint port;
  gint x, y, width, height;

  bool operator== (const LayoutEntry &o) const
  {
    return port == o.port && x == o.x && y == o.y && width == o.width
           && height == o.height;
  }
};

struct McuCompositorPrivate {
  /* Aggregator thread only (negotiated_src_caps runs there too). */
  GstVideoInfo out_info;
  bool have_out_info = false;
  GstClockTime ts_offset = GST_CLOCK_TIME_NONE;
  guint64 nframes = 0;
  bool discont = false; /* frames were skipped: flag the next one */
  std::vector<LayoutEntry> last_layout;
  GstMcuCompositorLayout last_layout_kind = GST_MCU_COMPOSITOR_LAYOUT_GRID;
  bool layout_posted = false;
  /* Background and label colours converted to the output format. */
  guint bg_argb = 0;
  GstVideoFormat bg_format = GST_VIDEO_FORMAT_UNKNOWN;
  mcu::PlanePixel bg_pixel, label_box_pixel, label_text_pixel, speaking_pixel;
  /* auto-speaker: the port shown large, and the one about to be. */
  guint auto_speaker = G_MAXUINT;
  guint speaker_candidate = G_MAXUINT;
  GstClockTime speaker_candidate_since = GST_CLOCK_TIME_NONE;
  /* Running time each port's level was last above the minimum. */
  std::map<guint, GstClockTime> last_voice;
  /* The port marked as speaking (G_MAXUINT: none): written by the
   * aggregator thread, read by the pads' speaking property. */
  std::atomic<guint> speaking_port{G_MAXUINT};

  /* Guarded by audio_lock (audio_info is only written by the aggregator
   * thread, which may read it without the lock). */
  std::mutex audio_lock;
  std::unique_ptr<McuAudioMix> mix;
  GstAudioInfo audio_info;
  std::set<guint> mix_ports;
  std::vector<std::shared_ptr<AudioOut>> audio_outs;
  std::map<guint, double> levels;
  bool outputs_running = false; /* between start and stop */

  /* The composite's own streaming thread (constant after init). */
  std::unique_ptr<OutputPusher> video_out;
};

struct _GstMcuCompositor {
  GstAggregator parent;

  GstPad *audio_srcpad; /* constant after init */

  /* Guarded by the object lock. */
  gint width, height, fps_n, fps_d;
  guint background;
  GstMcuCompositorLayout layout;
  GstMcuCompositorTileFit tile_fit;
  gboolean auto_speaker;
  guint signal_timeout;
  guint max_tiles;
  gboolean force_live;
  guint speaking_border;

  gboolean registered; /* in the hub registry; dispose only */

  McuCompositorPrivate *priv;
};

/* ---- Audio outputs (mcucompositoraudio.cpp) ---- */

/* Chooses the output audio format from what downstream of the audio
 * outputs accepts and makes the mix.  With audio_lock held. */
void mcu_audio_setup (GstMcuCompositor *self);
/* audio_src and audio_src_%u: caps from the template, timing queries
 * answered by the video output, events upstream dropped. */
gboolean gst_mcu_compositor_audio_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
gboolean gst_mcu_compositor_audio_src_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
/* The audio outputs now (taken under audio_lock). */
std::vector<std::shared_ptr<AudioOut>> mcu_audio_outputs (
    McuCompositorPrivate *priv);
/* Sends the sticky events @out still owes downstream. */
void mcu_audio_push_sticky (
    GstMcuCompositor *self, AudioOut &out, const GstSegment *segment);
/* One frame's worth of audio (frame @nframes of the output) rendered from
 * the mix of @audio_ports: the full mix on audio_src, each mix-minus on its
 * audio_src_%u, each queued for its output's own thread. */
void mcu_audio_output_frame (GstMcuCompositor *self, const GstSegment *segment,
    GstClockTime ts_offset, guint64 nframes, gint fps_n, gint fps_d,
    const std::set<guint> &audio_ports);
