/* gst-rooms: the process-wide hub registry (lookup by current name, weak
 * references, watches). */
#include "roomcheck.h"

#include "hubregistry.h"

struct WatchCount {
  gint calls;
  gint freed;
};

static void
count_call (gpointer data)
{
  g_atomic_int_inc (&((WatchCount *)data)->calls);
}

static void
count_free (gpointer data)
{
  g_atomic_int_inc (&((WatchCount *)data)->freed);
}

GST_START_TEST (test_lookup_rename_remove)
{
  WatchCount count = {0, 0};
  guint watch = gst_room_hub_registry_watch (count_call, &count, count_free);

  GstElement *hub = gst_element_factory_make ("fakesink", "hub-a");
  gst_object_ref_sink (hub);
  gst_room_hub_registry_add (hub);
  fail_unless (count.calls >= 1, "adding a hub did not call the watch");

  GstElement *found = gst_room_hub_registry_lookup ("hub-a");
  fail_unless (found == hub);
  gst_object_unref (found);
  fail_unless (gst_room_hub_registry_lookup ("hub-b") == NULL);
  fail_unless (gst_room_hub_registry_lookup (NULL) == NULL);

  /* Looked up by its current name; a rename calls the watch. */
  gint before = count.calls;
  gst_object_set_name (GST_OBJECT (hub), "hub-b");
  fail_unless (count.calls > before, "renaming a hub did not call the watch");
  fail_unless (gst_room_hub_registry_lookup ("hub-a") == NULL);
  found = gst_room_hub_registry_lookup ("hub-b");
  fail_unless (found == hub);
  gst_object_unref (found);

  gst_room_hub_registry_remove (hub);
  fail_unless (gst_room_hub_registry_lookup ("hub-b") == NULL);
  gst_object_unref (hub);

  fail_unless_equals_int (count.freed, 0);
  gst_room_hub_registry_unwatch (watch);
  fail_unless_equals_int (count.freed, 1);
  before = count.calls;
  GstElement *other = gst_element_factory_make ("fakesink", "hub-c");
  gst_object_ref_sink (other);
  gst_room_hub_registry_add (other);
  fail_unless_equals_int (count.calls, before);
  gst_room_hub_registry_remove (other);
  gst_object_unref (other);
}
GST_END_TEST;

/* The registry holds weak references: a hub that is gone without removing
 * itself is never handed out. */
GST_START_TEST (test_weak_references)
{
  GstElement *hub = gst_element_factory_make ("fakesink", "hub-weak");
  gst_object_ref_sink (hub);
  gst_room_hub_registry_add (hub);
  gst_object_unref (hub);
  fail_unless (gst_room_hub_registry_lookup ("hub-weak") == NULL);
}
GST_END_TEST;

/* A new hub shadows an older one of the same name still on its way out. */
GST_START_TEST (test_newest_first)
{
  GstElement *old_hub = gst_element_factory_make ("fakesink", "same");
  GstElement *new_hub = gst_element_factory_make ("fakesink", "same");
  gst_object_ref_sink (old_hub);
  gst_object_ref_sink (new_hub);
  gst_room_hub_registry_add (old_hub);
  gst_room_hub_registry_add (new_hub);
  GstElement *found = gst_room_hub_registry_lookup ("same");
  fail_unless (found == new_hub);
  gst_object_unref (found);
  gst_room_hub_registry_remove (new_hub);
  found = gst_room_hub_registry_lookup ("same");
  fail_unless (found == old_hub);
  gst_object_unref (found);
  gst_room_hub_registry_remove (old_hub);
  gst_object_unref (old_hub);
  gst_object_unref (new_hub);
}
GST_END_TEST;

/* The hubs register themselves; renaming one tells each watcher once (the
 * hubs used to signal it a second time on their own). */
GST_START_TEST (test_hub_rename_notifies_once)
{
  for (const char *factory : {"mcucompositor", "dispatcher"}) {
    GstElement *hub = gst_element_factory_make (factory, "before");
    fail_unless (hub != NULL, "no %s", factory);
    gst_object_ref_sink (hub);
    GstElement *found = gst_room_hub_registry_lookup ("before");
    fail_unless (found == hub, "%s did not register itself", factory);
    gst_object_unref (found);

    WatchCount count = {0, 0};
    guint watch = gst_room_hub_registry_watch (count_call, &count, count_free);
    gst_object_set_name (GST_OBJECT (hub), "after");
    fail_unless_equals_int (count.calls, 1);
    found = gst_room_hub_registry_lookup ("after");
    fail_unless (found == hub);
    gst_object_unref (found);
    gst_room_hub_registry_unwatch (watch);
    gst_object_unref (hub);
    fail_unless (gst_room_hub_registry_lookup ("after") == NULL);
  }
}
GST_END_TEST;

static Suite *
hubregistry_suite (void)
{
  Suite *s = suite_create ("hubregistry");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_lookup_rename_remove);
  tcase_add_test (tc, test_weak_references);
  tcase_add_test (tc, test_newest_first);
  tcase_add_test (tc, test_hub_rename_notifies_once);
  return s;
}

ROOM_CHECK_MAIN (hubregistry);
