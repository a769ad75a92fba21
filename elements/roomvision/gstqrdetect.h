/* gst-rooms: qrdetect, a pass-through filter that reports QR codes in video.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_QR_DETECT (gst_qr_detect_get_type ())
G_DECLARE_FINAL_TYPE (
    GstQrDetect, gst_qr_detect, GST, QR_DETECT, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (qrdetect);

G_END_DECLS
