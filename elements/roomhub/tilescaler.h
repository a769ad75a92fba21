/* gst-rooms: the fast tile scaler of mcucompositor, and a process-wide pool
 * of worker threads.
 *
 * gst_room_tile_scale() scales a crop of one frame straight into a rectangle
 * of another frame of the same format with a separable fixed-point filter:
 * area averaging (box) on an axis that shrinks, bilinear on an axis that
 * enlarges, plain copies at 1:1 and dedicated kernels for exact 2:1 and 3:1
 * shrinks.  Supported: planar YUV/RGB with 8-bit samples (I420, YV12, Y41B,
 * Y42B, Y444, A420, GRAY8, GBR, GBRA), semi-planar (NV12, NV21, NV16, NV61,
 * NV24) and packed 24/32-bit (RGB, BGR, v308, IYU2, RGBA, BGRA, ARGB, ABGR,
 * RGBx, BGRx, xRGB, xBGR, AYUV, VUYA).
 *
 * Subsampled planes: a chroma sample belongs to the destination rectangle
 * when the luma pixel it is sited on (its top-left one) is inside the
 * rectangle.  So at odd offsets no chroma sample of a pixel outside the
 * rectangle is written, and tiles that abut at an odd column or row share
 * no sample (they can be rendered in parallel).
 *
 * Threads: a call on a tile of at least 128x128 destination pixels splits
 * the tile into horizontal bands and runs them on gst_room_parallel_for().
 * When called from inside a gst_room_parallel_for() task (e.g. the caller
 * runs one task per tile, as mcucompositor does), the call runs inline on
 * that thread, so both ways of calling use every core without nesting the
 * pool.  Filter tables are cached by geometry, so steady-state calls do not
 * allocate.
 */
#pragma once

#include <functional>
#include <gst/video/video.h>

/* TRUE if gst_room_tile_scale() handles frames of @format. */
gboolean gst_room_tile_scale_supported (GstVideoFormat format);

/* Scales the crop (sx,sy,sw,sh) of src into the rectangle (dx,dy,dw,dh) of
 * dst; both frames have the same format; alpha in [0,1] blends over dst (1.0
 * = overwrite). Returns FALSE if the format is unsupported (the caller then
 * falls back to GstVideoConverter). Thread-safe, no allocation per call in
 * the steady state.
 *
 * Rectangles are clipped to their frames.  The alpha channel of formats that
 * have one is scaled like any other channel; only @alpha weighs the blend. */
gboolean gst_room_tile_scale (const GstVideoFrame *src, gint sx, gint sy,
    gint sw, gint sh, GstVideoFrame *dst, gint dx, gint dy, gint dw, gint dh,
    gdouble alpha);

/* Runs fn(i) for i in [0,n) on a process-wide pool of worker threads (one
 * per core, the caller's thread takes part) and returns when all are done.
 *
 * Called from inside a task of the pool, or while another thread's job
 * occupies the pool, it runs every index inline on the calling thread.  With
 * n == 1 it just calls fn(0) on the calling thread, not as a task, so a
 * single tile scaled there still spreads its bands over the pool.  An
 * exception thrown by @fn is rethrown to the caller once all indices ran. */
void gst_room_parallel_for (guint n, const std::function<void (guint)> &fn);
