/* gst-room: builds the room a room file describes and serves it to browsers.
 *
 *   gst-room [--dot-dir DIR] [--web-dir DIR] ROOMFILE
 *
 * Exit codes: 0 after a clean stop (Ctrl-C), 1 when a room pipeline failed,
 * 2 for a bad command line or room file, 3 when a needed plugin is missing,
 * 4 when the server cannot listen. */
#include <gst/gst.h>
#include <glib-unix.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "edges.h"
#include "kurento/transport.h"
#include "recorder.h"
#include "room.h"
#include "roomfile.h"
#include "security.h"
#include "server.h"
#include "whep.h"
#include "show.h"

namespace {

enum ExitCode {
  EXIT_OK = 0,
  EXIT_ROOM_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_MISSING_PLUGIN = 3,
  EXIT_LISTEN = 4,
};

std::string
web_dir_default ()
{
  /* The uninstalled tool serves the pages of its source tree. */
  if (g_file_test (ROOMS_WEB_SOURCE_DIR "/index.html", G_FILE_TEST_EXISTS))
    return ROOMS_WEB_SOURCE_DIR;
  return ROOMS_WEB_INSTALL_DIR;
}

struct App {
  GMainLoop *loop = nullptr;
  Room *room = nullptr;
  int exit_code = EXIT_OK;
  bool stopping = false;
};

gboolean
on_sigint (gpointer data)
{
  auto *app = static_cast<App *> (data);
  if (app->stopping) {
    g_printerr ("gst-room: interrupted again, stopping now\n");
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  app->stopping = true;
  g_print ("gst-room: stopping: sending EOS so recordings finish...\n");
  app->room->send_eos ();
  /* Don't wait for ever on a pipeline that never finishes. */
  g_timeout_add_seconds (
      5,
      [] (gpointer d) -> gboolean {
        g_printerr (
            "gst-room: EOS did not arrive within 5 s, stopping anyway\n");
        g_main_loop_quit (static_cast<App *> (d)->loop);
        return G_SOURCE_REMOVE;
      },
      app);
  return G_SOURCE_CONTINUE;
}

/* A peer's pipeline is a loop by design: webrtcbin → hubport (into the hub)
 * and hubport (back from the hub) → webrtcbin.  GstBin orders such a graph
 * fine but says so on every state change; that one warning is not news. */
void
on_gstreamer_warning (
    const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer)
{
  if (g_str_has_prefix (message, "loop detected in the graph of bin 'peer-")
      || g_str_has_prefix (
          message, "loop detected in the graph of bin 'kurento-"))
    return;
  g_log_default_handler (domain, level, message, nullptr);
}

/* Everything main() makes, torn down in one place whatever the exit. */
struct Run {
  RoomSpec spec;
  std::unique_ptr<Room> room;
  std::unique_ptr<Show> show;         /* null without a [show] */
  std::unique_ptr<Recorder> recorder; /* null without a [recording] */
  std::unique_ptr<Edges> edges;       /* null without an [edge NAME] */
  std::unique_ptr<Server> server;
  std::unique_ptr<kurento::Service> kurento; /* null without a [kurento] */
  std::unique_ptr<Whep> whep;                /* null without a fan-out role */
  App app;
  guint signals[2] = {0, 0};

  ~Run ()
  {
    for (guint id : signals)
      if (id)
        g_source_remove (id);
    /* Recordings are finished (or given up) by now.  The hubs stop before
     * the peers go, so no peer thread stays blocked in a hub after EOS. */
    if (room)
      room->stop_pipelines ();
    if (recorder)
      recorder->stop_pipelines ();
    if (edges)
      edges->stop_pipelines ();
    /* Kurento sessions release their pipelines while GStreamer is up. */
    kurento.reset ();
    whep.reset ();
    if (server)
      server->close_all ();
    server.reset ();
    show.reset ();
    recorder.reset ();
    edges.reset ();
    if (room)
      room->stop ();
    room.reset ();
    if (app.loop)
      g_main_loop_unref (app.loop);
  }
};

/* Builds and serves the room; returns the exit code. */
int
serve (const char *room_file, const char *dot_dir, const char *web_dir,
    bool check_only)
{
  Run run;
  std::string error;
  if (!room_file_load (room_file, run.spec, error)) {
    g_printerr ("gst-room: %s\n", error.c_str ());
    return EXIT_USAGE;
  }
  if (!security_check_tokens (run.spec, error)) {
    g_printerr ("gst-room: %s\n", error.c_str ());
    return EXIT_USAGE;
  }
  if (!room_check_elements ())
    return EXIT_MISSING_PLUGIN;

  run.room = std::make_unique<Room> (run.spec, dot_dir ? dot_dir : "");
  Room &room = *run.room;
  if (!room.build (error)) {
    g_printerr ("gst-room: %s\n", error.c_str ());
    return EXIT_USAGE;
  }
  if (!run.spec.show.program.empty ()) {
    run.show = std::make_unique<Show> (room);
    if (!run.show->build (error)) {
      g_printerr ("gst-room: %s\n", error.c_str ());
      return EXIT_USAGE;
    }
  }
  if (run.spec.recording.present) {
    run.recorder = std::make_unique<Recorder> (room);
    if (!run.recorder->build (error)) {
      g_printerr ("gst-room: %s\n", error.c_str ());
      return EXIT_USAGE;
    }
    Recorder *recorder = run.recorder.get ();
    room.on_finish = [recorder] (std::function<void ()> done) {
      recorder->finish_all (std::move (done));
    };
  }
  if (!run.spec.edges.empty ()) {
    run.edges = std::make_unique<Edges> (room);
    if (!run.edges->build (error)) {
      g_printerr ("gst-room: %s\n", error.c_str ());
      return EXIT_USAGE;
    }
  }
  if (!security_is_loopback (run.spec.host))
    g_printerr (
        "gst-room: warning: listening on %s, beyond loopback: anyone "
        "who can reach it can join the public roles (docs/security.md)\n",
        run.spec.host.c_str ());
  if (check_only) {
    g_print ("gst-room: %s is a valid room\n", room_file);
    return EXIT_OK;
  }

  /* A peer costs file descriptors: say what the room can hold. */
  guint64 files = security_raise_file_limit ();
  room.set_file_limit (files);
  guint64 capacity = room.peer_capacity ();
  guint64 wanted = 0;
  for (const RoomRoleSpec &role : run.spec.roles)
    wanted += role.max_peers;
  if (wanted > capacity)
    g_printerr ("gst-room: warning: the roles take up to %" G_GUINT64_FORMAT
                " peers, but a limit of %" G_GUINT64_FORMAT
                " open files holds about %" G_GUINT64_FORMAT
                "; joins beyond that are refused (raise ulimit -n)\n",
        wanted, files, capacity);

  App &app = run.app;
  app.loop = g_main_loop_new (nullptr, FALSE);
  app.room = &room;
  room.on_fatal = [&app] (int exit_code) {
    app.exit_code = exit_code;
    g_main_loop_quit (app.loop);
  };
  room.on_eos = [&app] () { g_main_loop_quit (app.loop); };

  run.server = std::make_unique<Server> (
      room, run.show.get (), web_dir ? web_dir : web_dir_default ());
  Server &server = *run.server;
  server.set_recorder (run.recorder.get ());
  server.set_edges (run.edges.get ());
  if (!server.listen (error)) {
    g_printerr ("gst-room: %s\n", error.c_str ());
    return EXIT_LISTEN;
  }
  for (const RoomRoleSpec &role : run.spec.roles)
    if (role.fanout && !run.whep) {
      run.whep = std::make_unique<Whep> (room);
      run.whep->attach (server);
    }
  if (run.spec.kurento.present) {
    run.kurento = std::make_unique<kurento::Service> (run.spec);
    run.kurento->set_recorder (run.recorder.get ());
    run.kurento->attach (server);
  }
  if (!room.start (error)) {
    g_printerr ("gst-room: %s\n", error.c_str ());
    return EXIT_ROOM_FAILED;
  }
  g_print ("gst-room: '%s' is open at %s (room for about %" G_GUINT64_FORMAT
           " peers)\n",
      run.spec.title.c_str (), server.url ().c_str (),
      std::min (capacity, wanted));
  for (const RoomRoleSpec &role : run.spec.roles)
    g_print ("gst-room:   %s: %s%s?role=%s%s%s\n", role.name.c_str (),
        server.url ().c_str (), role.control ? "console.html" : "",
        role.name.c_str (),
        role.token.empty () ? "" : ("&token=" + role.token).c_str (),
        role.token_generated ? "  (a random token: set token= to choose one)"
                             : "");
  for (const RoomRoleSpec &role : run.spec.roles)
    if (role.fanout)
      g_print ("gst-room:   %s (WHEP): %swhep/%s%s\n", role.name.c_str (),
          server.url ().c_str (), role.name.c_str (),
          role.token.empty () ? "" : "  (Authorization: Bearer TOKEN)");
  if (run.kurento)
    g_print ("gst-room:   kurento: ws%skurento\n",
        server.url ().substr (4).c_str ());
  fflush (stdout);

  run.signals[0] = g_unix_signal_add (SIGINT, on_sigint, &app);
  run.signals[1] = g_unix_signal_add (SIGTERM, on_sigint, &app);
  g_main_loop_run (app.loop);
  g_print ("gst-room: stopped\n");
  return app.exit_code;
}

} // namespace

int
main (int argc, char **argv)
{
  gchar *dot_dir = nullptr, *web_dir = nullptr;
  gboolean check_only = FALSE;
  GOptionEntry entries[] = {
      {"dot-dir", 0, 0, G_OPTION_ARG_FILENAME, &dot_dir,
          "Write pipeline graphs (.dot) into DIR when pipelines start and "
          "peers come and go",
          "DIR"},
      {"web-dir", 0, 0, G_OPTION_ARG_FILENAME, &web_dir,
          "Serve the web pages from DIR instead of the installed ones", "DIR"},
      {"check", 0, 0, G_OPTION_ARG_NONE, &check_only,
          "Only check the room file and build the room, then exit", nullptr},
      {nullptr},
  };
  GOptionContext *ctx =
      g_option_context_new ("ROOMFILE - serve a gst-rooms room");
  g_option_context_set_summary (ctx,
      "Builds the room that ROOMFILE describes (pipelines in gst-launch-1.0 "
      "syntax,\n"
      "roles that browsers join as) and serves it over HTTP and WebSocket: the "
      "web\n"
      "pages, and WebRTC signalling for one webrtcbin per browser.  Ctrl-C "
      "sends\n"
      "EOS, finishes recordings and exits.  See docs/room-file.md.");
  g_option_context_set_description (ctx,
      "Exit status: 0 stopped cleanly, 1 a room pipeline failed, 2 bad command "
      "line\n"
      "or room file, 3 a GStreamer plugin is missing, 4 cannot listen.");
  g_option_context_add_main_entries (ctx, entries, nullptr);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  GError *err = nullptr;
  int code = EXIT_OK;
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("gst-room: %s\n", err->message);
    g_error_free (err);
    code = EXIT_USAGE;
  } else if (argc != 2) {
    g_printerr ("usage: gst-room [OPTION...] ROOMFILE (see gst-room --help)\n");
    code = EXIT_USAGE;
  }
  g_option_context_free (ctx);
  if (code == EXIT_OK) {
    if (dot_dir)
      g_mkdir_with_parents (dot_dir, 0755);
    gst_init (nullptr, nullptr);
    g_log_set_handler (
        "GStreamer", G_LOG_LEVEL_WARNING, on_gstreamer_warning, nullptr);
    code = serve (argv[1], dot_dir, web_dir, check_only);
    gst_deinit ();
  }
  g_free (dot_dir);
  g_free (web_dir);
  return code;
}
