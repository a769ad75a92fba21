/* gst-room: the room file, a key file whose pipeline parts are gst-launch-1.0
 * syntax.  See docs/room-file.md. */
#pragma once

#include <glib.h>

#include <map>
#include <string>
#include <vector>

struct RoomPipelineSpec {
  std::string name;   /* from [pipeline NAME] */
  std::string launch; /* gst-launch-1.0 description */
  int line = 0;       /* line of the launch key, for error messages */
};

struct RoomRoleSpec {
  std::string name; /* from [role NAME] */
  std::string hub;  /* the hub element a peer of this role attaches to */
  /* A dispatcher carrying encoded VP8 that the role receives as its video,
   * encoded once for every peer, instead of the hub's raw output encoded per
   * peer.  Empty: encode per peer. */
  std::string video_hub;
  bool send_video = true, send_audio = true;       /* browser → hub */
  bool receive_video = true, receive_audio = true; /* hub → browser */
  std::string token;                               /* empty: no token needed */
  int max_peers = 16;
  bool cross_route = false; /* two peers on a dispatcher see each other */
  int line = 0;
};

struct RoomSpec {
  std::string path;
  std::string title = "gst-rooms";
  std::string host = "127.0.0.1";
  guint16 port = 8080;
  std::vector<std::string> ice_servers;     /* stun:/turn: URIs */
  std::string ice_transport_policy = "all"; /* all | relay */
  gsize max_message_bytes = 64 * 1024;
  guint max_messages_per_second = 50;
  std::vector<RoomPipelineSpec> pipelines;
  std::vector<RoomRoleSpec> roles;

  const RoomRoleSpec *find_role (const std::string &name) const;
  /* "FILE:LINE" of a group or key, for messages. */
  std::string where (int line) const;
};

/* Loads and checks @path.  On failure returns false with @error naming the
 * file, the line and what is wrong. */
bool room_file_load (
    const std::string &path, RoomSpec &spec, std::string &error);
