#!/usr/bin/env bash
# Debian packages the bot and its tests need. Installs only what is missing, so a
# machine that has them does no network work and prints nothing.
#   install-system-deps.sh --run   what the bot itself needs: Tesseract OCR with the
#                                  Indonesian and English data (reads photos and scans);
#                                  when it cannot install, it warns and the bot runs without OCR
#   install-system-deps.sh         (for the tests) the above, a real Dovecot IMAP server,
#                                  and poppler's pdfsig
set -euo pipefail
mode=${1:-test}
need=()
have_pkg() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *"ok installed"* ]]; }
for pkg in tesseract-ocr tesseract-ocr-ind tesseract-ocr-eng; do
    have_pkg "$pkg" || need+=("$pkg")
done
if [ "$mode" != "--run" ]; then
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
    command -v pdfsig >/dev/null 2>&1 || need+=(poppler-utils)
fi
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]} (Debian packages) ..."
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
if [ "$mode" = "--run" ]; then
    apt_install || echo "warning: could not install ${need[*]}; the bot runs without OCR" >&2
else
    apt_install
fi
