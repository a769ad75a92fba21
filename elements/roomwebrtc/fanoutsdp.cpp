/* roomwebrtc: the viewer's offer read, and our answer written, with GstSDP.
 * The choices the offer leaves to us are listed in fanoutsdp.h. */
#include "fanoutsdp.h"

#include <gst/sdp/sdp.h>

#include <cstring>
#include <memory>

namespace roomwebrtc {

namespace {

struct SdpMessageFree {
  void operator() (GstSDPMessage *msg) const { gst_sdp_message_free (msg); }
};
using SdpMessagePtr = std::unique_ptr<GstSDPMessage, SdpMessageFree>;

struct SdpMediaFree {
  void operator() (GstSDPMedia *media) const { gst_sdp_media_free (media); }
};
using SdpMediaPtr = std::unique_ptr<GstSDPMedia, SdpMediaFree>;

bool
equal_nocase (const std::string &a, const char *b)
{
  return g_ascii_strcasecmp (a.c_str (), b) == 0;
}

std::string
trimmed (const std::string &text)
{
  size_t begin = text.find_first_not_of (" \t\r\n");
  if (begin == std::string::npos)
    return "";
  size_t end = text.find_last_not_of (" \t\r\n");
  return text.substr (begin, end - begin + 1);
}

std::vector<std::string>
split_words (const std::string &text)
{
  std::vector<std::string> words;
  gchar **parts = g_strsplit_set (text.c_str (), " \t", -1);
  for (gchar **part = parts; *part; part++)
    if (**part)
      words.emplace_back (*part);
  g_strfreev (parts);
  return words;
}

/* The media-level value of @key, else the session-level one, else null. */
const gchar *
media_or_session (
    const GstSDPMessage *msg, const GstSDPMedia *media, const char *key)
{
  const gchar *value = gst_sdp_media_get_attribute_val (media, key);
  return value ? value : gst_sdp_message_get_attribute_val (msg, key);
}

bool
has_attribute (const GstSDPMedia *media, const char *key)
{
  return gst_sdp_media_get_attribute_val (media, key) != nullptr;
}

/* "<pt> <rest>" attributes (rtpmap, fmtp, rtcp-fb): the rest for @pt. */
std::vector<std::string>
values_for_pt (const GstSDPMedia *media, const char *key, const char *pt)
{
  std::vector<std::string> values;
  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    if (g_strcmp0 (attr->key, key) != 0 || !attr->value)
      continue;
    std::string value = trimmed (attr->value);
    size_t space = value.find_first_of (" \t");
    if (space == std::string::npos)
      continue;
    if (value.compare (0, space, pt) == 0)
      values.push_back (trimmed (value.substr (space + 1)));
  }
  return values;
}

struct Rtpmap {
  std::string encoding;
  guint clock_rate = 0;
  guint channels = 1; /* absent: one (RFC 4566) */
};

/* "VP8/90000", "opus/48000/2". */
bool
parse_rtpmap (const std::string &text, Rtpmap &map)
{
  gchar **parts = g_strsplit (text.c_str (), "/", -1);
  guint n = g_strv_length (parts);
  bool ok = n == 2 || n == 3;
  if (ok) {
    map.encoding = parts[0];
    guint64 rate = 0, channels = 1;
    ok = g_ascii_string_to_unsigned (
             parts[1], 10, 1, G_MAXUINT32, &rate, nullptr)
         && (n == 2
             || g_ascii_string_to_unsigned (
                 parts[2], 10, 1, 255, &channels, nullptr));
    map.clock_rate = rate;
    map.channels = channels;
  }
  g_strfreev (parts);
  return ok;
}

/* The value of @name in an fmtp "a=1;b=2" list, or "" (names are
 * case-insensitive, RFC 6184 §8.1). */
std::string
fmtp_param (const std::string &fmtp, const char *name, bool *found = nullptr)
{
  if (found)
    *found = false;
  gchar **params = g_strsplit (fmtp.c_str (), ";", -1);
  std::string value;
  for (gchar **param = params; *param; param++) {
    std::string item = trimmed (*param);
    size_t eq = item.find ('=');
    if (eq == std::string::npos)
      continue;
    if (equal_nocase (trimmed (item.substr (0, eq)), name)) {
      value = trimmed (item.substr (eq + 1));
      if (found)
        *found = true;
      break;
    }
  }
  g_strfreev (params);
  return value;
}

/* The H.264 profiles WebRTC stacks tell apart, from profile_idc and the
 * constraint_set flags of profile-level-id (RFC 6184 §8.1, H.264 A.2). */
enum class H264Profile {
  INVALID,
  CONSTRAINED_BASELINE,
  BASELINE,
  MAIN,
  CONSTRAINED_HIGH,
  HIGH,
  OTHER, /* any other profile_idc: matched only by the very same one */
};

struct H264ProfileId {
  H264Profile profile = H264Profile::INVALID;
  guint8 profile_idc = 0;
};

H264ProfileId
parse_h264_profile (const std::string &profile_level_id)
{
  H264ProfileId id;
  guint64 value = 0;
  if (profile_level_id.size () != 6
      || !g_ascii_string_to_unsigned (
          profile_level_id.c_str (), 16, 0, 0xffffff, &value, nullptr))
    return id;
  guint8 idc = value >> 16, iop = (value >> 8) & 0xff;
  bool set0 = iop & 0x80, set1 = iop & 0x40;
  bool set4 = iop & 0x08, set5 = iop & 0x04;
  id.profile_idc = idc;
  switch (idc) {
    case 0x42: /* Baseline; constraint_set1: also Main, so no FMO/ASO */
      id.profile =
          set1 ? H264Profile::CONSTRAINED_BASELINE : H264Profile::BASELINE;
      break;
    case 0x4d: /* Main; constraint_set0: also Baseline */
      id.profile = set0 ? H264Profile::CONSTRAINED_BASELINE : H264Profile::MAIN;
      break;
    case 0x58: /* Extended; set0 and set1: Constrained Baseline */
      id.profile = set0 && set1 ? H264Profile::CONSTRAINED_BASELINE
                   : set0       ? H264Profile::BASELINE
                                : H264Profile::OTHER;
      break;
    case 0x64: /* High; set4 and set5 (no B slices): Constrained High */
      id.profile =
          set4 && set5 ? H264Profile::CONSTRAINED_HIGH : H264Profile::HIGH;
      break;
    default:
      id.profile = H264Profile::OTHER;
      break;
  }
  return id;
}

/* Whether a viewer offering @offered decodes the stream's @ours: the same
 * profile, or (unless @exact) a Constrained Baseline stream in Baseline. */
bool
h264_profile_fits (
    const std::string &ours, const std::string &offered, bool exact)
{
  if (ours.empty ())
    return true; /* the program did not say: trust the offer */
  H264ProfileId stream = parse_h264_profile (ours);
  H264ProfileId viewer = parse_h264_profile (offered);
  if (stream.profile == H264Profile::INVALID
      || viewer.profile == H264Profile::INVALID)
    return false;
  if (stream.profile == H264Profile::OTHER
      || viewer.profile == H264Profile::OTHER)
    return stream.profile == viewer.profile
           && stream.profile_idc == viewer.profile_idc;
  if (stream.profile == viewer.profile)
    return true;
  return !exact && stream.profile == H264Profile::CONSTRAINED_BASELINE
         && viewer.profile == H264Profile::BASELINE;
}

/* Whether @pt of @media (with @map) carries @stream. */
bool
pt_carries (const GstSDPMedia *media, const char *pt, const Rtpmap &map,
    const ProgramStream &stream, bool exact_profile)
{
  if (!equal_nocase (map.encoding, stream.encoding.c_str ())
      || map.clock_rate != stream.clock_rate)
    return false;
  /* Opus is opus/48000/2 whatever the stream's channels (RFC 7587 §7) */
  guint channels = equal_nocase (stream.encoding, "OPUS") ? 2
                   : stream.channels                      ? stream.channels
                                                          : 1;
  if (stream.kind == "audio" && map.channels != channels)
    return false;
  if (equal_nocase (stream.encoding, "H264")) {
    std::vector<std::string> fmtps = values_for_pt (media, "fmtp", pt);
    std::string fmtp = fmtps.empty () ? "" : fmtps[0];
    /* mode 0 (one NAL unit per packet) is not what our payloader makes */
    if (fmtp_param (fmtp, "packetization-mode") != "1")
      return false;
    bool found = false;
    std::string profile = fmtp_param (fmtp, "profile-level-id", &found);
    if (!found)
      profile = "420010"; /* RFC 6184 §8.1: Baseline, level 1 */
    if (!h264_profile_fits (stream.profile_level_id, profile, exact_profile))
      return false;
  }
  return true;
}

/* "VP8", "H264 (42e01f)", as named in errors. */
std::string
describe_stream (const ProgramStream &stream)
{
  std::string text = stream.encoding;
  if (!stream.profile_level_id.empty ())
    text += " (" + stream.profile_level_id + ")";
  return text;
}

std::string
join (const std::vector<std::string> &items, const char *last_separator)
{
  std::string text;
  for (size_t i = 0; i < items.size (); i++) {
    if (i > 0)
      text += i + 1 == items.size () ? last_separator : ", ";
    text += items[i];
  }
  return text;
}

/* The codecs of an audio/video m-line, for the error naming them. */
void
describe_offered (const GstSDPMedia *media, std::vector<std::string> &names)
{
  for (guint f = 0; f < gst_sdp_media_formats_len (media); f++) {
    const gchar *pt = gst_sdp_media_get_format (media, f);
    std::vector<std::string> maps = values_for_pt (media, "rtpmap", pt);
    Rtpmap map;
    if (maps.empty () || !parse_rtpmap (maps[0], map))
      continue;
    /* not codecs of their own: they would only lengthen the list */
    bool helper = false;
    for (const char *name :
        {"rtx", "red", "ulpfec", "flexfec-03", "CN", "telephone-event"})
      helper = helper || equal_nocase (map.encoding, name);
    if (helper)
      continue;
    std::string name = map.encoding;
    if (equal_nocase (name, "H264")) {
      std::vector<std::string> fmtps = values_for_pt (media, "fmtp", pt);
      std::string fmtp = fmtps.empty () ? "" : fmtps[0];
      std::string profile = fmtp_param (fmtp, "profile-level-id");
      std::string mode = fmtp_param (fmtp, "packetization-mode");
      name += " (" + (profile.empty () ? "no profile-level-id" : profile)
              + ", packetization-mode=" + (mode.empty () ? "0" : mode) + ")";
    }
    bool seen = false;
    for (const auto &n : names)
      seen = seen || n == name;
    if (!seen)
      names.push_back (name);
  }
}

/* "AB:CD:…": the 32 bytes of a SHA-256, hex pairs split by colons. */
bool
is_sha256_fingerprint (const std::string &text)
{
  if (text.size () != 32 * 3 - 1)
    return false;
  for (size_t i = 0; i < text.size (); i++) {
    if (i % 3 == 2 ? text[i] != ':' : !g_ascii_isxdigit (text[i]))
      return false;
  }
  return true;
}

/* Finds a=fingerprint:sha-256 among the attributes of @media (or of the
 * session, @media null); @other_hashes collects the rest. */
bool
find_sha256 (const GstSDPMessage *msg, const GstSDPMedia *media,
    std::string &fingerprint, std::vector<std::string> &other_hashes)
{
  guint n = media ? gst_sdp_media_attributes_len (media)
                  : gst_sdp_message_attributes_len (msg);
  for (guint i = 0; i < n; i++) {
    const GstSDPAttribute *attr = media
                                      ? gst_sdp_media_get_attribute (media, i)
                                      : gst_sdp_message_get_attribute (msg, i);
    if (g_strcmp0 (attr->key, "fingerprint") != 0 || !attr->value)
      continue;
    std::vector<std::string> words = split_words (attr->value);
    if (words.size () != 2)
      continue;
    /* hash names are case-insensitive (RFC 8122 §5) */
    if (equal_nocase (words[0], "sha-256")) {
      fingerprint = words[1];
      return true;
    }
    other_hashes.push_back (words[0]);
  }
  return false;
}

/* a=sendrecv/recvonly/sendonly/inactive of @media, else of the session,
 * else sendrecv (RFC 4566). */
const char *
direction (const GstSDPMessage *msg, const GstSDPMedia *media)
{
  static const char *const directions[] = {
      "sendrecv", "recvonly", "sendonly", "inactive"};
  for (const char *d : directions)
    if (has_attribute (media, d))
      return d;
  for (const char *d : directions)
    if (gst_sdp_message_get_attribute_val (msg, d))
      return d;
  return "sendrecv";
}

/* The mids of the offer's a=group:BUNDLE (the first group); false if none. */
bool
bundle_group (const GstSDPMessage *msg, std::vector<std::string> &mids)
{
  for (guint i = 0;; i++) {
    const gchar *group = gst_sdp_message_get_attribute_val_n (msg, "group", i);
    if (!group)
      return false;
    std::vector<std::string> words = split_words (group);
    if (!words.empty () && words[0] == "BUNDLE") {
      mids.assign (words.begin () + 1, words.end ());
      return true;
    }
  }
}

bool
contains (const std::vector<std::string> &items, const std::string &item)
{
  for (const auto &i : items)
    if (i == item)
      return true;
  return false;
}

/* Picks the stream and payload type of each audio/video m-line. */
void
match_streams (const GstSDPMessage *msg,
    const std::vector<ProgramStream> &streams, ViewerOffer &offer,
    const std::vector<std::string> &bundled)
{
  std::vector<bool> taken (streams.size (), false);
  bool any_taken = false;
  for (ViewerOffer::Media &m : offer.media) {
    const GstSDPMedia *media = gst_sdp_message_get_media (msg, m.mline);
    if (m.kind != "audio" && m.kind != "video")
      continue;
    if (m.proto != "UDP/TLS/RTP/SAVPF")
      continue;
    if (gst_sdp_media_get_port (media) == 0
        && !has_attribute (media, "bundle-only"))
      continue;
    const char *dir = direction (msg, media);
    if (strcmp (dir, "recvonly") != 0 && strcmp (dir, "sendrecv") != 0)
      continue;
    if (offer.bundle ? !contains (bundled, m.mid) : any_taken)
      continue;

    for (size_t s = 0; s < streams.size () && m.stream < 0; s++) {
      if (taken[s] || streams[s].kind != m.kind)
        continue;
      /* The offer's order is the viewer's preference, but the stream's own
       * H.264 profile first: Chromium offers Baseline before Constrained
       * Baseline, and the answer should name the profile we send. */
      guint formats = gst_sdp_media_formats_len (media);
      for (guint f = 0; f < 2 * formats && m.stream < 0; f++) {
        bool exact = f < formats;
        const gchar *pt = gst_sdp_media_get_format (media, f % formats);
        std::vector<std::string> maps = values_for_pt (media, "rtpmap", pt);
        Rtpmap map;
        guint64 pt_value = 0;
        if (maps.empty () || !parse_rtpmap (maps[0], map)
            || !g_ascii_string_to_unsigned (pt, 10, 0, 127, &pt_value, nullptr)
            || !pt_carries (media, pt, map, streams[s], exact))
          continue;
        m.stream = s;
        m.payload_type = pt_value;
        std::vector<std::string> fmtps = values_for_pt (media, "fmtp", pt);
        m.fmtp = fmtps.empty () ? "" : fmtps[0];
      }
    }
    if (m.stream < 0)
      continue;
    taken[m.stream] = true;
    any_taken = true;

    m.rtcp_rsize = has_attribute (media, "rtcp-rsize");
    if (m.kind != "video")
      continue; /* we answer no feedback for audio */
    std::string pt = std::to_string (m.payload_type);
    for (const char *key : {pt.c_str (), "*"}) {
      for (const std::string &fb : values_for_pt (media, "rtcp-fb", key)) {
        std::vector<std::string> words = split_words (fb);
        if (words.size () == 1 && equal_nocase (words[0], "nack"))
          m.nack = true;
        else if (words.size () == 2 && equal_nocase (words[0], "nack")
                 && equal_nocase (words[1], "pli"))
          m.pli = true;
        else if (words.size () == 2 && equal_nocase (words[0], "ccm")
                 && equal_nocase (words[1], "fir"))
          m.fir = true;
      }
    }
  }
}

/* ICE credentials, fingerprint, a=setup and rtcp-mux of the transport:
 * the first taken m-line's, else the session's. */
bool
read_transport (const GstSDPMessage *msg, const GstSDPMedia *media,
    ViewerOffer &offer, std::string &error)
{
  const gchar *ufrag = media_or_session (msg, media, "ice-ufrag");
  const gchar *pwd = media_or_session (msg, media, "ice-pwd");
  if (!ufrag || !*ufrag || !pwd || !*pwd) {
    error = std::string ("the offer has no ")
            + (!ufrag || !*ufrag ? "a=ice-ufrag" : "a=ice-pwd")
            + " (session or media level): we need ICE";
    return false;
  }
  offer.ice_ufrag = ufrag;
  offer.ice_pwd = pwd;

  std::vector<std::string> other_hashes;
  std::string fingerprint;
  if (!find_sha256 (msg, media, fingerprint, other_hashes)
      && !find_sha256 (msg, nullptr, fingerprint, other_hashes)) {
    if (other_hashes.empty ())
      error = "the offer has no a=fingerprint (session or media level): we "
              "need DTLS-SRTP with a sha-256 fingerprint";
    else
      error = "the offer's a=fingerprint uses " + join (other_hashes, " and ")
              + ", not sha-256, the only hash we verify";
    return false;
  }
  if (!is_sha256_fingerprint (fingerprint)) {
    error = "the offer's a=fingerprint:sha-256 \"" + fingerprint
            + "\" is not 32 hex bytes split by colons";
    return false;
  }
  offer.fingerprint = fingerprint;

  const gchar *setup = media_or_session (msg, media, "setup");
  if (setup && strcmp (setup, "actpass") != 0
      && strcmp (setup, "active") != 0) {
    error = std::string ("the offer has a=setup:") + setup
            + "; we are the DTLS server (a=setup:passive), so the viewer "
              "must offer actpass or active";
    return false;
  }

  if (!has_attribute (media, "rtcp-mux")
      && !gst_sdp_message_get_attribute_val (msg, "rtcp-mux")) {
    error = "the offer has no a=rtcp-mux: we send RTCP on the RTP port only";
    return false;
  }
  return true;
}

/* "candidate:…", "a=candidate:…" or the bare value: the value. */
std::string
candidate_value (const std::string &candidate)
{
  std::string value = candidate;
  if (g_str_has_prefix (value.c_str (), "a="))
    value.erase (0, 2);
  if (g_str_has_prefix (value.c_str (), "candidate:"))
    value.erase (0, strlen ("candidate:"));
  return value;
}

void
add_rejected (GstSDPMessage *answer, const ViewerOffer::Media &m)
{
  GstSDPMedia *raw = nullptr;
  gst_sdp_media_new (&raw);
  SdpMediaPtr media (raw);
  gst_sdp_media_set_media (raw, m.kind.c_str ());
  gst_sdp_media_set_port_info (raw, 0, 1);
  gst_sdp_media_set_proto (raw, m.proto.c_str ());
  gst_sdp_media_add_format (raw, m.first_format.c_str ());
  /* every m-line needs a c= when the session has none */
  gst_sdp_media_add_connection (raw, "IN", "IP4", "0.0.0.0", 0, 0);
  /* the answer names every offered mid, even rejected (RFC 8843 §7.3) */
  if (!m.mid.empty ())
    gst_sdp_media_add_attribute (raw, "mid", m.mid.c_str ());
  gst_sdp_media_add_attribute (raw, "inactive", nullptr);
  gst_sdp_message_add_media (answer, raw);
}

void
add_accepted (GstSDPMessage *answer, const ViewerOffer::Media &m,
    const ProgramStream &stream, const AnswerParams &params)
{
  GstSDPMedia *raw = nullptr;
  gst_sdp_media_new (&raw);
  SdpMediaPtr media (raw);
  std::string pt = std::to_string (m.payload_type);
  gst_sdp_media_set_media (raw, m.kind.c_str ());
  gst_sdp_media_set_port_info (raw, 9, 1);
  gst_sdp_media_set_proto (raw, "UDP/TLS/RTP/SAVPF");
  gst_sdp_media_add_format (raw, pt.c_str ());
  gst_sdp_media_add_connection (raw, "IN", "IP4", "0.0.0.0", 0, 0);
  gst_sdp_media_add_attribute (raw, "rtcp", "9 IN IP4 0.0.0.0");
  gst_sdp_media_add_attribute (raw, "ice-ufrag", params.ice_ufrag.c_str ());
  gst_sdp_media_add_attribute (raw, "ice-pwd", params.ice_pwd.c_str ());
  gst_sdp_media_add_attribute (raw, "ice-options", "trickle");
  std::string fingerprint = "sha-256 " + params.fingerprint;
  gst_sdp_media_add_attribute (raw, "fingerprint", fingerprint.c_str ());
  gst_sdp_media_add_attribute (raw, "setup", "passive");
  gst_sdp_media_add_attribute (raw, "mid", m.mid.c_str ());
  gst_sdp_media_add_attribute (raw, "sendonly", nullptr);
  gst_sdp_media_add_attribute (raw, "rtcp-mux", nullptr);
  if (m.rtcp_rsize)
    gst_sdp_media_add_attribute (raw, "rtcp-rsize", nullptr);

  bool opus = equal_nocase (stream.encoding, "OPUS");
  bool h264 = equal_nocase (stream.encoding, "H264");
  /* Opus is always opus/48000/2 (RFC 7587 §7) */
  std::string rtpmap = pt + " " + (opus ? "opus" : stream.encoding) + "/"
                       + std::to_string (stream.clock_rate);
  if (stream.kind == "audio" && (opus || stream.channels > 1))
    rtpmap += "/" + std::to_string (opus ? 2 : stream.channels);
  gst_sdp_media_add_attribute (raw, "rtpmap", rtpmap.c_str ());
  if (h264) {
    /* Our profile, unless we took a Baseline offer for our Constrained
     * Baseline stream: then the offer's profile, which the answer must keep
     * (RFC 6184 §8.2.2), with our level. */
    std::string profile = stream.profile_level_id;
    std::string offered = fmtp_param (m.fmtp, "profile-level-id");
    if (profile.empty ())
      profile = offered;
    else if (offered.size () == 6 && profile.size () == 6
             && g_ascii_strncasecmp (offered.c_str (), profile.c_str (), 4))
      profile = offered.substr (0, 4) + profile.substr (4);
    std::string fmtp = pt + " level-asymmetry-allowed=1;packetization-mode=1";
    if (!profile.empty ())
      fmtp += ";profile-level-id=" + profile;
    gst_sdp_media_add_attribute (raw, "fmtp", fmtp.c_str ());
  } else if (opus) {
    std::string fmtp = pt + " minptime=10;useinbandfec=1";
    gst_sdp_media_add_attribute (raw, "fmtp", fmtp.c_str ());
  }
  if (m.kind == "video") {
    std::string nack = pt + " nack", pli = pt + " nack pli";
    std::string fir = pt + " ccm fir";
    if (m.nack)
      gst_sdp_media_add_attribute (raw, "rtcp-fb", nack.c_str ());
    if (m.pli)
      gst_sdp_media_add_attribute (raw, "rtcp-fb", pli.c_str ());
    if (m.fir)
      gst_sdp_media_add_attribute (raw, "rtcp-fb", fir.c_str ());
  }

  std::string msid = params.stream_id + " " + m.kind;
  gst_sdp_media_add_attribute (raw, "msid", msid.c_str ());
  std::string ssrc = std::to_string (stream.ssrc);
  std::string cname = ssrc + " cname:" + params.cname;
  std::string ssrc_msid = ssrc + " msid:" + msid;
  gst_sdp_media_add_attribute (raw, "ssrc", cname.c_str ());
  gst_sdp_media_add_attribute (raw, "ssrc", ssrc_msid.c_str ());

  for (const std::string &candidate : params.candidates) {
    std::string value = candidate_value (candidate);
    gst_sdp_media_add_attribute (raw, "candidate", value.c_str ());
  }
  if (!params.candidates.empty ())
    gst_sdp_media_add_attribute (raw, "end-of-candidates", nullptr);
  gst_sdp_message_add_media (answer, raw);
}

} // namespace

bool
fanout_parse_offer (const std::string &sdp,
    const std::vector<ProgramStream> &streams, ViewerOffer &offer,
    std::string &error)
{
  offer = ViewerOffer ();
  /* GstSDP skips lines it cannot read, so any text "parses": an SDP is one
   * that starts with v=0. */
  std::string text = trimmed (sdp);
  if (text.empty ()) {
    error = "the offer is empty";
    return false;
  }
  GstSDPMessage *raw = nullptr;
  if (!g_str_has_prefix (text.c_str (), "v=")
      || gst_sdp_message_new_from_text (text.c_str (), &raw) != GST_SDP_OK
      || g_strcmp0 (gst_sdp_message_get_version (raw), "0") != 0) {
    if (raw)
      gst_sdp_message_free (raw);
    error = "the offer is not SDP (it must start with v=0)";
    return false;
  }
  SdpMessagePtr msg (raw);

  guint n_media = gst_sdp_message_medias_len (raw);
  bool any_av = false;
  for (guint i = 0; i < n_media; i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (raw, i);
    ViewerOffer::Media m;
    m.mline = i;
    m.kind =
        gst_sdp_media_get_media (media) ? gst_sdp_media_get_media (media) : "";
    m.proto =
        gst_sdp_media_get_proto (media) ? gst_sdp_media_get_proto (media) : "";
    m.first_format = gst_sdp_media_formats_len (media) > 0
                         ? gst_sdp_media_get_format (media, 0)
                         : "";
    const gchar *mid = gst_sdp_media_get_attribute_val (media, "mid");
    if (!mid || !*mid) {
      error = "m-line " + std::to_string (i) + " (" + m.kind
              + ") has no a=mid: BUNDLE needs one on every m-line";
      return false;
    }
    m.mid = mid;
    for (const auto &other : offer.media) {
      if (other.mid == m.mid) {
        error = "the offer has a=mid:" + m.mid + " twice";
        return false;
      }
    }
    any_av = any_av || m.kind == "audio" || m.kind == "video";
    for (guint a = 0;; a++) {
      const gchar *candidate =
          gst_sdp_media_get_attribute_val_n (media, "candidate", a);
      if (!candidate)
        break;
      offer.candidates.push_back ({i, std::string ("candidate:") + candidate});
    }
    offer.media.push_back (m);
  }
  if (!any_av) {
    error = "the offer has no audio or video m-line";
    return false;
  }

  std::vector<std::string> bundled;
  offer.bundle = bundle_group (raw, bundled);
  match_streams (raw, streams, offer, bundled);

  const ViewerOffer::Media *transport = nullptr;
  for (const auto &m : offer.media) {
    if (m.stream >= 0) {
      transport = &m;
      break;
    }
  }
  if (!transport) {
    std::vector<std::string> offered, ours;
    for (guint i = 0; i < n_media; i++) {
      const GstSDPMedia *media = gst_sdp_message_get_media (raw, i);
      if (offer.media[i].kind == "audio" || offer.media[i].kind == "video")
        describe_offered (media, offered);
    }
    for (const auto &stream : streams)
      ours.push_back (describe_stream (stream));
    error = "the offer has no " + join (ours, " or ")
            + " that the program sends (offered: "
            + (offered.empty () ? "nothing" : join (offered, ", "))
            + "; only recvonly or sendrecv UDP/TLS/RTP/SAVPF m-lines count)";
    return false;
  }
  return read_transport (
      raw, gst_sdp_message_get_media (raw, transport->mline), offer, error);
}

std::string
fanout_build_answer (const ViewerOffer &offer,
    const std::vector<ProgramStream> &streams, const AnswerParams &params)
{
  GstSDPMessage *raw = nullptr;
  gst_sdp_message_new (&raw);
  SdpMessagePtr answer (raw);
  gst_sdp_message_set_version (raw, "0");
  /* a session id only needs to be unique, and at most 63 bits (JSEP) */
  guint64 session = ((guint64)g_random_int () << 32 | g_random_int ())
                    & G_GUINT64_CONSTANT (0x7fffffffffffffff);
  std::string session_id = std::to_string (session);
  gst_sdp_message_set_origin (
      raw, "-", session_id.c_str (), "2", "IN", "IP4", "127.0.0.1");
  gst_sdp_message_set_session_name (raw, "-");
  gst_sdp_message_add_time (raw, "0", "0", nullptr);

  std::string group = "BUNDLE";
  bool any_accepted = false;
  for (const auto &m : offer.media) {
    if (m.stream >= 0 && (size_t)m.stream < streams.size ()) {
      group += " " + m.mid;
      any_accepted = true;
    }
  }
  if (offer.bundle && any_accepted)
    gst_sdp_message_add_attribute (raw, "group", group.c_str ());
  std::string semantic = " WMS " + params.stream_id;
  gst_sdp_message_add_attribute (raw, "msid-semantic", semantic.c_str ());

  for (const auto &m : offer.media) {
    if (m.stream >= 0 && (size_t)m.stream < streams.size ())
      add_accepted (raw, m, streams[m.stream], params);
    else
      add_rejected (raw, m);
  }

  gchar *text = gst_sdp_message_as_text (raw);
  std::string result = text;
  g_free (text);
  return result;
}

} // namespace roomwebrtc
