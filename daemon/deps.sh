#!/bin/sh
# make deps: the Debian 12 packages workqd needs to build, test and run.
# Quiet and quick when they are all there; otherwise one apt-get (as root,
# or through sudo).
set -eu

PKGS="build-essential pkg-config libhiredis-dev libevent-dev libyaml-dev
libcmocka-dev redis-server redis-tools clang valgrind socat python3
python3-prometheus-client systemd systemd-container procps man-db"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
