/* gst-rooms: dispatcher, a switchboard and one-to-many forwarder of raw and
 * encoded media. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DISPATCHER_PAD (gst_dispatcher_pad_get_type ())
G_DECLARE_FINAL_TYPE (
    GstDispatcherPad, gst_dispatcher_pad, GST, DISPATCHER_PAD, GstPad)

#define GST_TYPE_DISPATCHER (gst_dispatcher_get_type ())
G_DECLARE_FINAL_TYPE (
    GstDispatcher, gst_dispatcher, GST, DISPATCHER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (dispatcher);

G_END_DECLS
