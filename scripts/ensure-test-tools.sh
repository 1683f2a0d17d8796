#!/bin/sh
# The programs the suite drives, from Debian's packages (never a downloaded build): chromium for
# the dashboard's browser tests (Playwright), nginx and openssl for the deployment tests, and
# systemd-analyze for the unit files. `ensure-test-tools.sh bench`: wrk, the benchmark's load
# generator (without it the benchmark falls back to a Python client that takes a core from the
# server it measures). Install what is missing when this user may; otherwise say what to install.
missing=""
if [ "$1" = bench ]; then
  command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
else
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
  command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
  command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make: installing Debian's$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit $?
fi
echo "make: missing$missing; install them (apt-get install$missing)"
