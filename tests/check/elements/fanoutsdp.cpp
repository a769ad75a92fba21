/* gst-rooms: tests of webrtcfanoutsink's SDP (fanoutsdp.h): the offers of
 * Chromium, Firefox and a WHEP player read against the program, and the
 * answers written back, read again with GstSDP. */
#include "roomcheck.h"

#include "fanoutsdp.h"

#include <gst/sdp/sdp.h>

#include <cstring>

using namespace roomwebrtc;

namespace {

/* Offers are typed with \n; real ones end lines with \r\n. */
std::string
crlf (const char *text)
{
  std::string out;
  for (const char *c = text; *c; c++) {
    if (*c == '\n')
      out += '\r';
    out += *c;
  }
  return out;
}

/* @sdp without the lines starting with @prefix. */
std::string
without_lines (const std::string &sdp, const std::string &prefix)
{
  std::string out;
  size_t start = 0;
  while (start < sdp.size ()) {
    size_t end = sdp.find ('\n', start);
    end = end == std::string::npos ? sdp.size () : end + 1;
    std::string line = sdp.substr (start, end - start);
    if (line.compare (0, prefix.size (), prefix) != 0)
      out += line;
    start = end;
  }
  return out;
}

std::string
replace_all (std::string sdp, const std::string &from, const std::string &to)
{
  for (size_t at = sdp.find (from); at != std::string::npos;
       at = sdp.find (from, at + to.size ()))
    sdp.replace (at, from.size (), to);
  return sdp;
}

/* Chromium 120, two recvonly transceivers (audio, then video). */
const char *const chromium_offer = R"(v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Yk3q
a=ice-pwd:Vb8S7dXUxPqHEEnyGkzPq7xT
a=ice-options:trickle
a=fingerprint:sha-256 A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=recvonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 116 117 118
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Yk3q
a=ice-pwd:Vb8S7dXUxPqHEEnyGkzPq7xT
a=ice-options:trickle
a=fingerprint:sha-256 A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:13 urn:3gpp:video-orientation
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type
a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing
a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
a=recvonly
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:102 H264/90000
a=rtcp-fb:102 goog-remb
a=rtcp-fb:102 transport-cc
a=rtcp-fb:102 ccm fir
a=rtcp-fb:102 nack
a=rtcp-fb:102 nack pli
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=102
a=rtpmap:104 H264/90000
a=rtcp-fb:104 goog-remb
a=rtcp-fb:104 transport-cc
a=rtcp-fb:104 ccm fir
a=rtcp-fb:104 nack
a=rtcp-fb:104 nack pli
a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f
a=rtpmap:105 rtx/90000
a=fmtp:105 apt=104
a=rtpmap:106 H264/90000
a=rtcp-fb:106 goog-remb
a=rtcp-fb:106 transport-cc
a=rtcp-fb:106 nack
a=rtcp-fb:106 nack pli
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:107 rtx/90000
a=fmtp:107 apt=106
a=rtpmap:108 H264/90000
a=rtcp-fb:108 goog-remb
a=rtcp-fb:108 transport-cc
a=rtcp-fb:108 ccm fir
a=rtcp-fb:108 nack
a=rtcp-fb:108 nack pli
a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f
a=rtpmap:109 rtx/90000
a=fmtp:109 apt=108
a=rtpmap:127 H264/90000
a=rtcp-fb:127 goog-remb
a=rtcp-fb:127 transport-cc
a=rtcp-fb:127 ccm fir
a=rtcp-fb:127 nack
a=rtcp-fb:127 nack pli
a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f
a=rtpmap:125 rtx/90000
a=fmtp:125 apt=127
a=rtpmap:39 H264/90000
a=rtcp-fb:39 goog-remb
a=rtcp-fb:39 transport-cc
a=rtcp-fb:39 ccm fir
a=rtcp-fb:39 nack
a=rtcp-fb:39 nack pli
a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f
a=rtpmap:40 rtx/90000
a=fmtp:40 apt=39
a=rtpmap:45 AV1/90000
a=rtcp-fb:45 goog-remb
a=rtcp-fb:45 transport-cc
a=rtcp-fb:45 ccm fir
a=rtcp-fb:45 nack
a=rtcp-fb:45 nack pli
a=fmtp:45 level-idx=5;profile=0;tier=0
a=rtpmap:46 rtx/90000
a=fmtp:46 apt=45
a=rtpmap:98 VP9/90000
a=rtcp-fb:98 goog-remb
a=rtcp-fb:98 transport-cc
a=rtcp-fb:98 ccm fir
a=rtcp-fb:98 nack
a=rtcp-fb:98 nack pli
a=fmtp:98 profile-id=0
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:100 VP9/90000
a=rtcp-fb:100 goog-remb
a=rtcp-fb:100 transport-cc
a=rtcp-fb:100 ccm fir
a=rtcp-fb:100 nack
a=rtcp-fb:100 nack pli
a=fmtp:100 profile-id=2
a=rtpmap:101 rtx/90000
a=fmtp:101 apt=100
a=rtpmap:112 H264/90000
a=rtcp-fb:112 goog-remb
a=rtcp-fb:112 transport-cc
a=rtcp-fb:112 ccm fir
a=rtcp-fb:112 nack
a=rtcp-fb:112 nack pli
a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f
a=rtpmap:113 rtx/90000
a=fmtp:113 apt=112
a=rtpmap:116 red/90000
a=rtpmap:117 rtx/90000
a=fmtp:117 apt=116
a=rtpmap:118 ulpfec/90000
)";

/* Chromium 120 with a data channel too (the m-line comes last). */
const char *const chromium_datachannel_tail =
    R"(m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=ice-ufrag:Yk3q
a=ice-pwd:Vb8S7dXUxPqHEEnyGkzPq7xT
a=ice-options:trickle
a=fingerprint:sha-256 A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C
a=setup:actpass
a=mid:2
a=sctp-port:5000
a=max-message-size:262144
)";

/* A WHEP player (GStreamer's whepsrc-like: webrtcbin after gathering):
 * video first, H.264 before VP8, ICE credentials at the session level,
 * its candidates and a=end-of-candidates in the first m-line. */
const char *const whep_offer = R"(v=0
o=- 1915398727459346380 0 IN IP4 0.0.0.0
s=-
t=0 0
a=ice-ufrag:0Tz5rUZ0ZV1kNcqN4fyMzIiXGVRmpJWm
a=ice-pwd:pZiLb6G/mx0M3S0xWhEi2tEOc2D9aJ5Q
a=ice-options:trickle
a=group:BUNDLE video0 audio1
m=video 53917 UDP/TLS/RTP/SAVPF 102 96
c=IN IP4 192.168.1.23
a=setup:actpass
a=fingerprint:sha-256 34:60:BE:31:20:1E:69:FE:DA:A0:EE:E8:B9:99:7F:5C:7C:29:99:FD:AF:E5:93:25:3C:D6:54:AF:4D:FA:D7:14
a=rtcp-mux
a=mid:video0
a=recvonly
a=rtpmap:102 H264/90000
a=fmtp:102 packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1
a=rtcp-fb:102 nack pli
a=rtpmap:96 VP8/90000
a=rtcp-fb:* nack
a=rtcp-fb:96 ccm fir
a=candidate:1 1 UDP 2015363327 192.168.1.23 53917 typ host
a=candidate:2 1 TCP 1015021823 192.168.1.23 9 typ host tcptype active
a=candidate:3 1 UDP 1679819007 203.0.113.7 53917 typ srflx raddr 192.168.1.23 rport 53917
a=end-of-candidates
m=audio 0 UDP/TLS/RTP/SAVPF 111
c=IN IP4 192.168.1.23
a=bundle-only
a=setup:actpass
a=fingerprint:sha-256 34:60:BE:31:20:1E:69:FE:DA:A0:EE:E8:B9:99:7F:5C:7C:29:99:FD:AF:E5:93:25:3C:D6:54:AF:4D:FA:D7:14
a=rtcp-mux
a=mid:audio1
a=recvonly
a=rtpmap:111 OPUS/48000/2
a=fmtp:111 useinbandfec=1
)";

/* Firefox 120, sendrecv transceivers: fingerprint at the session level. */
const char *const firefox_offer = R"(v=0
o=mozilla...THIS_IS_SDPARTA-99.0 5071716935467925429 0 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 27:A0:AE:B3:FE:E9:23:2F:8A:F2:21:1F:9E:E4:91:C5:B1:0B:EC:B5:56:3B:FC:1E:6F:93:42:7E:CB:C8:FE:29
a=group:BUNDLE 0 1
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 0.0.0.0
a=sendrecv
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:9b5d2f1d3c1bd6ea9fbd4fc7dbd4a3a4
a=ice-ufrag:a1b2c3d4
a=mid:0
a=msid:{0b9b6c1e-7b3a-4b8e-9a4e-2f8d0f6a1c11} {7d1b2f0e-3c4a-4f5e-8d6c-1a2b3c4d5e6f}
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=setup:actpass
a=ssrc:1838204531 cname:{c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e9f}
m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98
c=IN IP4 0.0.0.0
a=sendrecv
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:5 urn:ietf:params:rtp-hdrext:toffset
a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1
a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1
a=fmtp:120 max-fs=12288;max-fr=60
a=fmtp:124 apt=120
a=fmtp:121 max-fs=12288;max-fr=60
a=fmtp:125 apt=121
a=fmtp:127 apt=126
a=fmtp:98 apt=97
a=ice-pwd:9b5d2f1d3c1bd6ea9fbd4fc7dbd4a3a4
a=ice-ufrag:a1b2c3d4
a=mid:1
a=msid:{0b9b6c1e-7b3a-4b8e-9a4e-2f8d0f6a1c11} {2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b}
a=rtcp-fb:120 nack
a=rtcp-fb:120 nack pli
a=rtcp-fb:120 ccm fir
a=rtcp-fb:120 goog-remb
a=rtcp-fb:120 transport-cc
a=rtcp-fb:121 nack
a=rtcp-fb:121 nack pli
a=rtcp-fb:121 ccm fir
a=rtcp-fb:121 goog-remb
a=rtcp-fb:121 transport-cc
a=rtcp-fb:126 nack
a=rtcp-fb:126 nack pli
a=rtcp-fb:126 ccm fir
a=rtcp-fb:126 goog-remb
a=rtcp-fb:126 transport-cc
a=rtcp-fb:97 nack
a=rtcp-fb:97 nack pli
a=rtcp-fb:97 ccm fir
a=rtcp-fb:97 goog-remb
a=rtcp-fb:97 transport-cc
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:120 VP8/90000
a=rtpmap:124 rtx/90000
a=rtpmap:121 VP9/90000
a=rtpmap:125 rtx/90000
a=rtpmap:126 H264/90000
a=rtpmap:127 rtx/90000
a=rtpmap:97 H264/90000
a=rtpmap:98 rtx/90000
a=setup:actpass
a=ssrc:2903104422 cname:{c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e9f}
)";

const char *const our_fingerprint =
    "55:E5:CD:8E:46:DC:8E:D4:B7:C2:76:4D:2A:5A:4D:76:77:06:F8:5D:"
    "01:02:03:04:05:06:07:08:09:0A:0B:0C";

/* The program of most tests: VP8 video and Opus audio. */
std::vector<ProgramStream>
vp8_opus_program ()
{
  ProgramStream video, audio;
  video.kind = "video";
  video.encoding = "VP8";
  video.clock_rate = 90000;
  video.ssrc = 0x11111111;
  audio.kind = "audio";
  audio.encoding = "OPUS";
  audio.clock_rate = 48000;
  audio.channels = 2;
  audio.ssrc = 0x22222222;
  return {video, audio};
}

/* H.264 Constrained Baseline (42e01f) and Opus. */
std::vector<ProgramStream>
h264_opus_program ()
{
  std::vector<ProgramStream> streams = vp8_opus_program ();
  streams[0].encoding = "H264";
  streams[0].profile_level_id = "42e01f";
  return streams;
}

AnswerParams
our_params (bool with_candidates)
{
  AnswerParams params;
  params.ice_ufrag = "fAn0";
  params.ice_pwd = "fanoutsinkpassword0123456";
  params.fingerprint = our_fingerprint;
  params.cname = "program-cname";
  params.stream_id = "program";
  if (with_candidates) {
    params.candidates = {"candidate:1 1 UDP 2130706431 10.0.0.5 40000 typ host",
        "candidate:2 1 UDP 1694498815 198.51.100.4 40000 typ srflx raddr "
        "10.0.0.5 rport 40000"};
  }
  return params;
}

/* The answer, read back; fails the test if GstSDP cannot. */
GstSDPMessage *
parse_answer (const std::string &answer)
{
  GstSDPMessage *msg = nullptr;
  fail_unless_equals_int (
      gst_sdp_message_new_from_text (answer.c_str (), &msg), GST_SDP_OK);
  fail_unless_equals_string (gst_sdp_message_get_version (msg), "0");
  return msg;
}

/* Every value of @key in @media. */
std::vector<std::string>
values (const GstSDPMedia *media, const char *key)
{
  std::vector<std::string> out;
  for (guint i = 0;; i++) {
    const gchar *v = gst_sdp_media_get_attribute_val_n (media, key, i);
    if (!v)
      return out;
    out.emplace_back (v);
  }
}

bool
has (const GstSDPMedia *media, const char *key)
{
  return gst_sdp_media_get_attribute_val (media, key) != nullptr;
}

std::string
offer_error (const std::string &sdp,
    const std::vector<ProgramStream> &streams = vp8_opus_program ())
{
  ViewerOffer offer;
  std::string error;
  fail_if (fanout_parse_offer (sdp, streams, offer, error),
      "offer accepted, expected an error");
  fail_if (error.empty ());
  GST_INFO ("error: %s", error.c_str ());
  return error;
}

void
assert_contains (const std::string &text, const char *part)
{
  fail_unless (text.find (part) != std::string::npos, "\"%s\" lacks \"%s\"",
      text.c_str (), part);
}

/* The checks every accepted m-line of an answer passes. */
void
check_accepted (
    const GstSDPMedia *media, const char *mid, const char *pt, const char *kind)
{
  fail_unless_equals_string (gst_sdp_media_get_media (media), kind);
  fail_unless_equals_int (gst_sdp_media_get_port (media), 9);
  fail_unless_equals_string (
      gst_sdp_media_get_proto (media), "UDP/TLS/RTP/SAVPF");
  fail_unless_equals_int (gst_sdp_media_formats_len (media), 1);
  fail_unless_equals_string (gst_sdp_media_get_format (media, 0), pt);
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "mid"), mid);
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "setup"), "passive");
  fail_unless (has (media, "sendonly"));
  fail_if (has (media, "recvonly") || has (media, "sendrecv")
           || has (media, "inactive"));
  fail_unless (has (media, "rtcp-mux"));
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "ice-ufrag"), "fAn0");
  fail_unless_equals_string (gst_sdp_media_get_attribute_val (media, "ice-pwd"),
      "fanoutsinkpassword0123456");
  /* fail_unless_equals_string keeps pointers: no temporaries */
  std::string fingerprint = std::string ("sha-256 ") + our_fingerprint;
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "fingerprint"),
      fingerprint.c_str ());
  std::string msid = std::string ("program ") + kind;
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "msid"), msid.c_str ());
  /* payload types are the viewer's: every rtpmap/fmtp/rtcp-fb names @pt */
  std::string pt_prefix = std::string (pt) + " ";
  for (const char *key : {"rtpmap", "fmtp", "rtcp-fb"})
    for (const std::string &v : values (media, key))
      fail_unless (g_str_has_prefix (v.c_str (), pt_prefix.c_str ()),
          "a=%s:%s is not for PT %s", key, v.c_str (), pt);
  fail_unless_equals_int (values (media, "rtpmap").size (), 1);
}

void
check_rejected (const GstSDPMedia *media, const char *kind, const char *mid,
    const char *proto, const char *format)
{
  fail_unless_equals_string (gst_sdp_media_get_media (media), kind);
  fail_unless_equals_int (gst_sdp_media_get_port (media), 0);
  fail_unless_equals_string (gst_sdp_media_get_proto (media), proto);
  fail_unless_equals_string (gst_sdp_media_get_format (media, 0), format);
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (media, "mid"), mid);
  fail_unless (has (media, "inactive"));
  fail_if (has (media, "sendonly"));
}

} // namespace

GST_START_TEST (test_chromium_offer)
{
  ViewerOffer offer;
  std::string error;
  fail_unless (fanout_parse_offer (
                   crlf (chromium_offer), vp8_opus_program (), offer, error),
      "%s", error.c_str ());
  fail_unless_equals_string (offer.ice_ufrag.c_str (), "Yk3q");
  fail_unless_equals_string (
      offer.ice_pwd.c_str (), "Vb8S7dXUxPqHEEnyGkzPq7xT");
  fail_unless_equals_string (offer.fingerprint.c_str (),
      "A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:"
      "71:17:44:94:D6:49:3C:9D:5C");
  fail_unless (offer.bundle);
  fail_unless (offer.candidates.empty ());
  fail_unless_equals_int (offer.media.size (), 2);

  const ViewerOffer::Media &audio = offer.media[0];
  fail_unless_equals_int (audio.mline, 0);
  fail_unless_equals_string (audio.mid.c_str (), "0");
  fail_unless_equals_string (audio.kind.c_str (), "audio");
  fail_unless_equals_int (audio.stream, 1);
  fail_unless_equals_int (audio.payload_type, 111);
  fail_if (audio.nack || audio.pli || audio.fir); /* transport-cc only */
  fail_if (audio.rtcp_rsize);

  const ViewerOffer::Media &video = offer.media[1];
  fail_unless_equals_int (video.mline, 1);
  fail_unless_equals_string (video.mid.c_str (), "1");
  fail_unless_equals_int (video.stream, 0);
  fail_unless_equals_int (video.payload_type, 96);
  fail_unless (video.nack && video.pli && video.fir);
  fail_unless (video.rtcp_rsize);
}
GST_END_TEST;

GST_START_TEST (test_chromium_answer)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  ViewerOffer offer;
  std::string error;
  fail_unless (
      fanout_parse_offer (crlf (chromium_offer), program, offer, error), "%s",
      error.c_str ());
  std::string answer = fanout_build_answer (offer, program, our_params (false));
  GST_INFO ("answer:\n%s", answer.c_str ());
  GstSDPMessage *msg = parse_answer (answer);

  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "group"), "BUNDLE 0 1");
  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "msid-semantic"), " WMS program");
  fail_if (gst_sdp_message_get_attribute_val (msg, "ice-lite"));
  fail_unless_equals_string (gst_sdp_message_get_session_name (msg), "-");
  const GstSDPOrigin *origin = gst_sdp_message_get_origin (msg);
  fail_unless_equals_string (origin->sess_version, "2");
  fail_unless_equals_string (origin->addr, "127.0.0.1");
  fail_unless_equals_int (gst_sdp_message_medias_len (msg), 2);

  const GstSDPMedia *audio = gst_sdp_message_get_media (msg, 0);
  check_accepted (audio, "0", "111", "audio");
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (audio, "rtpmap"), "111 opus/48000/2");
  fail_unless_equals_string (gst_sdp_media_get_attribute_val (audio, "fmtp"),
      "111 minptime=10;useinbandfec=1");
  fail_if (has (audio, "rtcp-fb")); /* transport-cc is not ours */
  fail_if (has (audio, "rtcp-rsize"));
  std::vector<std::string> ssrc = values (audio, "ssrc");
  fail_unless_equals_int (ssrc.size (), 2);
  fail_unless_equals_string (ssrc[0].c_str (), "572662306 cname:program-cname");
  fail_unless_equals_string (ssrc[1].c_str (), "572662306 msid:program audio");
  fail_if (has (audio, "candidate") || has (audio, "end-of-candidates"));

  const GstSDPMedia *video = gst_sdp_message_get_media (msg, 1);
  check_accepted (video, "1", "96", "video");
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (video, "rtpmap"), "96 VP8/90000");
  fail_if (has (video, "fmtp"));
  fail_unless (has (video, "rtcp-rsize"));
  std::vector<std::string> fb = values (video, "rtcp-fb");
  fail_unless_equals_int (fb.size (), 3); /* no goog-remb, no transport-cc */
  fail_unless_equals_string (fb[0].c_str (), "96 nack");
  fail_unless_equals_string (fb[1].c_str (), "96 nack pli");
  fail_unless_equals_string (fb[2].c_str (), "96 ccm fir");
  ssrc = values (video, "ssrc");
  fail_unless_equals_int (ssrc.size (), 2);
  fail_unless_equals_string (ssrc[0].c_str (), "286331153 cname:program-cname");
  fail_unless_equals_string (ssrc[1].c_str (), "286331153 msid:program video");
  fail_if (has (video, "extmap"));
  gst_sdp_message_free (msg);
}
GST_END_TEST;

/* H.264 Constrained Baseline: Chromium offers 42001f (Baseline) first, but
 * its 42e01f is taken; mode 0 and other profiles never. */
GST_START_TEST (test_chromium_h264)
{
  std::vector<ProgramStream> program = h264_opus_program ();
  ViewerOffer offer;
  std::string error;
  fail_unless (
      fanout_parse_offer (crlf (chromium_offer), program, offer, error), "%s",
      error.c_str ());
  fail_unless_equals_int (offer.media[1].stream, 0);
  fail_unless_equals_int (offer.media[1].payload_type, 106);
  assert_contains (offer.media[1].fmtp, "profile-level-id=42e01f");
  /* PT 106 has no ccm fir in the offer */
  fail_unless (offer.media[1].nack && offer.media[1].pli);
  fail_if (offer.media[1].fir);

  std::string answer = fanout_build_answer (offer, program, our_params (false));
  GstSDPMessage *msg = parse_answer (answer);
  const GstSDPMedia *video = gst_sdp_message_get_media (msg, 1);
  check_accepted (video, "1", "106", "video");
  fail_unless_equals_string (
      gst_sdp_media_get_attribute_val (video, "rtpmap"), "106 H264/90000");
  fail_unless_equals_string (gst_sdp_media_get_attribute_val (video, "fmtp"),
      "106 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=42e01f");
  fail_unless_equals_int (values (video, "rtcp-fb").size (), 2);
  gst_sdp_message_free (msg);

  /* Without 42e01f, the Baseline offer carries it (a Constrained Baseline
   * stream is a Baseline stream), under the offer's profile. */
  std::string baseline_only = replace_all (crlf (chromium_offer),
      "packetization-mode=1;profile-level-id=42e01f",
      "packetization-mode=0;profile-level-id=42e01f");
  fail_unless (fanout_parse_offer (baseline_only, program, offer, error), "%s",
      error.c_str ());
  fail_unless_equals_int (offer.media[1].payload_type, 102);
  msg = parse_answer (fanout_build_answer (offer, program, our_params (false)));
  fail_unless_equals_string (gst_sdp_media_get_attribute_val (
                                 gst_sdp_message_get_media (msg, 1), "fmtp"),
      "102 level-asymmetry-allowed=1;packetization-mode=1;"
      "profile-level-id=42001f");
  gst_sdp_message_free (msg);

  /* Main (4d001f) takes neither: the viewer negotiates by profile. */
  std::string main_only =
      replace_all (replace_all (crlf (chromium_offer),
                       "profile-level-id=42e01f", "profile-level-id=4d001f"),
          "profile-level-id=42001f", "profile-level-id=4d001f");
  fail_unless (fanout_parse_offer (main_only, program, offer, error), "%s",
      error.c_str ());
  fail_unless_equals_int (offer.media[1].stream, -1);
  fail_unless_equals_int (offer.media[0].stream, 1); /* Opus still */
}
GST_END_TEST;

GST_START_TEST (test_chromium_datachannel)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  std::string sdp = replace_all (crlf (chromium_offer), "a=group:BUNDLE 0 1",
                        "a=group:BUNDLE 0 1 2")
                    + crlf (chromium_datachannel_tail);
  ViewerOffer offer;
  std::string error;
  fail_unless (
      fanout_parse_offer (sdp, program, offer, error), "%s", error.c_str ());
  fail_unless_equals_int (offer.media.size (), 3);
  fail_unless_equals_string (offer.media[2].kind.c_str (), "application");
  fail_unless_equals_string (offer.media[2].mid.c_str (), "2");
  fail_unless_equals_int (offer.media[2].stream, -1);
  fail_unless_equals_int (offer.media[2].payload_type, -1);

  GstSDPMessage *msg =
      parse_answer (fanout_build_answer (offer, program, our_params (false)));
  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "group"), "BUNDLE 0 1");
  fail_unless_equals_int (gst_sdp_message_medias_len (msg), 3);
  check_accepted (gst_sdp_message_get_media (msg, 0), "0", "111", "audio");
  check_accepted (gst_sdp_message_get_media (msg, 1), "1", "96", "video");
  check_rejected (gst_sdp_message_get_media (msg, 2), "application", "2",
      "UDP/DTLS/SCTP", "webrtc-datachannel");
  gst_sdp_message_free (msg);
}
GST_END_TEST;

/* The WHEP player's candidates are kept; ours end every m-line. */
GST_START_TEST (test_whep_offer)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  ViewerOffer offer;
  std::string error;
  fail_unless (fanout_parse_offer (crlf (whep_offer), program, offer, error),
      "%s", error.c_str ());
  fail_unless_equals_string (
      offer.ice_ufrag.c_str (), "0Tz5rUZ0ZV1kNcqN4fyMzIiXGVRmpJWm");
  fail_unless_equals_string (
      offer.ice_pwd.c_str (), "pZiLb6G/mx0M3S0xWhEi2tEOc2D9aJ5Q");
  fail_unless (g_str_has_prefix (offer.fingerprint.c_str (), "34:60:BE"));
  fail_unless_equals_int (offer.candidates.size (), 3);
  for (const auto &c : offer.candidates)
    fail_unless_equals_int (c.mline, 0);
  fail_unless_equals_string (offer.candidates[0].candidate.c_str (),
      "candidate:1 1 UDP 2015363327 192.168.1.23 53917 typ host");
  fail_unless_equals_string (offer.candidates[2].candidate.c_str (),
      "candidate:3 1 UDP 1679819007 203.0.113.7 53917 typ srflx raddr "
      "192.168.1.23 rport 53917");

  /* VP8 on PT 96 though H.264 comes first; rtcp-fb "*" counts */
  const ViewerOffer::Media &video = offer.media[0];
  fail_unless_equals_string (video.mid.c_str (), "video0");
  fail_unless_equals_int (video.stream, 0);
  fail_unless_equals_int (video.payload_type, 96);
  fail_unless (video.nack && video.fir);
  fail_if (video.pli); /* only offered for PT 102 */
  fail_if (video.rtcp_rsize);
  /* port 0 but bundle-only: taken; OPUS in upper case still is Opus */
  const ViewerOffer::Media &audio = offer.media[1];
  fail_unless_equals_string (audio.mid.c_str (), "audio1");
  fail_unless_equals_int (audio.stream, 1);
  fail_unless_equals_int (audio.payload_type, 111);

  GstSDPMessage *msg =
      parse_answer (fanout_build_answer (offer, program, our_params (true)));
  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "group"), "BUNDLE video0 audio1");
  for (guint i = 0; i < 2; i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (msg, i);
    std::vector<std::string> candidates = values (media, "candidate");
    fail_unless_equals_int (candidates.size (), 2);
    fail_unless_equals_string (
        candidates[0].c_str (), "1 1 UDP 2130706431 10.0.0.5 40000 typ host");
    fail_unless (has (media, "end-of-candidates"));
    /* after the candidates */
    guint n = gst_sdp_media_attributes_len (media);
    fail_unless_equals_string (
        gst_sdp_media_get_attribute (media, n - 1)->key, "end-of-candidates");
  }
  check_accepted (gst_sdp_message_get_media (msg, 0), "video0", "96", "video");
  check_accepted (gst_sdp_message_get_media (msg, 1), "audio1", "111", "audio");
  std::vector<std::string> fb =
      values (gst_sdp_message_get_media (msg, 0), "rtcp-fb");
  fail_unless_equals_int (fb.size (), 2);
  fail_unless_equals_string (fb[0].c_str (), "96 nack");
  fail_unless_equals_string (fb[1].c_str (), "96 ccm fir");
  gst_sdp_message_free (msg);

  /* an H.264 program takes PT 102, with its nack pli and the "*" nack */
  program = h264_opus_program ();
  fail_unless (fanout_parse_offer (crlf (whep_offer), program, offer, error),
      "%s", error.c_str ());
  fail_unless_equals_int (offer.media[0].payload_type, 102);
  fail_unless (offer.media[0].nack && offer.media[0].pli);
  fail_if (offer.media[0].fir);
}
GST_END_TEST;

GST_START_TEST (test_firefox_offer)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  ViewerOffer offer;
  std::string error;
  fail_unless (fanout_parse_offer (crlf (firefox_offer), program, offer, error),
      "%s", error.c_str ());
  fail_unless_equals_string (offer.ice_ufrag.c_str (), "a1b2c3d4");
  fail_unless (g_str_has_prefix (offer.fingerprint.c_str (), "27:A0:AE"));
  fail_unless_equals_int (offer.media[0].payload_type, 109);
  fail_unless_equals_int (offer.media[0].stream, 1);
  fail_unless_equals_int (offer.media[1].payload_type, 120);
  fail_unless_equals_int (offer.media[1].stream, 0);
  fail_unless (offer.media[1].nack && offer.media[1].pli && offer.media[1].fir);

  /* sendrecv is answered sendonly */
  GstSDPMessage *msg =
      parse_answer (fanout_build_answer (offer, program, our_params (false)));
  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "group"), "BUNDLE 0 1");
  check_accepted (gst_sdp_message_get_media (msg, 0), "0", "109", "audio");
  check_accepted (gst_sdp_message_get_media (msg, 1), "1", "120", "video");
  gst_sdp_message_free (msg);

  /* Firefox's H.264 (126, mode 1) for an H.264 program; 97 is mode 0 */
  program = h264_opus_program ();
  fail_unless (fanout_parse_offer (crlf (firefox_offer), program, offer, error),
      "%s", error.c_str ());
  fail_unless_equals_int (offer.media[1].payload_type, 126);
}
GST_END_TEST;

/* A viewer that sends video and wants none: the m-line is rejected, the
 * rest is answered. */
GST_START_TEST (test_sendonly_media_rejected)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  std::string sdp = crlf (chromium_offer);
  size_t video = sdp.find ("m=video");
  size_t recvonly = sdp.find ("a=recvonly", video);
  sdp.replace (recvonly, strlen ("a=recvonly"), "a=sendonly");
  ViewerOffer offer;
  std::string error;
  fail_unless (
      fanout_parse_offer (sdp, program, offer, error), "%s", error.c_str ());
  fail_unless_equals_int (offer.media[0].stream, 1);
  fail_unless_equals_int (offer.media[1].stream, -1);

  GstSDPMessage *msg =
      parse_answer (fanout_build_answer (offer, program, our_params (true)));
  fail_unless_equals_string (
      gst_sdp_message_get_attribute_val (msg, "group"), "BUNDLE 0");
  check_accepted (gst_sdp_message_get_media (msg, 0), "0", "111", "audio");
  const GstSDPMedia *rejected = gst_sdp_message_get_media (msg, 1);
  check_rejected (rejected, "video", "1", "UDP/TLS/RTP/SAVPF", "96");
  fail_if (has (rejected, "candidate") || has (rejected, "ssrc"));
  gst_sdp_message_free (msg);
}
GST_END_TEST;

/* Without a BUNDLE group we have one transport for one m-line: the first
 * that matches is taken, and the answer adds no group. */
GST_START_TEST (test_no_bundle_group)
{
  std::vector<ProgramStream> program = vp8_opus_program ();
  std::string sdp = without_lines (crlf (chromium_offer), "a=group:BUNDLE");
  ViewerOffer offer;
  std::string error;
  fail_unless (
      fanout_parse_offer (sdp, program, offer, error), "%s", error.c_str ());
  fail_if (offer.bundle);
  fail_unless_equals_int (offer.media[0].stream, 1);
  fail_unless_equals_int (offer.media[1].stream, -1);

  GstSDPMessage *msg =
      parse_answer (fanout_build_answer (offer, program, our_params (false)));
  fail_if (gst_sdp_message_get_attribute_val (msg, "group"));
  check_accepted (gst_sdp_message_get_media (msg, 0), "0", "111", "audio");
  check_rejected (gst_sdp_message_get_media (msg, 1), "video", "1",
      "UDP/TLS/RTP/SAVPF", "96");
  gst_sdp_message_free (msg);
}
GST_END_TEST;

GST_START_TEST (test_bad_offers)
{
  std::string chromium = crlf (chromium_offer);

  assert_contains (offer_error ("hello, this is not an offer"), "not SDP");
  assert_contains (
      offer_error ("{\"type\":\"offer\",\"sdp\":\"v=0\"}"), "not SDP");
  assert_contains (offer_error (""), "empty");
  assert_contains (offer_error (" \r\n"), "empty");
  assert_contains (
      offer_error ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"),
      "no audio or video");

  /* only H.264 High when the program sends Constrained Baseline */
  std::string high_only = R"(v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=video 9 UDP/TLS/RTP/SAVPF 112 114
c=IN IP4 0.0.0.0
a=ice-ufrag:Yk3q
a=ice-pwd:Vb8S7dXUxPqHEEnyGkzPq7xT
a=fingerprint:sha-256 A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C
a=setup:actpass
a=mid:0
a=recvonly
a=rtcp-mux
a=rtpmap:112 H264/90000
a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f
a=rtpmap:114 H264/90000
a=fmtp:114 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032
)";
  std::vector<ProgramStream> h264 = {h264_opus_program ()[0]};
  std::string error = offer_error (crlf (high_only.c_str ()), h264);
  assert_contains (error, "H264 (42e01f)");
  assert_contains (error, "640c1f");
  assert_contains (error, "640032");
  /* and to a VP8 + Opus program, naming both */
  error = offer_error (crlf (high_only.c_str ()));
  assert_contains (error, "VP8 or OPUS");
  /* rtx, red, CN and telephone-event are not named: Chromium's audio and
   * video without Opus, VP8 or any H.264 of mode 1 */
  std::string chromium_no_match = replace_all (
      replace_all (replace_all (chromium, "VP8/90000", "VP7/90000"),
          "opus/48000/2", "speex/48000/2"),
      "packetization-mode=1", "packetization-mode=0");
  error = offer_error (chromium_no_match);
  assert_contains (error,
      "offered: speex, G722, PCMU, PCMA, VP7, H264 (42001f, "
      "packetization-mode=0)");
  fail_if (error.find ("rtx") != std::string::npos
           || error.find ("telephone-event") != std::string::npos);

  error = offer_error (without_lines (chromium, "a=fingerprint"));
  assert_contains (error, "no a=fingerprint");
  error = offer_error (replace_all (chromium, "a=fingerprint:sha-256 ",
      "a=fingerprint:sha-1 55:E5:CD:8E:46:DC:8E:D4:B7:C2:76:4D:2A:5A:4D:76:"
      "77:06:F8:5D\r\na=fingerprint:sha-512 "));
  assert_contains (error, "sha-1 and sha-512");
  assert_contains (error, "not sha-256");
  error = offer_error (
      replace_all (chromium, "a=setup:actpass", "a=setup:passive"));
  assert_contains (error, "a=setup:passive");
  assert_contains (error, "actpass or active");
  error = offer_error (without_lines (chromium, "a=ice-ufrag"));
  assert_contains (error, "no a=ice-ufrag");
  error = offer_error (without_lines (chromium, "a=ice-pwd"));
  assert_contains (error, "no a=ice-pwd");
  error = offer_error (without_lines (chromium, "a=mid:1"));
  assert_contains (error, "m-line 1 (video) has no a=mid");
  error = offer_error (without_lines (chromium, "a=rtcp-mux"));
  assert_contains (error, "rtcp-mux");
  error = offer_error (replace_all (chromium,
      "a=fingerprint:sha-256 A5:4D:CA:18", "a=fingerprint:sha-256 A5:4D:CA"));
  assert_contains (error, "not 32 hex bytes");

  /* setup:active is fine: the viewer is then the DTLS client, as we want */
  ViewerOffer offer;
  fail_unless (fanout_parse_offer (
                   replace_all (chromium, "a=setup:actpass", "a=setup:active"),
                   vp8_opus_program (), offer, error),
      "%s", error.c_str ());
}
GST_END_TEST;

static Suite *
fanoutsdp_suite (void)
{
  Suite *s = suite_create ("fanoutsdp");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_chromium_offer);
  tcase_add_test (tc, test_chromium_answer);
  tcase_add_test (tc, test_chromium_h264);
  tcase_add_test (tc, test_chromium_datachannel);
  tcase_add_test (tc, test_whep_offer);
  tcase_add_test (tc, test_firefox_offer);
  tcase_add_test (tc, test_sendonly_media_rejected);
  tcase_add_test (tc, test_no_bundle_group);
  tcase_add_test (tc, test_bad_offers);
  return s;
}

ROOM_CHECK_MAIN (fanoutsdp);
