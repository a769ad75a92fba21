/* gst-room: token checks, guessing back-off and the file limit. */
#include "security.h"

#include <cstdlib>

#include <dirent.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <gio/gio.h>

#include <algorithm>

bool
security_tokens_equal (const std::string &given, const std::string &expected)
{
  /* Every byte of @given is looked at, whatever it holds; a length mismatch
   * is folded into the same accumulator. */
  volatile unsigned char diff = given.size () != expected.size ();
  for (size_t i = 0; i < given.size (); i++) {
    unsigned char e = expected.empty () ? 0 : expected[i % expected.size ()];
    diff = diff | (unsigned char)(given[i] ^ e);
  }
  return diff == 0 && !expected.empty ();
}

bool
security_is_loopback (const std::string &host)
{
  if (host == "localhost")
    return true;
  GInetAddress *address = g_inet_address_new_from_string (host.c_str ());
  if (!address)
    return false;
  bool loopback = g_inet_address_get_is_loopback (address);
  g_object_unref (address);
  return loopback;
}

bool
security_token_is_placeholder (const std::string &token)
{
  static const char *const examples[] = {
      "stage-secret", "console-secret", "secret", "s3cret", "changeme"};
  for (const char *e : examples)
    if (token == e)
      return true;
  return g_utf8_strlen (token.c_str (), -1) < 16;
}

namespace {

std::string
random_token ()
{
  /* 128 bits from the kernel's generator, in hex so it survives a URL. */
  guint8 bytes[16] = {0};
  if (getrandom (bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
    g_error ("gst-room: no random bytes from the kernel for a token");
  std::string token;
  for (guint8 b : bytes) {
    char hex[3];
    g_snprintf (hex, sizeof hex, "%02x", b);
    token += hex;
  }
  return token;
}

bool
role_is_privileged (const RoomRoleSpec &role, const RoomSpec &spec)
{
  if (role.control)
    return true;
  /* A presenter: sends into the show's stage. */
  return !spec.show.stage.empty () && role.hub == spec.show.stage
         && (role.send_audio || role.send_video);
}

} // namespace

bool
security_check_tokens (RoomSpec &spec, std::string &error)
{
  bool beyond_loopback = !security_is_loopback (spec.host);
  for (RoomRoleSpec &role : spec.roles) {
    if (role.token.empty () && role_is_privileged (role, spec)) {
      role.token = random_token ();
      role.token_generated = true;
    }
    if (beyond_loopback && !role.token.empty ()
        && security_token_is_placeholder (role.token)) {
      error = spec.where (role.line) + ": [role " + role.name
              + "] token: a placeholder (an example or under 16 characters); "
                "set a real token, or leave it out for a random one, before "
                "listening on "
              + spec.host;
      return false;
    }
  }
  if (beyond_loopback && !spec.kurento.access_token.empty ()
      && security_token_is_placeholder (spec.kurento.access_token)) {
    error = spec.where (spec.kurento.line)
            + ": [kurento] access-token: a placeholder (an example or under "
              "16 characters); set a real token before listening on "
            + spec.host;
    return false;
  }
  return true;
}

bool
AuthThrottle::may_try (const std::string &address, guint &retry_ms)
{
  auto it = entries_.find (address);
  if (it == entries_.end ())
    return true;
  gint64 now = g_get_monotonic_time ();
  if (now >= it->second.blocked_until)
    return true;
  retry_ms = (guint)((it->second.blocked_until - now + 999) / 1000);
  return false;
}

void
AuthThrottle::failed (const std::string &address)
{
  /* Bounded: an address flood cannot grow the table without end. */
  if (entries_.size () > 10000 && entries_.find (address) == entries_.end ())
    entries_.erase (entries_.begin ());
  Entry &e = entries_[address];
  e.failures++;
  gint64 wait_ms =
      std::min<gint64> (250LL << std::min<guint> (e.failures - 1, 8), 60000);
  e.blocked_until = g_get_monotonic_time () + wait_ms * 1000;
}

void
AuthThrottle::succeeded (const std::string &address)
{
  entries_.erase (address);
}

guint
AuthThrottle::failures (const std::string &address) const
{
  auto it = entries_.find (address);
  return it == entries_.end () ? 0 : it->second.failures;
}

guint64
security_raise_file_limit ()
{
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    struct rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
      limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : limit.rlim_cur;
}

guint
security_open_files ()
{
  guint n = 0;
  DIR *dir = opendir ("/proc/self/fd");
  if (!dir)
    return 0;
  while (struct dirent *entry = readdir (dir))
    n += entry->d_name[0] != '.';
  closedir (dir);
  return n > 0 ? n - 1 : 0; /* the directory's own descriptor */
}

std::string
security_real_path (const std::string &path)
{
  char *resolved = realpath (path.c_str (), nullptr);
  std::string out = resolved ? resolved : "";
  free (resolved);
  return out;
}
