/* gst-rooms: the roomwebrtc plugin registers the WebRTC fan-out sink. */

#include <gst/gst.h>

#ifdef HAVE_ELEMENT_WEBRTCFANOUTSINK
#include "gstwebrtcfanoutsink.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

#ifdef HAVE_ELEMENT_WEBRTCFANOUTSINK
  ret |= GST_ELEMENT_REGISTER (webrtcfanoutsink, plugin);
#endif

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, roomwebrtc,
    "gst-rooms WebRTC: one program to many viewers", plugin_init,
    PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
