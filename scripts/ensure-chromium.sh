#!/bin/sh
# The dashboard's browser tests drive Debian's chromium through Playwright (never a downloaded
# browser). Install it when it is missing and this user may; otherwise say what to install.
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing Debian's chromium for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit $?
fi
echo "make test: $CHROMIUM is missing; install Debian's chromium (apt-get install chromium) for the browser tests"
