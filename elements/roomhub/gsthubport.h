/* gst-rooms: hubport, a participant's connection to a hub (mcucompositor or
 * dispatcher), possibly in another pipeline of the same process. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_HUB_PORT (gst_hub_port_get_type ())
G_DECLARE_FINAL_TYPE (GstHubPort, gst_hub_port, GST, HUB_PORT, GstElement)

GST_ELEMENT_REGISTER_DECLARE (hubport);

G_END_DECLS
