/* gst-rooms: the roomvision plugin registers the vision filters. */

#include <gst/gst.h>

#ifdef HAVE_ELEMENT_QRDETECT
#include "gstqrdetect.h"
#endif
#ifdef HAVE_ELEMENT_FACEOVERLAYFILTER
#include "gstfaceoverlayfilter.h"
#endif
#ifdef HAVE_ELEMENT_CHROMAKEY
#include "gstchromakey.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

#ifdef HAVE_ELEMENT_QRDETECT
  ret |= GST_ELEMENT_REGISTER (qrdetect, plugin);
#endif
#ifdef HAVE_ELEMENT_FACEOVERLAYFILTER
  ret |= GST_ELEMENT_REGISTER (faceoverlayfilter, plugin);
#endif
#ifdef HAVE_ELEMENT_CHROMAKEY
  ret |= GST_ELEMENT_REGISTER (chromakey, plugin);
#endif

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, roomvision,
    "gst-rooms vision filters: QR codes, faces, chroma key (OpenCV)",
    plugin_init, PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME,
    GST_PACKAGE_ORIGIN)
