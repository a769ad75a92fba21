/* webrtcfanoutsink: one payloaded RTP program to many WebRTC viewers. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_WEBRTC_FANOUT_SINK (gst_webrtc_fanout_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstWebrtcFanoutSink, gst_webrtc_fanout_sink, GST,
    WEBRTC_FANOUT_SINK, GstElement)

/* A video pad of the sink: one rendition of the program's quality ladder,
 * with its `label` and `bitrate`. */
#define GST_TYPE_WEBRTC_FANOUT_SINK_PAD (gst_webrtc_fanout_sink_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstWebrtcFanoutSinkPad, gst_webrtc_fanout_sink_pad, GST,
    WEBRTC_FANOUT_SINK_PAD, GstPad)

GST_ELEMENT_REGISTER_DECLARE (webrtcfanoutsink);

G_END_DECLS
