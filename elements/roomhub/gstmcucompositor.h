/* gst-rooms: mcucompositor, the MCU composite of a room's ports (video and
 * audio). */
#pragma once

#include <gst/base/gstaggregator.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstMcuCompositorLayout:
 * @GST_MCU_COMPOSITOR_LAYOUT_GRID: active ports in a grid
 * @GST_MCU_COMPOSITOR_LAYOUT_SPEAKER: one large tile, the others in a strip
 * @GST_MCU_COMPOSITOR_LAYOUT_PIP: the first port full frame, others as insets
 * @GST_MCU_COMPOSITOR_LAYOUT_CUSTOM: pad xpos/ypos/width/height/zorder/alpha
 */
typedef enum {
  GST_MCU_COMPOSITOR_LAYOUT_GRID,
  GST_MCU_COMPOSITOR_LAYOUT_SPEAKER,
  GST_MCU_COMPOSITOR_LAYOUT_PIP,
  GST_MCU_COMPOSITOR_LAYOUT_CUSTOM,
} GstMcuCompositorLayout;

/**
 * GstMcuCompositorTileFit:
 * @GST_MCU_COMPOSITOR_TILE_FIT_FIT: keep the aspect ratio, letterbox
 * @GST_MCU_COMPOSITOR_TILE_FIT_FILL: keep the aspect ratio, crop to fill
 */
typedef enum {
  GST_MCU_COMPOSITOR_TILE_FIT_FIT,
  GST_MCU_COMPOSITOR_TILE_FIT_FILL,
} GstMcuCompositorTileFit;

#define GST_TYPE_MCU_COMPOSITOR (gst_mcu_compositor_get_type ())
G_DECLARE_FINAL_TYPE (
    GstMcuCompositor, gst_mcu_compositor, GST, MCU_COMPOSITOR, GstAggregator)

#define GST_TYPE_MCU_COMPOSITOR_PAD (gst_mcu_compositor_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstMcuCompositorPad, gst_mcu_compositor_pad, GST,
    MCU_COMPOSITOR_PAD, GstAggregatorPad)

#define GST_TYPE_MCU_COMPOSITOR_AUDIO_PAD                                      \
  (gst_mcu_compositor_audio_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstMcuCompositorAudioPad, gst_mcu_compositor_audio_pad,
    GST, MCU_COMPOSITOR_AUDIO_PAD, GstAggregatorPad)

GST_ELEMENT_REGISTER_DECLARE (mcucompositor);

G_END_DECLS
