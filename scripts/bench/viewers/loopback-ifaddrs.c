/* LD_PRELOAD shim for the viewers benchmark: getifaddrs() as the C library
 * returns it, with the loopback flag cleared, so that a server which skips
 * loopback interfaces when it gathers ICE candidates (Janus 1.1) offers
 * 127.0.0.1 like any other host address.  Nothing else changes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int
getifaddrs (struct ifaddrs **list)
{
  static int (*next) (struct ifaddrs **) = NULL;
  if (!next)
    next = (int (*) (struct ifaddrs **))dlsym (RTLD_NEXT, "getifaddrs");
  if (!next)
    return -1;
  int result = next (list);
  if (result == 0)
    for (struct ifaddrs *entry = *list; entry; entry = entry->ifa_next)
      entry->ifa_flags &= ~IFF_LOOPBACK;
  return result;
}
