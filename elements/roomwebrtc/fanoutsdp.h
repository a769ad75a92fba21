/* roomwebrtc: the SDP of a webrtcfanoutsink viewer.  The viewer offers (a
 * browser's recvonly transceivers, or a WHEP player's offer); we answer
 * with what the program carries, on one BUNDLE transport with rtcp-mux, on
 * the viewer's own payload types.  Built and parsed with GstSDP.
 *
 * Choices where the offer leaves room:
 * - We only send.  An audio/video m-line offered recvonly or sendrecv is
 *   answered sendonly; one offered sendonly or inactive wants nothing we
 *   send, so it is rejected (port 0, a=inactive), like a codec we lack.
 * - Only UDP/TLS/RTP/SAVPF m-lines are taken; port 0 means the offerer
 *   disabled the m-line, unless it is a=bundle-only.
 * - With a BUNDLE group in the offer, only its members are taken (we have
 *   one transport).  Without one, only the first m-line that matches is
 *   taken, and the answer has no group (an answer may not add one).
 * - The transport (ICE credentials, fingerprint, a=setup, a=rtcp-mux) is
 *   read on the first taken m-line, falling back to the session level.
 *   No a=setup means "active" (RFC 4145); a=rtcp-mux is required.
 * - H.264: the level is not compared (the viewer's decoder copes or says
 *   so); the profile must be the stream's, except that a Constrained
 *   Baseline stream also fits a Baseline offer (it is a Baseline stream;
 *   the answer then keeps the offer's profile), tried after every PT of
 *   the stream's own profile.  A High-only offer does not take a Constrained Baseline stream: WebRTC
 *   stacks negotiate H.264 by profile, not by decoder ability. */
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
  guint channels = 0; /* audio: 2 for Opus */
  guint32 ssrc = 0;   /* the program's SSRC, the same for every viewer */
  /* H.264: the profile-level-id the stream has (e.g. "42e01f"), else "". */
  std::string profile_level_id;
};

/* What a viewer's offer asks and allows. */
struct ViewerOffer {
  std::string ice_ufrag, ice_pwd;
  /* a=fingerprint:sha-256 (session or media level); other hashes refused */
  std::string fingerprint;
  /* ICE candidates carried in the offer ("candidate:…", the attribute
   * without the "a="), with the m-line they came in. */
  struct Candidate {
    guint mline;
    std::string candidate;
  };
  std::vector<Candidate> candidates;
  /* the offer has a=group:BUNDLE (the answer may only then have one) */
  bool bundle = false;

  struct Media {
    guint mline = 0;
    std::string mid;
    std::string kind; /* "video", "audio", or another m= type */
    /* the offer's m= proto and first format, echoed when rejected */
    std::string proto, first_format;
    /* the program stream this m-line carries, or -1 (answered with port 0) */
    gint stream = -1;
    gint payload_type = -1; /* the offer's PT for that stream's codec */
    /* rtcp-fb offered for that PT (or "*") and answered: video only */
    bool nack = false, pli = false, fir = false;
    bool rtcp_rsize = false; /* offered a=rtcp-rsize, answered */
    std::string fmtp;        /* the offer's fmtp for that PT (H.264) */
  };
  std::vector<Media> media;
};

/* Reads @sdp (a browser's or a WHEP player's offer) against the program's
 * @streams: each audio/video m-line gets the first stream of its kind not
 * taken yet whose codec it offers (H.264: packetization-mode=1, a profile
 * the stream fits).  False with @error for text that is not SDP, an
 * m-line without a=mid, no ICE credentials, no sha-256 fingerprint (naming
 * the hashes offered instead), a=setup:passive (we are the DTLS server), no
 * a=rtcp-mux, no audio/video m-line, or an offer taking none of the
 * program's codecs ("the offer has no VP8 or OPUS that the program sends"
 * style reasons, naming what was offered). */
bool fanout_parse_offer (const std::string &sdp,
    const std::vector<ProgramStream> &streams, ViewerOffer &offer,
    std::string &error);

/* What we say about ourselves in the answer. */
struct AnswerParams {
  std::string ice_ufrag, ice_pwd;
  std::string fingerprint; /* ours, sha-256 "AB:CD:…" */
  std::string cname;       /* a=ssrc:… cname: */
  std::string stream_id;   /* msid stream id, e.g. "program" */
  /* our candidates ("candidate:…", without "a="), put in every bundled
   * m-line, then a=end-of-candidates */
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
