/* gst-rooms: faceoverlayfilter — an image (or a blur) on every face. */
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_FACE_OVERLAY_FILTER (gst_face_overlay_filter_get_type ())
G_DECLARE_FINAL_TYPE (GstFaceOverlayFilter, gst_face_overlay_filter, GST,
    FACE_OVERLAY_FILTER, GstVideoFilter)

#define GST_TYPE_FACE_OVERLAY_FILTER_MODE                                      \
  (gst_face_overlay_filter_mode_get_type ())
GType gst_face_overlay_filter_mode_get_type (void);

/**
 * GstFaceOverlayFilterMode:
 * @GST_FACE_OVERLAY_FILTER_MODE_OVERLAY: draw `image` over each face
 * @GST_FACE_OVERLAY_FILTER_MODE_BLUR: blur each face rectangle
 */
typedef enum {
  GST_FACE_OVERLAY_FILTER_MODE_OVERLAY,
  GST_FACE_OVERLAY_FILTER_MODE_BLUR,
} GstFaceOverlayFilterMode;

struct FaceOverlayFilterPrivate;

struct _GstFaceOverlayFilter {
  GstVideoFilter parent;

  /* C++ state, created in _init and deleted in finalize. */
  FaceOverlayFilterPrivate *priv;
};

GST_ELEMENT_REGISTER_DECLARE (faceoverlayfilter);

G_END_DECLS
