/* gst-rooms: the roomhub plugin registers the hub elements. */

#include <gst/gst.h>

#ifdef HAVE_ELEMENT_MCUCOMPOSITOR
#include "gstmcucompositor.h"
#endif
#ifdef HAVE_ELEMENT_DISPATCHER
#include "gstdispatcher.h"
#endif
#ifdef HAVE_ELEMENT_HUBPORT
#include "gsthubport.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

#ifdef HAVE_ELEMENT_MCUCOMPOSITOR
  ret |= GST_ELEMENT_REGISTER (mcucompositor, plugin);
#endif
#ifdef HAVE_ELEMENT_DISPATCHER
  ret |= GST_ELEMENT_REGISTER (dispatcher, plugin);
#endif
#ifdef HAVE_ELEMENT_HUBPORT
  ret |= GST_ELEMENT_REGISTER (hubport, plugin);
#endif

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, roomhub,
    "gst-rooms hubs: MCU composite, switchboard and participant ports",
    plugin_init, PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME,
    GST_PACKAGE_ORIGIN)
