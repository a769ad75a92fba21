/* gst-rooms: dumps the public interface of every element of the project —
 * properties with types, defaults, ranges and flags, pad templates with their
 * pad types and caps, and pad properties — and compares it with the committed
 * docs/interfaces.txt, so that every interface change is deliberate.
 *
 *   check-generic-interfaces            compare (the test)
 *   check-generic-interfaces --write    rewrite docs/interfaces.txt
 */
#include <gst/gst.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string
flags_string (GParamFlags flags)
{
  std::string s;
  auto add = [&s] (const char *word) {
    if (!s.empty ())
      s += ",";
    s += word;
  };
  if (flags & G_PARAM_READABLE)
    add ("readable");
  if (flags & G_PARAM_WRITABLE)
    add ("writable");
  if (flags & G_PARAM_CONSTRUCT_ONLY)
    add ("construct-only");
  if (flags & GST_PARAM_CONTROLLABLE)
    add ("controllable");
  if (flags & GST_PARAM_MUTABLE_PLAYING)
    add ("changeable-in-playing");
  else if (flags & GST_PARAM_MUTABLE_PAUSED)
    add ("changeable-in-paused");
  else if ((flags & G_PARAM_WRITABLE) && (flags & GST_PARAM_MUTABLE_READY))
    add ("changeable-in-ready");
  return s;
}

std::string
range_string (GParamSpec *pspec)
{
  std::ostringstream out;
  if (G_IS_PARAM_SPEC_INT (pspec)) {
    auto *p = G_PARAM_SPEC_INT (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_UINT (pspec)) {
    auto *p = G_PARAM_SPEC_UINT (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_INT64 (pspec)) {
    auto *p = G_PARAM_SPEC_INT64 (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_UINT64 (pspec)) {
    auto *p = G_PARAM_SPEC_UINT64 (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_DOUBLE (pspec)) {
    auto *p = G_PARAM_SPEC_DOUBLE (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_FLOAT (pspec)) {
    auto *p = G_PARAM_SPEC_FLOAT (pspec);
    out << " range=[" << p->minimum << "," << p->maximum << "]";
  } else if (G_IS_PARAM_SPEC_ENUM (pspec)) {
    GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
    out << " values=";
    for (guint i = 0; i < klass->n_values; i++)
      out << (i ? "|" : "") << klass->values[i].value_nick;
  }
  return out.str ();
}

void
dump_properties (std::ostream &out, GObjectClass *klass,
    const std::vector<GType> &skip_owners, const char *indent, const char *what)
{
  guint n = 0;
  GParamSpec **specs = g_object_class_list_properties (klass, &n);
  std::vector<GParamSpec *> sorted (specs, specs + n);
  std::sort (sorted.begin (), sorted.end (), [] (GParamSpec *a, GParamSpec *b) {
    return g_strcmp0 (a->name, b->name) < 0;
  });
  for (GParamSpec *pspec : sorted) {
    if (std::find (skip_owners.begin (), skip_owners.end (), pspec->owner_type)
        != skip_owners.end ())
      continue;
    out << indent << what << " " << pspec->name << ": "
        << g_type_name (pspec->value_type);
    if (pspec->flags & G_PARAM_READABLE) {
      const GValue *def = g_param_spec_get_default_value (pspec);
      gchar *text = NULL;
      if (G_VALUE_HOLDS_ENUM (def)) {
        GEnumValue *v = g_enum_get_value (
            G_PARAM_SPEC_ENUM (pspec)->enum_class, g_value_get_enum (def));
        text = g_strdup (v ? v->value_nick : "?");
      } else {
        text = g_strdup_value_contents (def);
      }
      out << " default=" << text;
      g_free (text);
    }
    out << range_string (pspec) << " flags=" << flags_string (pspec->flags)
        << "\n";
    out << indent << "  \"" << g_param_spec_get_blurb (pspec) << "\"\n";
  }
  g_free (specs);
}

std::string
dump_element (GstElementFactory *factory)
{
  std::ostringstream out;
  GstElement *element = gst_element_factory_create (factory, NULL);
  if (!element)
    return std::string ("element ") + GST_OBJECT_NAME (factory)
           + ": cannot be created\n";

  out << "element " << GST_OBJECT_NAME (factory) << " ("
      << G_OBJECT_TYPE_NAME (element) << ", plugin "
      << gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (factory))
      << ")\n";
  out << "  klass: "
      << gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_KLASS)
      << "\n";
  dump_properties (out, G_OBJECT_GET_CLASS (element),
      {GST_TYPE_OBJECT, G_TYPE_OBJECT}, "  ", "property");

  std::vector<GstStaticPadTemplate *> templates;
  for (const GList *l = gst_element_factory_get_static_pad_templates (factory);
       l; l = l->next)
    templates.push_back ((GstStaticPadTemplate *)l->data);
  /* The registry cache does not keep the order the element added them in. */
  std::sort (templates.begin (), templates.end (),
      [] (GstStaticPadTemplate *a, GstStaticPadTemplate *b) {
        return g_strcmp0 (a->name_template, b->name_template) < 0;
      });
  for (GstStaticPadTemplate *st : templates) {
    GstPadTemplate *templ =
        gst_element_get_pad_template (element, st->name_template);
    static const char *directions[] = {"unknown", "src", "sink"};
    static const char *presences[] = {"always", "sometimes", "request"};
    GType pad_type = templ ? GST_PAD_TEMPLATE_GTYPE (templ) : G_TYPE_NONE;
    if (pad_type == G_TYPE_NONE)
      pad_type = GST_TYPE_PAD;
    out << "  pad-template " << st->name_template << ": "
        << directions[st->direction] << ", " << presences[st->presence] << ", "
        << g_type_name (pad_type) << "\n";
    GstCaps *caps = gst_static_caps_get (&st->static_caps);
    gchar *caps_text = gst_caps_to_string (caps);
    out << "    caps: " << caps_text << "\n";
    g_free (caps_text);
    gst_caps_unref (caps);
    if (g_type_is_a (pad_type, GST_TYPE_PAD) && pad_type != GST_TYPE_PAD) {
      GObjectClass *pad_class = G_OBJECT_CLASS (g_type_class_ref (pad_type));
      dump_properties (out, pad_class,
          {GST_TYPE_PAD, GST_TYPE_OBJECT, G_TYPE_OBJECT, GST_TYPE_PROXY_PAD,
              GST_TYPE_GHOST_PAD},
          "    ", "pad-property");
      g_type_class_unref (pad_class);
    }
  }
  gst_object_unref (element);
  return out.str ();
}

std::string
dump_all ()
{
  std::vector<std::string> names;
  for (const char *plugin_name : {"roomhub", "roomvision", "roomwebrtc"}) {
    GList *features = gst_registry_get_feature_list_by_plugin (
        gst_registry_get (), plugin_name);
    for (GList *l = features; l; l = l->next)
      if (GST_IS_ELEMENT_FACTORY (l->data))
        names.push_back (GST_OBJECT_NAME (l->data));
    gst_plugin_feature_list_free (features);
  }
  std::sort (names.begin (), names.end ());
  std::string all;
  for (const std::string &name : names) {
    GstElementFactory *factory = gst_element_factory_find (name.c_str ());
    all += dump_element (factory) + "\n";
    gst_object_unref (factory);
  }
  return all;
}

} // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  const char *root = g_getenv ("ROOMS_SOURCE_ROOT");
  std::string path = std::string (root ? root : ".") + "/docs/interfaces.txt";
  std::string now = dump_all ();
  int status = 0;

  if (argc > 1 && g_str_equal (argv[1], "--write")) {
    std::ofstream (path) << now;
    std::cout << "wrote " << path << "\n";
  } else {
    std::ifstream in (path);
    std::stringstream committed;
    if (in)
      committed << in.rdbuf ();
    if (!in || committed.str () != now) {
      std::string fresh = path + ".new";
      std::ofstream (fresh) << now;
      std::cout << "FAIL: the elements' interfaces differ from " << path
                << ".\nCompare with: diff -u " << path << " " << fresh
                << "\nIf the change is deliberate, run: meson devenv -C build"
                   " tests/check/check-generic-interfaces --write\n";
      status = 1;
    } else {
      std::cout << "interfaces match " << path << "\n";
    }
  }
  gst_deinit ();
  return status;
}
