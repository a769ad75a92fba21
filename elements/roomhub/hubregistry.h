/* gst-rooms: the process-wide list of hub elements, looked up by name.
 *
 * A hub (mcucompositor, dispatcher) adds itself when it is created and removes
 * itself when it is disposed, so a hubport in any pipeline of the process can
 * find it by its current element name.  The registry holds weak references
 * only.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Called by a hub from its instance init and its dispose. */
void gst_room_hub_registry_add (GstElement *hub);
void gst_room_hub_registry_remove (GstElement *hub);

/* The live hub whose element name is @name, with a new reference, or NULL.
 * With several, the one added last. */
GstElement *gst_room_hub_registry_lookup (const gchar *name);

/* Called (without the registry lock held) whenever a hub is added or renamed,
 * so a waiting port can retry its lookup.  Returns an id for
 * gst_room_hub_registry_unwatch().  @notify (may be NULL) frees @user_data
 * once the watch is removed and no call of @func is running any more, so a
 * watcher may be unwatched from any thread while a hub is being added in
 * another. */
typedef void (*GstRoomHubRegistryWatch) (gpointer user_data);
guint gst_room_hub_registry_watch (
    GstRoomHubRegistryWatch func, gpointer user_data, GDestroyNotify notify);
void gst_room_hub_registry_unwatch (guint id);

G_END_DECLS
