#!/usr/bin/env bash
# Make Debian's Chromium available to the web page's browser tests (tests/web/).
#
#   ci/browser.sh         silent and exit 0 when /usr/bin/chromium exists; installs it otherwise.
#
# The tests drive it with Playwright's `executable_path`: Playwright's own browser download
# (`playwright install`) cannot reach its CDN from these machines, Debian's mirror can.
set -euo pipefail

chromium="${R2O_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$chromium" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ci/browser.sh: $chromium is missing and installing it needs root: sudo apt-get install chromium" >&2
    exit 1
fi
echo "ci/browser.sh: installing Debian's chromium (the web page's browser tests drive it)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ ! -x "$chromium" ]; then
    echo "ci/browser.sh: apt-get installed chromium but $chromium is still missing" >&2
    exit 1
fi
