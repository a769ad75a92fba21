/* gst-room: the room file, a key file whose pipeline parts are gst-launch-1.0
 * syntax.  See docs/room-file.md. */
#pragma once

#include <glib.h>

#include <map>
#include <string>
#include <vector>

/* When a pipeline runs: always (from the room's start), on demand (while a
 * peer needs one of its hubs: an H.264 encoder only some browsers need), or
 * manual (started and stopped by the operator or the API). */
enum class PipelineStart { ALWAYS, ON_DEMAND, MANUAL };
/* What an error does: stops it (never), or restarts it after 1 s doubling
 * to 30 s (on-error). */
enum class PipelineRestart { NEVER, ON_ERROR };

struct RoomPipelineSpec {
  std::string name;   /* from [pipeline NAME] */
  std::string launch; /* gst-launch-1.0 description */
  PipelineStart start = PipelineStart::ALWAYS;
  PipelineRestart restart = PipelineRestart::NEVER;
  int line = 0; /* line of the launch key, for error messages */
};

/* One video rung of a role's quality ladder: a rendition of the program,
 * RTP packets ready for the fan-out, on its own dispatcher. */
struct RoomRung {
  std::string label; /* shown to viewers: 1-16 of [A-Za-z0-9._-] */
  std::string hub;   /* the dispatcher of its RTP packets */
};

/* The label of a ladder's last, audio-only rung (webrtcfanoutsink's). */
constexpr const char *ROOM_AUDIO_ONLY_RUNG = "audio-only";

struct RoomRoleSpec {
  std::string name; /* from [role NAME] */
  std::string hub;  /* the hub element a peer of this role attaches to */
  /* A dispatcher carrying encoded VP8 that the role receives as its video,
   * encoded once for every peer, instead of the hub's raw output encoded per
   * peer.  Empty: encode per peer. */
  std::string video_hub;
  /* A dispatcher whose outputs are RTP packets ready for webrtcbin (VP8 pt 96
   * video, Opus pt 111 audio), payloaded once for every peer: the role takes
   * rtp_media from it and only forwards them.  h264_rtp_hub: the same in
   * H.264 (pt 102) for browsers that take no VP8. */
  std::string rtp_hub, h264_rtp_hub;
  bool rtp_audio = false, rtp_video = false;
  /* More hubs that get what the peer sends (a presenter's camera also goes
   * to the single-camera compositor). */
  std::vector<std::string> also_send_to;
  bool send_video = true, send_audio = true;       /* browser → hub */
  bool receive_video = true, receive_audio = true; /* hub → browser */
  std::string token;                               /* empty: no token needed */
  bool token_generated = false; /* random, made at start (security.h) */
  int max_peers = 16;
  bool cross_route = false; /* two peers on a dispatcher see each other */
  bool control = false;     /* may run the show (the operator console) */
  bool emote = false;       /* may send emotes */
  bool show_emotes = false; /* is told about emotes */
  /* Served by the room's webrtcfanoutsink (the browser offers) rather than
   * a webrtcbin per peer: the default for a role that sends nothing and
   * takes all it receives from its rtp-hub. */
  bool fanout = false;
  /* ladder=: the program's renditions for the fan-out, heaviest first (the
   * first is the rtp-hub), and whether an audio-only rung ends it.  Empty:
   * one rendition. */
  std::vector<RoomRung> ladder;
  bool ladder_audio_only = false;
  /* Every rung's label in order (audio-only last when there is one); empty
   * without a ladder. */
  std::vector<std::string> renditions () const;
  int line = 0;
};

/* [show]: the live-show controls a control role drives.  Empty program: the
 * room is no show. */
struct RoomShowSpec {
  std::string program; /* raw dispatcher choosing what viewers see */
  std::string stage;   /* mcucompositor of the presenters */
  std::string camera;  /* mcucompositor showing one chosen presenter */
  std::string output;  /* dispatcher of the encoded program (for its bitrate) */
  int stage_port = 0;  /* program ports of the stage and the camera */
  int camera_port = 1;
  std::vector<std::string> inject_schemes; /* URI schemes videos may use */
  std::vector<std::string> inject_folders; /* absolute, for file: URIs */
  guint emotes_per_second = 2;             /* per peer */
  int line = 0;
};

/* The dispatcher (made by the recorder) that every peer's incoming RTP
 * packets reach, undecoded, when the room has a [recording] group. */
constexpr const char *RECORDING_HUB = "recording_participants";

/* [recording]: where files may go and what is recorded from the start. */
struct RoomRecordingSpec {
  bool present = false;
  std::vector<std::string> folders; /* absolute; the first is the default */
  /* Recorded from the room's start: "program", and "participants" (every
   * peer that sends media, as it joins). */
  bool record_program = false, record_participants = false;
  std::string format = "webm"; /* webm | mp4 */
  /* The dispatcher of the encoded program (VP8/Opus RTP), and of the H.264
   * program (for mp4). */
  std::string program = "program_rtp";
  std::string program_h264 = "program_h264";
  int line = 0;
};

/* [edge NAME]: a push target for the program (docs/scale-out.md). */
struct RoomEdgeSpec {
  std::string name; /* from [edge NAME] */
  std::string url;  /* as written */
  enum class Kind { RTMP, SRT } kind = Kind::RTMP;
  /* The dispatchers of the encoded program: VP8/Opus RTP (audio comes from
   * it) and H.264 RTP (the one encoder of viewers, recordings and edges). */
  std::string program = "program_rtp";
  std::string program_h264 = "program_h264";
  int line = 0;
};

/* Checks an edge's @url: rtmp://HOST[:PORT]/APP/STREAM or
 * srt://HOST:PORT[?OPTIONS] (caller mode).  False with @error. */
bool room_edge_url_parse (
    const std::string &url, RoomEdgeSpec::Kind &kind, std::string &error);

/* [kurento]: the Kurento-protocol control API on ws://HOST:PORT/kurento
 * (tools/gst-room/kurento/, docs/kurento.md). */
struct RoomKurentoSpec {
  bool present = false;
  /* Seconds a session whose socket is gone keeps its objects, for the client
   * to reconnect (Kurento keeps them 240 to 480 s). */
  guint session_timeout = 240;
  gsize max_message_bytes = 256 * 1024; /* one JSON-RPC frame */
  guint max_pending_requests = 256;     /* queued on one connection */
  /* Requests one connection may send per second (twice that in a burst);
   * beyond, each gets an error. */
  guint max_requests_per_second = 200;
  /* When set, a client must give it as ?access_token= (kurento-client's
   * access_token option) or its socket is closed. */
  std::string access_token;
  /* What a PlayerEndpoint may open: these schemes, and file: URIs only
   * inside these absolute folders. */
  std::vector<std::string> player_schemes;
  std::vector<std::string> player_folders;
  /* Where a RecorderEndpoint may write: file: URIs inside these folders. */
  std::vector<std::string> recorder_folders;
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
  /* Origins (scheme://host:port) whose pages may open the WebSocket besides
   * the room's own. */
  std::vector<std::string> allowed_origins;
  guint max_connections = 512; /* HTTP and WebSocket together */
  /* Seconds a connection that has not joined may stay idle. */
  guint idle_timeout = 30;
  /* Seconds for each step of a join: the answer, then the connection. */
  guint join_timeout = 20;
  /* Seconds without a message (the pages answer pings) before a joined
   * connection counts as dead. */
  guint ping_timeout = 9;
  guint max_pending_joins = 32;             /* joins not yet connected */
  guint max_pending_joins_per_address = 12; /* the same, from one address */
  std::vector<RoomPipelineSpec> pipelines;
  std::vector<RoomRoleSpec> roles;
  RoomShowSpec show;
  RoomRecordingSpec recording;
  std::vector<RoomEdgeSpec> edges;
  RoomKurentoSpec kurento;

  const RoomRoleSpec *find_role (const std::string &name) const;
  /* "FILE:LINE" of a group or key, for messages. */
  std::string where (int line) const;
};

/* Loads and checks @path.  On failure returns false with @error naming the
 * file, the line and what is wrong. */
bool room_file_load (
    const std::string &path, RoomSpec &spec, std::string &error);

/* The same on a room file's @text, as if read from @path (which names it in
 * messages and is the base of relative inject-folders). */
bool room_file_parse (const std::string &path, const std::string &text,
    RoomSpec &spec, std::string &error);
