/* gst-rooms: the process-wide list of hub elements, looked up by name. */
#include "hubregistry.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace {

/* One watcher.  Shared between the registry and every call in flight, so its
 * user data is freed only after the last call has returned. */
struct Watch {
  GstRoomHubRegistryWatch func;
  gpointer user_data;
  GDestroyNotify notify;
  ~Watch ()
  {
    if (notify)
      notify (user_data);
  }
};

struct Registry {
  std::mutex lock;
  /* Weak references: a hub that is being finalized is never handed out. */
  std::vector<std::unique_ptr<GWeakRef>> hubs;
  std::map<guint, std::shared_ptr<Watch>> watches;
  guint next_watch_id = 1;
};

Registry &
registry ()
{
  static Registry *instance =
      new Registry (); /* never freed: lives as long as the process */
  return *instance;
}

void
notify_watches ()
{
  std::vector<std::shared_ptr<Watch>> to_call;
  {
    std::lock_guard<std::mutex> guard (registry ().lock);
    for (auto &w : registry ().watches)
      to_call.push_back (w.second);
  }
  for (auto &w : to_call)
    w->func (w->user_data);
}

void
on_name_changed (GObject *, GParamSpec *, gpointer)
{
  notify_watches ();
}

} // namespace

void
gst_room_hub_registry_add (GstElement *hub)
{
  {
    std::lock_guard<std::mutex> guard (registry ().lock);
    auto ref = std::make_unique<GWeakRef> ();
    g_weak_ref_init (ref.get (), hub);
    registry ().hubs.push_back (std::move (ref));
  }
  g_signal_connect (hub, "notify::name", G_CALLBACK (on_name_changed), NULL);
  notify_watches ();
}

void
gst_room_hub_registry_remove (GstElement *hub)
{
  std::lock_guard<std::mutex> guard (registry ().lock);
  auto &hubs = registry ().hubs;
  hubs.erase (std::remove_if (hubs.begin (), hubs.end (),
                  [hub] (const std::unique_ptr<GWeakRef> &ref) {
                    GObject *obj = G_OBJECT (g_weak_ref_get (ref.get ()));
                    bool dead_or_this = (obj == NULL || obj == G_OBJECT (hub));
                    if (obj)
                      g_object_unref (obj);
                    if (dead_or_this)
                      g_weak_ref_clear (ref.get ());
                    return dead_or_this;
                  }),
      hubs.end ());
}

GstElement *
gst_room_hub_registry_lookup (const gchar *name)
{
  if (name == NULL)
    return NULL;
  std::lock_guard<std::mutex> guard (registry ().lock);
  /* Newest first: a new hub shadows an older one of the same name that is
   * still on its way out. */
  auto &hubs = registry ().hubs;
  for (auto it = hubs.rbegin (); it != hubs.rend (); ++it) {
    auto &ref = *it;
    GstElement *hub = GST_ELEMENT (g_weak_ref_get (ref.get ()));
    if (hub == NULL)
      continue;
    GST_OBJECT_LOCK (hub);
    bool match = g_strcmp0 (GST_OBJECT_NAME (hub), name) == 0;
    GST_OBJECT_UNLOCK (hub);
    if (match)
      return hub;
    gst_object_unref (hub);
  }
  return NULL;
}

guint
gst_room_hub_registry_watch (
    GstRoomHubRegistryWatch func, gpointer user_data, GDestroyNotify notify)
{
  auto watch = std::make_shared<Watch> ();
  watch->func = func;
  watch->user_data = user_data;
  watch->notify = notify;
  std::lock_guard<std::mutex> guard (registry ().lock);
  guint id = registry ().next_watch_id++;
  registry ().watches[id] = std::move (watch);
  return id;
}

void
gst_room_hub_registry_unwatch (guint id)
{
  std::shared_ptr<Watch> removed;
  {
    std::lock_guard<std::mutex> guard (registry ().lock);
    auto it = registry ().watches.find (id);
    if (it == registry ().watches.end ())
      return;
    removed = std::move (it->second);
    registry ().watches.erase (it);
  }
  /* `removed` is released here, outside the lock: the notify may run now or
   * when a call in flight in another thread returns. */
}
