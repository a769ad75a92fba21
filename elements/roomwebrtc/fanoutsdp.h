/* roomwebrtc: the SDP of a webrtcfanoutsink viewer.  The viewer offers (a
 * browser's recvonly transceivers, or a WHEP player's offer); we answer
 * with what the program carries, on one BUNDLE transport with rtcp-mux, on
 * the viewer's own payload types.  Built and parsed with GstSDP. */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace roomwebrtc {

/* One stream of the program, as its RTP caps say. */
struct ProgramStream {
  std::string kind;     /* "video" or "audio" */
  std::string encoding; /* "VP8", "H264" or "OPUS" (upper case) */
  guint clock_rate = 0;
  guint channels = 0;   /* audio: 2 for Opus */
  guint32 ssrc = 0;     /* the program's SSRC, the same for every viewer */
  /* H.264: the profile-level-id the stream has (e.g. "42e01f"), else "". */
  std::string profile_level_id;
};

/* What a viewer's offer asks and allows. */
struct ViewerOffer {
  std::string ice_ufrag, ice_pwd;
  /* a=fingerprint:sha-256 (session or media level); other hashes refused */
  std::string fingerprint;
  /* ICE candidates carried in the offer (a=candidate: values, without the
   * "a="), with the m-line they came in. */
  struct Candidate {
    guint mline;
    std::string candidate;
  };
  std::vector<Candidate> candidates;

  struct Media {
    guint mline = 0;
    std::string mid;
    std::string kind;  /* "video", "audio", or another m= type */
    /* the program stream this m-line carries, or -1 (answered with port 0) */
    gint stream = -1;
    gint payload_type = -1; /* the offer's PT for that stream's codec */
    bool nack = false, pli = false, fir = false; /* offered rtcp-fb */
    std::string fmtp; /* the offer's fmtp for that PT (H.264) */
  };
  std::vector<Media> media;
};

/* Reads @sdp (a browser's or a WHEP player's offer) against the program's
 * @streams: each audio/video m-line gets the first stream of its kind not
 * taken yet whose codec it offers (H.264: packetization-mode=1, a profile
 * the stream fits).  False with @error for text that is not SDP, no
 * ICE credentials, no sha-256 fingerprint, a=setup:passive (we are the
 * DTLS server), no BUNDLE-able m-line, or an offer taking none of the
 * program's codecs ("the offer has no VP8, H264 or OPUS that the program
 * sends" style reasons, naming what was offered). */
bool fanout_parse_offer (const std::string &sdp,
    const std::vector<ProgramStream> &streams, ViewerOffer &offer,
    std::string &error);

/* What we say about ourselves in the answer. */
struct AnswerParams {
  std::string ice_ufrag, ice_pwd;
  std::string fingerprint; /* ours, sha-256 "AB:CD:…" */
  std::string cname;       /* a=ssrc:… cname: */
  std::string stream_id;   /* msid stream id, e.g. "program" */
  /* our candidates (values without "a="), put in every bundled m-line, then
   * a=end-of-candidates */
  std::vector<std::string> candidates;
};

/* The answer to @offer: a=group:BUNDLE of the m-lines we carry, rtcp-mux,
 * a=setup:passive, a=sendonly, the viewer's payload type with rtpmap (and
 * fmtp for H.264 and Opus), only the rtcp-fb we implement (nack, nack pli,
 * ccm fir) when offered, msid and a=ssrc with cname for each stream; other
 * m-lines rejected with port 0 and a=inactive. */
std::string fanout_build_answer (const ViewerOffer &offer,
    const std::vector<ProgramStream> &streams, const AnswerParams &params);

} // namespace roomwebrtc
