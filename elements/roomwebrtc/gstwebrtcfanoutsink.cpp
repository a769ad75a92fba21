/* placeholder: the element is written on this branch */
#include "gstwebrtcfanoutsink.h"

struct _GstWebrtcFanoutSink {
  GstElement parent;
};

G_DEFINE_TYPE (GstWebrtcFanoutSink, gst_webrtc_fanout_sink, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (webrtcfanoutsink, "webrtcfanoutsink", GST_RANK_NONE,
    GST_TYPE_WEBRTC_FANOUT_SINK);

static void
gst_webrtc_fanout_sink_class_init (GstWebrtcFanoutSinkClass *klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass),
      "WebRTC fan-out sink", "Sink/Network/WebRTC",
      "Sends one RTP program to many WebRTC viewers", "gst-rooms");
}

static void
gst_webrtc_fanout_sink_init (GstWebrtcFanoutSink *self)
{
}
