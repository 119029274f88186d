#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmarks and local stack use:
# chromium (browser tests), ffmpeg (ffprobe checks recordings), janus (the C SFU
# baseline of bench/sfu_load.py), iproute2 (network namespaces for that baseline) and
# coturn (the TURN relay the P2P media test connects Chromium through).
# Idempotent: does nothing when all are there.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v ffprobe  >/dev/null || need+=(ffmpeg)
command -v janus    >/dev/null || need+=(janus)
command -v ip       >/dev/null || need+=(iproute2)
command -v nft      >/dev/null || need+=(nftables)  # 1:1 NAT namespaces of tests/media/test_media_node_nat.py
command -v node     >/dev/null || need+=(nodejs npm)
command -v curl     >/dev/null || need+=(curl)      # the README's walk-through
command -v jq       >/dev/null || need+=(jq)
command -v gcc      >/dev/null || need+=(gcc libc6-dev)  # media_node/_fanout.c (make venv)
command -v turnserver >/dev/null || need+=(coturn)  # the TURN relay of tests/e2e/test_p2p_media.py
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${need[@]}"
