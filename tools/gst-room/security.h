/* gst-room: what the room defends itself with — token checks that leak
 * nothing by their timing, a back-off for addresses that guess tokens, and the
 * process's file limit turned into a number of peers.  docs/security.md says
 * what each is for. */
#pragma once

#include <glib.h>

#include <map>
#include <string>

#include "roomfile.h"

/* Compares a token in time that depends only on @given's length, not on
 * where the first difference is or how long @expected is. */
bool security_tokens_equal (
    const std::string &given, const std::string &expected);

/* 127.0.0.0/8, ::1 or "localhost". */
bool security_is_loopback (const std::string &host);

/* realpath(), or "" when @path does not exist. */
std::string security_real_path (const std::string &path);

/* A token an attacker could guess: short, or one of the examples shipped in
 * docs/rooms/. */
bool security_token_is_placeholder (const std::string &token);

/* Roles that may run the show or appear on its stage need a token: those
 * without one get a random one (returned for printing).  Refuses, with
 * @error, to serve placeholder tokens beyond loopback. */
bool security_check_tokens (RoomSpec &spec, std::string &error);

/* Failed token attempts per address: each failure doubles the time the
 * address must wait before it may try again (from 250 ms up to 60 s); a
 * success forgets the address. */
class AuthThrottle {
public:
  /* True when @address may try now; else @retry_ms says when. */
  bool may_try (const std::string &address, guint &retry_ms);
  void failed (const std::string &address);
  void succeeded (const std::string &address);
  guint failures (const std::string &address) const;

private:
  struct Entry {
    guint failures = 0;
    gint64 blocked_until = 0; /* monotonic µs */
  };
  std::map<std::string, Entry> entries_;
};

/* The process's open-file limit, raised to the hard limit where allowed. */
guint64 security_raise_file_limit ();
/* Open file descriptors of this process now. */
guint security_open_files ();
/* What one peer costs in file descriptors (sockets, wake-up pipes of its
 * threads), measured: a generous bound. */
constexpr guint SECURITY_FILES_PER_PEER = 40;
/* A fan-out viewer has no pipeline: its ICE socket and a little slack. */
constexpr guint SECURITY_FILES_PER_FANOUT_VIEWER = 2;
/* Kept free for the listener, pages, pipelines and logs. */
constexpr guint SECURITY_FILES_RESERVE = 64;
