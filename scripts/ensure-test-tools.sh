#!/bin/sh
# The programs the suite drives, from Debian's packages (never a downloaded build): chromium for
# the dashboard's browser tests (Playwright), nginx and openssl for the deployment tests, and
# systemd-analyze for the unit files. Install what is missing when this user may; otherwise say
# what to install.
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing Debian's$missing for the tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit $?
fi
echo "make test: missing$missing; install them (apt-get install$missing) for the browser and deployment tests"
