/* gst-room: reading and checking a room file. */
#include "roomfile.h"

#include <gio/gio.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace {

/* Where each group and key sits in the file: GKeyFile does not say. */
struct LineIndex {
  std::map<std::string, int> groups;
  std::map<std::pair<std::string, std::string>, int> keys;
  /* The first group or key given twice (GKeyFile would merge groups and keep
   * the last key silently), its line and the line it first appeared on. */
  std::string duplicate;
  int duplicate_line = 0, duplicate_first = 0;

  void seen (const std::string &what, int first, int line)
  {
    if (duplicate.empty ()) {
      duplicate = what;
      duplicate_first = first;
      duplicate_line = line;
    }
  }

  int key_line (const std::string &group, const std::string &key) const
  {
    auto it = keys.find ({group, key});
    if (it != keys.end ())
      return it->second;
    auto g = groups.find (group);
    return g != groups.end () ? g->second : 0;
  }
};

bool
is_continuation (const std::string &line)
{
  return !line.empty () && (line[0] == ' ' || line[0] == '\t')
         && line.find_first_not_of (" \t\r") != std::string::npos;
}

/* Long values (launch lines) may go on over lines that start with white
 * space; GKeyFile knows no such thing, so they are joined first.  The line
 * count stays the same: a joined line leaves an empty line behind. */
std::string
join_continuations (const std::string &text)
{
  std::istringstream in (text);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline (in, line))
    lines.push_back (line);
  for (size_t i = 1; i < lines.size (); i++) {
    if (!is_continuation (lines[i]))
      continue;
    size_t target = i - 1;
    while (target > 0 && lines[target].empty ())
      target--;
    std::string piece = lines[i].substr (lines[i].find_first_not_of (" \t"));
    lines[target] += " " + piece;
    lines[i].clear ();
  }
  std::string joined;
  for (const std::string &l : lines)
    joined += l + "\n";
  return joined;
}

LineIndex
index_lines (const std::string &text)
{
  LineIndex index;
  std::istringstream in (text);
  std::string line, group;
  for (int number = 1; std::getline (in, line); number++) {
    if (is_continuation (line))
      continue;
    std::string s = line;
    s.erase (0, s.find_first_not_of (" \t"));
    if (s.empty () || s[0] == '#')
      continue;
    if (s[0] == '[') {
      group = s.substr (1, s.find (']') - 1);
      auto [it, fresh] = index.groups.emplace (group, number);
      if (!fresh)
        index.seen ("group [" + group + "]", it->second, number);
    } else if (s.find ('=') != std::string::npos) {
      std::string key = s.substr (0, s.find ('='));
      key.erase (key.find_last_not_of (" \t") + 1);
      auto [it, fresh] =
          index.keys.emplace (std::make_pair (group, key), number);
      if (!fresh)
        index.seen ("key '" + key + "' of [" + group + "]", it->second, number);
    }
  }
  return index;
}

/* A parse error of GKeyFile, located by finding the first line it rejects. */
int
first_bad_line (const std::string &text)
{
  std::istringstream in (text);
  std::string line;
  for (int number = 1; std::getline (in, line); number++) {
    std::string s = line;
    s.erase (0, s.find_first_not_of (" \t\r"));
    if (s.empty () || s[0] == '#' || s[0] == '['
        || s.find ('=') != std::string::npos)
      continue;
    return number;
  }
  return 0;
}

bool
parse_bool (const std::string &value, bool &out)
{
  if (value == "true" || value == "yes" || value == "1") {
    out = true;
    return true;
  }
  if (value == "false" || value == "no" || value == "0") {
    out = false;
    return true;
  }
  return false;
}

/* "audio,video" style media lists; "none" is empty. */
bool
parse_media (const std::string &value, bool &audio, bool &video)
{
  audio = video = false;
  gchar **parts = g_strsplit_set (value.c_str (), ", ", -1);
  bool ok = true;
  for (gchar **p = parts; *p; p++) {
    if (**p == '\0' || g_str_equal (*p, "none"))
      continue;
    if (g_str_equal (*p, "audio"))
      audio = true;
    else if (g_str_equal (*p, "video"))
      video = true;
    else
      ok = false;
  }
  g_strfreev (parts);
  return ok;
}

/* "a,b c" → {"a","b","c"} */
std::vector<std::string>
parse_list (const std::string &value)
{
  std::vector<std::string> items;
  gchar **parts = g_strsplit_set (value.c_str (), ", ", -1);
  for (gchar **p = parts; *p; p++)
    if (**p != '\0')
      items.push_back (*p);
  g_strfreev (parts);
  return items;
}

/* "720p:program_rtp;360p:program_360;audio-only" → the video rungs and
 * whether audio-only ends it.  False with @why (what is wrong, for the
 * ladder key's message). */
bool
parse_ladder (const std::string &value, std::vector<RoomRung> &rungs,
    bool &audio_only, std::string &why)
{
  rungs.clear ();
  audio_only = false;
  gchar **parts = g_strsplit (value.c_str (), ";", -1);
  std::unique_ptr<gchar *, decltype (&g_strfreev)> guard (parts, g_strfreev);
  guint n = g_strv_length (parts);
  /* one ';' after the last entry is allowed */
  if (n > 1 && g_strstrip (parts[n - 1])[0] == '\0')
    n--;
  for (guint i = 0; i < n; i++) {
    std::string entry = g_strstrip (parts[i]);
    if (entry.empty ()) {
      why = "an empty rung (expected LABEL:HUB;LABEL:HUB[;audio-only])";
      return false;
    }
    if (audio_only) {
      why = "audio-only must be the last rung";
      return false;
    }
    if (entry == ROOM_AUDIO_ONLY_RUNG) {
      if (rungs.empty ()) {
        why = "the first rung is video (LABEL:HUB, the heaviest)";
        return false;
      }
      audio_only = true;
      continue;
    }
    auto colon = entry.find (':');
    if (colon == std::string::npos
        || entry.find (':', colon + 1) != std::string::npos) {
      why = "'" + entry.substr (0, 60)
            + "' is not LABEL:HUB (or audio-only, last)";
      return false;
    }
    auto trim = [] (std::string text) {
      text.erase (0, text.find_first_not_of (" \t"));
      text.erase (text.find_last_not_of (" \t") + 1);
      return text;
    };
    RoomRung rung;
    rung.label = trim (entry.substr (0, colon));
    rung.hub = trim (entry.substr (colon + 1));
    bool label_ok = !rung.label.empty () && rung.label.size () <= 16;
    for (char c : rung.label)
      label_ok =
          label_ok && (g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-');
    if (!label_ok) {
      why = "rung label '" + rung.label.substr (0, 60)
            + "' must be 1 to 16 letters, digits, '.', '_' or '-'";
      return false;
    }
    if (rung.label == "auto" || rung.label == ROOM_AUDIO_ONLY_RUNG) {
      why = "'" + rung.label
            + "' cannot label a video rung (auto means automatic; "
              "audio-only is the last, audio-only rung)";
      return false;
    }
    if (rung.hub.empty ()) {
      why = "rung '" + rung.label + "' names no hub (LABEL:HUB)";
      return false;
    }
    for (const RoomRung &other : rungs) {
      if (other.label == rung.label) {
        why = "two rungs are labelled '" + rung.label + "'";
        return false;
      }
      if (other.hub == rung.hub) {
        why = "rungs '" + other.label + "' and '" + rung.label
              + "' both take hub '" + rung.hub + "'";
        return false;
      }
    }
    rungs.push_back (rung);
  }
  if (rungs.size () + (audio_only ? 1 : 0) < 2) {
    why = "a ladder has at least two rungs (LABEL:HUB;LABEL:HUB or "
          "LABEL:HUB;audio-only)";
    return false;
  }
  return true;
}

} // namespace

std::vector<std::string>
RoomRoleSpec::renditions () const
{
  std::vector<std::string> labels;
  for (const RoomRung &rung : ladder)
    labels.push_back (rung.label);
  if (!ladder.empty () && ladder_audio_only)
    labels.push_back (ROOM_AUDIO_ONLY_RUNG);
  return labels;
}

const RoomRoleSpec *
RoomSpec::find_role (const std::string &name) const
{
  for (const RoomRoleSpec &role : roles)
    if (role.name == name)
      return &role;
  return nullptr;
}

std::string
RoomSpec::where (int line) const
{
  return line > 0 ? path + ":" + std::to_string (line) : path;
}

bool
room_file_load (const std::string &path, RoomSpec &spec, std::string &error)
{
  spec = RoomSpec ();
  spec.path = path;

  gchar *contents = nullptr;
  gsize length = 0;
  GError *err = nullptr;
  if (!g_file_get_contents (path.c_str (), &contents, &length, &err)) {
    error = path + ": cannot read the room file: " + err->message;
    g_error_free (err);
    return false;
  }
  std::string text (contents, length);
  g_free (contents);
  return room_file_parse (path, text, spec, error);
}

bool
room_file_parse (const std::string &path, const std::string &raw,
    RoomSpec &spec, std::string &error)
{
  spec = RoomSpec ();
  spec.path = path;

  GError *err = nullptr;
  /* GKeyFile turns a value it cannot read as UTF-8 into no value at all: a
   * token would silently become "none needed". */
  const gchar *bad = nullptr;
  if (!g_utf8_validate (raw.data (), raw.size (), &bad)) {
    int line = 1 + (int)std::count ((const gchar *)raw.data (), bad, '\n');
    error = spec.where (line) + ": not valid UTF-8 (byte 0x"
            + std::string (1, "0123456789abcdef"[((guint8)*bad) >> 4])
            + std::string (1, "0123456789abcdef"[((guint8)*bad) & 15])
            + "); a room file is UTF-8 text";
    return false;
  }
  std::string text = join_continuations (raw);
  LineIndex lines = index_lines (text);
  if (!lines.duplicate.empty ()) {
    error = spec.where (lines.duplicate_line) + ": " + lines.duplicate
            + " appears twice (first on line "
            + std::to_string (lines.duplicate_first) + ")";
    return false;
  }

  std::unique_ptr<GKeyFile, decltype (&g_key_file_free)> keys (
      g_key_file_new (), g_key_file_free);
  if (!g_key_file_load_from_data (
          keys.get (), text.data (), text.size (), G_KEY_FILE_NONE, &err)) {
    error = spec.where (first_bad_line (text)) + ": " + err->message;
    g_error_free (err);
    return false;
  }

  auto fail = [&] (const std::string &group, const std::string &key,
                  const std::string &what) {
    error = spec.where (lines.key_line (group, key)) + ": [" + group + "]"
            + (key.empty () ? "" : " " + key) + ": " + what;
    return false;
  };
  auto get = [&] (const std::string &group, const char *key) -> std::string {
    gchar *v =
        g_key_file_get_string (keys.get (), group.c_str (), key, nullptr);
    std::string s = v ? v : "";
    g_free (v);
    return s;
  };
  auto has = [&] (const std::string &group, const char *key) {
    return g_key_file_has_key (keys.get (), group.c_str (), key, nullptr);
  };
  auto check_known = [&] (const std::string &group,
                         std::initializer_list<const char *> known) -> bool {
    gsize n = 0;
    gchar **names =
        g_key_file_get_keys (keys.get (), group.c_str (), &n, nullptr);
    std::string unknown;
    for (gsize i = 0; i < n && unknown.empty (); i++) {
      bool ok = false;
      for (const char *k : known)
        ok = ok || g_str_equal (k, names[i]);
      if (!ok)
        unknown = names[i];
    }
    g_strfreev (names);
    if (!unknown.empty ())
      return fail (group, unknown, "unknown key '" + unknown + "'");
    return true;
  };
  auto get_uint = [&] (const std::string &group, const char *key, guint64 max,
                      guint64 &out) -> bool {
    if (!has (group, key))
      return true;
    std::string v = get (group, key);
    guint64 value = 0;
    if (!g_ascii_string_to_unsigned (v.c_str (), 10, 1, max, &value, nullptr))
      return fail (group, key,
          "'" + v + "' is not a number from 1 to " + std::to_string (max));
    out = value;
    return true;
  };

  if (!g_key_file_has_group (keys.get (), "room"))
    return fail (
        "room", "", "missing: every room file starts with a [room] group");

  /* Escapes are checked here, on the raw values: GLib 2.74 reports a value
   * with two bad escapes by setting one GError over another (a warning,
   * fatal where warnings are). */
  {
    gsize n = 0;
    gchar **all = g_key_file_get_groups (keys.get (), &n);
    std::unique_ptr<gchar *, decltype (&g_strfreev)> all_guard (
        all, g_strfreev);
    for (gsize g = 0; g < n; g++) {
      gsize n_keys = 0;
      gchar **names =
          g_key_file_get_keys (keys.get (), all[g], &n_keys, nullptr);
      std::unique_ptr<gchar *, decltype (&g_strfreev)> names_guard (
          names, g_strfreev);
      for (gsize k = 0; k < n_keys; k++) {
        gchar *raw =
            g_key_file_get_value (keys.get (), all[g], names[k], nullptr);
        std::string value = raw ? raw : "";
        g_free (raw);
        for (size_t c = 0; c < value.size (); c++) {
          if (value[c] != '\\')
            continue;
          if (c + 1 < value.size () && strchr ("sntr\\", value[c + 1])) {
            c++;
            continue;
          }
          return fail (all[g], names[k],
              "a backslash starts one of \\s \\n \\t \\r or \\\\ "
              "(write \\\\ for one backslash)");
        }
      }
    }
  }

  gsize n_groups = 0;
  gchar **groups = g_key_file_get_groups (keys.get (), &n_groups);
  std::unique_ptr<gchar *, decltype (&g_strfreev)> groups_guard (
      groups, g_strfreev);
  for (gsize i = 0; i < n_groups; i++) {
    std::string group = groups[i];
    if (group == "room") {
      if (!check_known (
              group, {"title", "listen", "ice-servers", "ice-transport-policy",
                         "max-message-bytes", "max-messages-per-second",
                         "allowed-origins", "max-connections", "idle-timeout",
                         "join-timeout", "ping-timeout", "max-pending-joins",
                         "max-pending-joins-per-address"}))
        return false;
      for (const std::string &origin :
          parse_list (get (group, "allowed-origins"))) {
        if (!g_str_has_prefix (origin.c_str (), "http://")
            && !g_str_has_prefix (origin.c_str (), "https://"))
          return fail (group, "allowed-origins",
              "'" + origin + "' is not an origin (http://HOST:PORT)");
        spec.allowed_origins.push_back (origin);
      }
      struct {
        const char *key;
        guint *value;
        guint64 max;
      } limits[] = {
          {"max-connections", &spec.max_connections, 1000000},
          {"idle-timeout", &spec.idle_timeout, 3600},
          {"join-timeout", &spec.join_timeout, 600},
          {"ping-timeout", &spec.ping_timeout, 600},
          {"max-pending-joins", &spec.max_pending_joins, 100000},
          {"max-pending-joins-per-address", &spec.max_pending_joins_per_address,
              100000},
      };
      for (auto &limit : limits) {
        guint64 v = *limit.value;
        if (!get_uint (group, limit.key, limit.max, v))
          return false;
        *limit.value = (guint)v;
      }
      if (spec.ping_timeout < 3)
        return fail (group, "ping-timeout", "must be at least 3 seconds");
      if (has (group, "title"))
        spec.title = get (group, "title");
      if (has (group, "listen")) {
        std::string listen = get (group, "listen");
        auto colon = listen.rfind (':');
        guint64 port = 0;
        if (colon == std::string::npos
            || !g_ascii_string_to_unsigned (listen.substr (colon + 1).c_str (),
                10, 0, 65535, &port, nullptr))
          return fail (group, "listen", "'" + listen + "' is not HOST:PORT");
        spec.host = listen.substr (0, colon);
        if (spec.host.size () > 2 && spec.host.front () == '[')
          spec.host = spec.host.substr (1, spec.host.size () - 2);
        spec.port = (guint16)port;
      }
      if (has (group, "ice-servers")) {
        gchar **uris =
            g_strsplit_set (get (group, "ice-servers").c_str (), " ,", -1);
        for (gchar **u = uris; *u; u++) {
          if (**u == '\0')
            continue;
          if (!g_str_has_prefix (*u, "stun:")
              && !g_str_has_prefix (*u, "turn:")) {
            std::string bad = *u;
            g_strfreev (uris);
            return fail (group, "ice-servers",
                "'" + bad + "' is not a stun: or turn: URI");
          }
          spec.ice_servers.push_back (*u);
        }
        g_strfreev (uris);
      }
      if (has (group, "ice-transport-policy")) {
        spec.ice_transport_policy = get (group, "ice-transport-policy");
        if (spec.ice_transport_policy != "all"
            && spec.ice_transport_policy != "relay")
          return fail (
              group, "ice-transport-policy", "must be 'all' or 'relay'");
      }
      guint64 v = spec.max_message_bytes;
      if (!get_uint (group, "max-message-bytes", 16 * 1024 * 1024, v))
        return false;
      spec.max_message_bytes = v;
      v = spec.max_messages_per_second;
      if (!get_uint (group, "max-messages-per-second", 100000, v))
        return false;
      spec.max_messages_per_second = (guint)v;
    } else if (g_str_has_prefix (group.c_str (), "pipeline ")) {
      if (!check_known (group, {"launch", "on-demand", "start", "restart"}))
        return false;
      RoomPipelineSpec p;
      p.name = group.substr (strlen ("pipeline "));
      p.launch = get (group, "launch");
      p.line = lines.key_line (group, "launch");
      /* on-demand=true is the older spelling of start=on-demand. */
      bool on_demand = false;
      if (has (group, "on-demand")
          && !parse_bool (get (group, "on-demand"), on_demand))
        return fail (group, "on-demand", "expected true or false");
      if (on_demand)
        p.start = PipelineStart::ON_DEMAND;
      if (has (group, "start")) {
        std::string start = get (group, "start");
        if (has (group, "on-demand"))
          return fail (group, "start",
              "give start= or on-demand=, not both (on-demand=true is the "
              "old spelling of start=on-demand)");
        if (start == "always")
          p.start = PipelineStart::ALWAYS;
        else if (start == "on-demand")
          p.start = PipelineStart::ON_DEMAND;
        else if (start == "manual")
          p.start = PipelineStart::MANUAL;
        else
          return fail (group, "start",
              "'" + start + "' is not always, on-demand or manual");
      }
      if (has (group, "restart")) {
        std::string restart = get (group, "restart");
        if (restart == "on-error")
          p.restart = PipelineRestart::ON_ERROR;
        else if (restart == "never")
          p.restart = PipelineRestart::NEVER;
        else
          return fail (
              group, "restart", "'" + restart + "' is not never or on-error");
      }
      if (p.launch.empty ())
        return fail (
            group, "launch", "missing: a pipeline needs a launch line");
      spec.pipelines.push_back (p);
    } else if (g_str_has_prefix (group.c_str (), "role ")) {
      if (!check_known (
              group, {"hub", "video-hub", "rtp-hub", "rtp-media",
                         "h264-rtp-hub", "also-send-to", "send", "receive",
                         "token", "max-peers", "cross-route", "control",
                         "emote", "show-emotes", "fanout", "ladder"}))
        return false;
      RoomRoleSpec r;
      r.name = group.substr (strlen ("role "));
      r.line = lines.key_line (group, "");
      r.hub = get (group, "hub");
      if (has (group, "send")
          && !parse_media (get (group, "send"), r.send_audio, r.send_video))
        return fail (group, "send", "expected a list of audio, video or none");
      if (has (group, "receive")
          && !parse_media (
              get (group, "receive"), r.receive_audio, r.receive_video))
        return fail (
            group, "receive", "expected a list of audio, video or none");
      r.video_hub = get (group, "video-hub");
      r.token = get (group, "token");
      guint64 v = r.max_peers;
      if (!get_uint (group, "max-peers", 100000, v))
        return false;
      r.max_peers = (int)v;
      if (has (group, "cross-route")
          && !parse_bool (get (group, "cross-route"), r.cross_route))
        return fail (group, "cross-route", "expected true or false");
      if (r.cross_route && r.max_peers != 2)
        return fail (group, "cross-route", "needs max-peers=2");
      r.rtp_hub = get (group, "rtp-hub");
      r.h264_rtp_hub = get (group, "h264-rtp-hub");
      if (has (group, "ladder")) {
        std::string why;
        if (!parse_ladder (
                get (group, "ladder"), r.ladder, r.ladder_audio_only, why))
          return fail (group, "ladder", why);
        /* the heaviest rung is the program every other part of the room
         * takes (the rtp-hub): written once, or twice the same */
        if (r.rtp_hub.empty ())
          r.rtp_hub = r.ladder[0].hub;
        else if (r.rtp_hub != r.ladder[0].hub)
          return fail (group, "ladder",
              "the first (heaviest) rung's hub '" + r.ladder[0].hub
                  + "' must be the role's rtp-hub '" + r.rtp_hub + "'");
      }
      if (!r.h264_rtp_hub.empty () && r.rtp_hub.empty ())
        return fail (group, "h264-rtp-hub", "needs an rtp-hub for VP8 too");
      if (!r.rtp_hub.empty ()) {
        r.rtp_audio = r.receive_audio;
        r.rtp_video = r.receive_video;
        if (has (group, "rtp-media")
            && !parse_media (
                get (group, "rtp-media"), r.rtp_audio, r.rtp_video))
          return fail (
              group, "rtp-media", "expected a list of audio, video or none");
        r.rtp_audio = r.rtp_audio && r.receive_audio;
        r.rtp_video = r.rtp_video && r.receive_video;
      } else if (has (group, "rtp-media")) {
        return fail (group, "rtp-media", "needs an rtp-hub");
      }
      /* A role that only watches the program is served by webrtcfanoutsink
       * (docs/room-file.md), unless the file says fanout=false. */
      r.fanout = !r.rtp_hub.empty () && !r.send_audio && !r.send_video
                 && r.rtp_audio == r.receive_audio
                 && r.rtp_video == r.receive_video;
      if (has (group, "fanout")) {
        bool fanout = false;
        if (!parse_bool (get (group, "fanout"), fanout))
          return fail (group, "fanout", "expected true or false");
        if (fanout && !r.fanout)
          return fail (group, "fanout",
              "needs a role that sends nothing and receives only from its "
              "rtp-hub");
        r.fanout = fanout;
      }
      if (!r.ladder.empty () && !r.fanout)
        return fail (group, "ladder",
            "only for a role served by the fan-out (one that sends nothing "
            "and receives only from its rtp-hub, fanout not false)");
      if (!r.ladder.empty () && !r.rtp_video)
        return fail (group, "ladder", "needs a role that receives video");
      if (r.ladder_audio_only && !r.rtp_audio)
        return fail (group, "ladder",
            "an audio-only rung needs a role that receives audio");
      r.also_send_to = parse_list (get (group, "also-send-to"));
      bool needs_hub = r.send_audio || r.send_video
                       || (r.receive_audio && !r.rtp_audio)
                       || (r.receive_video && !r.rtp_video);
      if (r.hub.empty () && needs_hub)
        return fail (
            group, "hub", "missing: which hub does this role attach to?");
      for (const char *key : {"control", "emote", "show-emotes"}) {
        bool value = false;
        if (has (group, key) && !parse_bool (get (group, key), value))
          return fail (group, key, "expected true or false");
        if (g_str_equal (key, "control"))
          r.control = value;
        else if (g_str_equal (key, "emote"))
          r.emote = value;
        else
          r.show_emotes = value;
      }
      spec.roles.push_back (r);
    } else if (group == "show") {
      if (!check_known (group, {"program", "stage", "stage-port", "camera",
                                   "camera-port", "output", "inject-schemes",
                                   "inject-folders", "emotes-per-second"}))
        return false;
      RoomShowSpec &show = spec.show;
      show.line = lines.key_line (group, "");
      show.program = get (group, "program");
      show.stage = get (group, "stage");
      show.camera = get (group, "camera");
      show.output = get (group, "output");
      if (show.program.empty ())
        return fail (group, "program",
            "missing: the dispatcher that chooses what viewers see");
      for (const char *key : {"stage-port", "camera-port"}) {
        guint64 v = 0;
        if (!has (group, key))
          continue;
        std::string text = get (group, key);
        if (!g_ascii_string_to_unsigned (
                text.c_str (), 10, 0, 1000, &v, nullptr))
          return fail (
              group, key, "'" + text + "' is not a port number from 0 to 1000");
        (g_str_equal (key, "stage-port") ? show.stage_port : show.camera_port) =
            (int)v;
      }
      show.inject_schemes = has (group, "inject-schemes")
                                ? parse_list (get (group, "inject-schemes"))
                                : std::vector<std::string>{"file"};
      gchar *dir = g_path_get_dirname (path.c_str ());
      gchar *base = g_canonicalize_filename (dir, nullptr);
      g_free (dir);
      for (const std::string &folder :
          parse_list (get (group, "inject-folders"))) {
        gchar *absolute = g_canonicalize_filename (folder.c_str (), base);
        show.inject_folders.push_back (absolute);
        g_free (absolute);
      }
      g_free (base);
      guint64 v = show.emotes_per_second;
      if (!get_uint (group, "emotes-per-second", 1000, v))
        return false;
      show.emotes_per_second = (guint)v;
    } else if (group == "recording") {
      if (!check_known (group,
              {"folders", "record", "format", "program", "program-h264"}))
        return false;
      RoomRecordingSpec &rec = spec.recording;
      rec.present = true;
      rec.line = lines.key_line (group, "");
      gchar *dir = g_path_get_dirname (path.c_str ());
      gchar *base = g_canonicalize_filename (dir, nullptr);
      g_free (dir);
      for (const std::string &folder : parse_list (get (group, "folders"))) {
        gchar *absolute = g_canonicalize_filename (folder.c_str (), base);
        rec.folders.push_back (absolute);
        g_free (absolute);
      }
      g_free (base);
      if (rec.folders.empty ())
        return fail (group, "folders",
            "missing: the folders recordings may be written to");
      for (const std::string &what : parse_list (get (group, "record"))) {
        if (what == "program")
          rec.record_program = true;
        else if (what == "participants")
          rec.record_participants = true;
        else if (what != "none")
          return fail (group, "record",
              "'" + what + "' is not program, participants or none");
      }
      if (has (group, "format")) {
        rec.format = get (group, "format");
        if (rec.format != "webm" && rec.format != "mp4")
          return fail (
              group, "format", "'" + rec.format + "' is not webm or mp4");
      }
      if (has (group, "program"))
        rec.program = get (group, "program");
      if (has (group, "program-h264"))
        rec.program_h264 = get (group, "program-h264");
    } else if (g_str_has_prefix (group.c_str (), "edge ")) {
      if (!check_known (group, {"url", "program", "program-h264"}))
        return false;
      RoomEdgeSpec e;
      e.name = group.substr (strlen ("edge "));
      e.url = get (group, "url");
      e.line = lines.key_line (group, "url");
      if (e.name.empty ())
        return fail (group, "", "an edge needs a name: [edge NAME]");
      if (!has (group, "url"))
        return fail (group, "url",
            "missing: where to push the program (rtmp://HOST/APP/STREAM or "
            "srt://HOST:PORT)");
      std::string why;
      if (!room_edge_url_parse (e.url, e.kind, why))
        return fail (group, "url", why);
      if (has (group, "program"))
        e.program = get (group, "program");
      if (has (group, "program-h264"))
        e.program_h264 = get (group, "program-h264");
      spec.edges.push_back (e);
    } else if (group == "kurento") {
      if (!check_known (group,
              {"session-timeout", "max-message-bytes", "max-pending-requests",
                  "max-requests-per-second", "access-token", "player-schemes",
                  "player-folders", "recorder-folders"}))
        return false;
      RoomKurentoSpec &k = spec.kurento;
      k.present = true;
      k.line = lines.key_line (group, "");
      guint64 v = k.session_timeout;
      if (!get_uint (group, "session-timeout", 24 * 3600, v))
        return false;
      k.session_timeout = (guint)v;
      v = k.max_message_bytes;
      if (!get_uint (group, "max-message-bytes", 16 * 1024 * 1024, v))
        return false;
      k.max_message_bytes = (gsize)v;
      v = k.max_pending_requests;
      if (!get_uint (group, "max-pending-requests", 100000, v))
        return false;
      k.max_pending_requests = (guint)v;
      v = k.max_requests_per_second;
      if (!get_uint (group, "max-requests-per-second", 1000000, v))
        return false;
      if (v == 0)
        return fail (group, "max-requests-per-second", "must be at least 1");
      k.max_requests_per_second = (guint)v;
      k.access_token = get (group, "access-token");
      k.player_schemes = has (group, "player-schemes")
                             ? parse_list (get (group, "player-schemes"))
                             : std::vector<std::string>{"file"};
      gchar *dir = g_path_get_dirname (path.c_str ());
      gchar *base = g_canonicalize_filename (dir, nullptr);
      g_free (dir);
      for (const char *key : {"player-folders", "recorder-folders"}) {
        auto &folders = strcmp (key, "player-folders") == 0
                            ? k.player_folders
                            : k.recorder_folders;
        for (const std::string &folder : parse_list (get (group, key))) {
          gchar *absolute = g_canonicalize_filename (folder.c_str (), base);
          folders.push_back (absolute);
          g_free (absolute);
        }
      }
      g_free (base);
    } else {
      return fail (group, "",
          "unknown group (expected [room], [show], [recording], [kurento], "
          "[pipeline NAME], [role NAME] or [edge NAME])");
    }
  }

  /* A media server for Kurento applications needs no room of its own. */
  if (spec.kurento.present)
    return true;
  if (spec.pipelines.empty ())
    return fail (
        "room", "", "no [pipeline NAME] group: a room needs at least one hub");
  if (spec.roles.empty ())
    return fail (
        "room", "", "no [role NAME] group: nobody could join this room");
  return true;
}

bool
room_edge_url_parse (
    const std::string &url, RoomEdgeSpec::Kind &kind, std::string &error)
{
  const std::string shown = "'" + url.substr (0, 200) + "'";
  gchar *scheme = g_uri_parse_scheme (url.c_str ());
  std::string lower = scheme ? scheme : "";
  g_free (scheme);
  for (char &c : lower)
    c = g_ascii_tolower (c);
  if (lower.empty ()) {
    error = shown
            + " is not a URL (expected rtmp://HOST/APP/STREAM or "
              "srt://HOST:PORT)";
    return false;
  }
  if (lower != "rtmp" && lower != "srt") {
    error = "'" + lower
            + "://' is not a scheme edges take (expected rtmp:// or srt://)";
    return false;
  }
  GError *err = nullptr;
  GUri *uri = g_uri_parse (url.c_str (), G_URI_FLAGS_NONE, &err);
  if (!uri) {
    error = shown + " is not a valid URL: " + err->message;
    g_error_free (err);
    return false;
  }
  std::unique_ptr<GUri, decltype (&g_uri_unref)> guard (uri, g_uri_unref);
  const char *host = g_uri_get_host (uri);
  gint port = g_uri_get_port (uri);
  std::string path = g_uri_get_path (uri);
  if (!host || !*host) {
    error = shown + ": no host";
    return false;
  }
  if (g_uri_get_userinfo (uri) || g_uri_get_fragment (uri)) {
    error = shown + ": user names and #fragments are not taken";
    return false;
  }
  if (lower == "rtmp") {
    kind = RoomEdgeSpec::Kind::RTMP;
    /* /APP/STREAM: both parts non-empty. */
    auto slash = path.find ('/', 1);
    if (path.size () < 2 || path[0] != '/' || slash == std::string::npos
        || slash == 1 || slash + 1 >= path.size ()) {
      error = shown
              + ": an RTMP target is rtmp://HOST[:PORT]/APP/STREAM (an "
                "application and a stream name)";
      return false;
    }
    if (g_uri_get_query (uri)) {
      error = shown + ": an RTMP target takes no ?query";
      return false;
    }
    return true;
  }
  kind = RoomEdgeSpec::Kind::SRT;
  if (port <= 0) {
    error = shown + ": an SRT target is srt://HOST:PORT (the port is needed)";
    return false;
  }
  if (!path.empty () && path != "/") {
    error = shown + ": an SRT target has no path (srt://HOST:PORT[?OPTIONS])";
    return false;
  }
  if (const char *query = g_uri_get_query (uri)) {
    GHashTable *params =
        g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, nullptr);
    const char *mode =
        params ? (const char *)g_hash_table_lookup (params, "mode") : nullptr;
    bool caller = !mode || g_str_equal (mode, "caller");
    if (params)
      g_hash_table_unref (params);
    if (!params) {
      error = shown + ": its ?options are not key=value pairs";
      return false;
    }
    if (!caller) {
      error = shown + ": an edge calls its SRT listener (mode=caller only)";
      return false;
    }
  }
  return true;
}
