/* gst-rooms: chromakey replaces a colour key by a background image, a
 * background video or transparency. */
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_CHROMA_KEY (gst_chroma_key_get_type ())
G_DECLARE_FINAL_TYPE (
    GstChromaKey, gst_chroma_key, GST, CHROMA_KEY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (chromakey);

G_END_DECLS
