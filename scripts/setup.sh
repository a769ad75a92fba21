#!/usr/bin/env bash
# Installs every Debian package gst-rooms needs to build, run its demo and run its
# tests, then configures and builds the project in ./build.  Safe to run again: it
# installs only what is missing and rebuilds incrementally.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages=(
  # build
  meson ninja-build pkg-config g++ clang-format
  # sanitizer and libFuzzer builds (scripts/test.sh): clang with its runtimes
  clang libclang-rt-14-dev
  # GStreamer 1.22 and the stock elements rooms are made of
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-nice gstreamer1.0-opencv
  # vision plugin and its test data
  libopencv-dev opencv-data opencv-doc qrencode
  # the room tool
  libsoup-3.0-dev libjson-glib-dev libnice-dev nlohmann-json3-dev
  # webrtcfanoutsink: DTLS and SRTP on OpenSSL 3; libsrtp2 checks our packets in tests
  libssl-dev libsrtp2-dev
  # end-to-end tests: a real browser and a TURN server
  chromium coturn
  # benchmarks: Janus (streaming plugin) for the live-show fan-out comparison
  janus
  # test helpers
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-numpy
  # the per-test watchdog (tests/check/roomcheck.h) prints a hung test's threads
  gdb
  # recordings (issue 14): ffprobe and ffmpeg check and decode the files
  ffmpeg
  gir1.2-gst-plugins-bad-1.0 gir1.2-soup-3.0
  # edges (issue 15): nginx with the RTMP module as the edge the tests push
  # to; srtsink/srtsrc, flvmux, mpegtsmux come with gstreamer1.0-plugins-bad
  # and -good, the AAC encoder with gstreamer1.0-libav
  nginx libnginx-mod-rtmp
  # the quality ladder (issue 16): ip and tc make the shaped viewer's network
  # namespace, veth pair and tbf shaper (the test runs as root)
  iproute2
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Janus is there for the viewers benchmark, which runs its own on loopback;
  # the system service the package starts (on every interface) is not wanted.
  if [[ " ${missing[*]} " == *" janus "* ]] && command -v systemctl >/dev/null \
      && systemctl is-enabled --quiet janus 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl disable --now janus || true
  fi
  # The same for nginx: the edge tests run their own, on loopback, from a
  # prefix of their own; the package's service listens on port 80.
  if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null \
      && systemctl is-enabled --quiet nginx 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl disable --now nginx || true
  fi
fi

# Node.js for the browser tests: Debian's, unless the machine has one already.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi
# playwright-core drives Debian's chromium; it downloads no browser.
# Again whenever the lock file changed (a package was added).  --ignore-scripts:
# kurento-client 7.3.0 names a postinstall script it does not ship
# (Kurento/kurento#142); no package here needs its install scripts.
if [ ! -d tests/e2e/node_modules/playwright-core ] \
    || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
  (cd tests/e2e && npm ci --ignore-scripts --no-audit --no-fund)
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized
fi
ninja -C build
