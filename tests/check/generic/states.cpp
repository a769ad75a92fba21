/* gst-rooms: every element of the project walks through all state changes,
 * alone, repeatedly and without leaking.  An element that cannot start on its
 * own (a hubport without a hub) must refuse with an error message, never crash
 * or hang. */
#include "roomcheck.h"

#include <algorithm>
#include <string>
#include <vector>

static std::vector<std::string>
project_elements ()
{
  std::vector<std::string> names;
  for (const char *plugin_name : {"roomhub", "roomvision", "roomwebrtc"}) {
    GList *features = gst_registry_get_feature_list_by_plugin (
        gst_registry_get (), plugin_name);
    for (GList *l = features; l; l = l->next) {
      if (GST_IS_ELEMENT_FACTORY (l->data))
        names.push_back (GST_OBJECT_NAME (l->data));
    }
    gst_plugin_feature_list_free (features);
  }
  return names;
}

static void
check_transition (GstElement *element, GstState target)
{
  GstStateChangeReturn ret = gst_element_set_state (element, target);
  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state (element, NULL, NULL, 5 * GST_SECOND);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    /* Refusing is fine only with an error that says why. */
    GstBus *bus = GST_ELEMENT_BUS (element);
    GstMessage *msg =
        bus ? gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) : NULL;
    fail_unless (msg != NULL, "%s refused %s without an error message",
        GST_OBJECT_NAME (element), gst_element_state_get_name (target));
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    GST_INFO ("%s refused %s: %s", GST_OBJECT_NAME (element),
        gst_element_state_get_name (target), err->message);
    fail_unless (err->message && *err->message);
    g_error_free (err);
    gst_message_unref (msg);
  } else {
    fail_unless (
        ret == GST_STATE_CHANGE_SUCCESS || ret == GST_STATE_CHANGE_NO_PREROLL,
        "%s: %s -> %s gave %s", GST_OBJECT_NAME (element),
        gst_element_state_get_name (GST_STATE (element)),
        gst_element_state_get_name (target),
        gst_element_state_change_return_get_name (ret));
  }
}

GST_START_TEST (test_state_changes)
{
  std::vector<std::string> names = project_elements ();
  /* Every element this build made is there: a plugin that does not load must
   * fail this test, not shrink it. */
  gchar **built = g_strsplit (ROOMS_ELEMENTS, ",", -1);
  for (gchar **b = built; *b; b++)
    fail_unless (std::find (names.begin (), names.end (), *b) != names.end (),
        "element %s was built but is not registered", *b);
  fail_unless_equals_int (names.size (), g_strv_length (built));
  g_strfreev (built);

  for (const std::string &name : names) {
    GST_INFO ("element %s", name.c_str ());
    for (int round = 0; round < 3; round++) {
      GstElement *pipeline = gst_pipeline_new (NULL);
      GstElement *element = gst_element_factory_make (name.c_str (), NULL);
      fail_unless (element != NULL, "cannot create %s", name.c_str ());
      gst_bin_add (GST_BIN (pipeline), element);

      for (GstState s : {GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING,
               GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_PLAYING,
               GST_STATE_READY, GST_STATE_NULL})
        check_transition (pipeline, s);
      gst_object_unref (pipeline);
    }
  }
}
GST_END_TEST;

static Suite *
states_suite (void)
{
  Suite *s = suite_create ("states");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_state_changes);
  return s;
}

ROOM_CHECK_MAIN (states);
