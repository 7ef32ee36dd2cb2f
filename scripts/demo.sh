#!/usr/bin/env bash
# The main job: run the daemon, and when the demo avatar is available, drive one session end to end
# (speech synthesized with espeak-ng → Opus over WebSocket → MP4 under ./recordings), then keep serving.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/avatard
[ -x "$bin" ] || bin=.build/debug/avatard

"$bin" devices
"$bin" serve "$@" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS 127.0.0.1:9090/livez >/dev/null 2>&1 && break
  sleep 0.2
done
echo "==> admin: $(curl -s 127.0.0.1:9090/readyz)"
echo "==> avatars: $(curl -s 127.0.0.1:9090/v1/avatars)"
if curl -s 127.0.0.1:9090/v1/avatars | grep -q '"name":"demo"'; then
  speech=$(mktemp --suffix=.wav)
  espeak-ng -w "$speech" "Hello! I am the avatard demo avatar. My lips move with what I say, and I close my mouth when I stop talking."
  echo "==> streaming synthesized speech to the demo avatar"
  "$bin" send --audio "$speech" --avatar demo --output file-mp4
  echo "==> the talking face is in ./recordings/ (newest .mp4)"
  ls -t recordings/*.mp4 | head -n 1
else
  echo "==> no 'demo' avatar is loaded in this build; the daemon serves any bundle under [avatars] directory."
fi
echo "==> serving on ws://127.0.0.1:8080/v1/session, the browser page on http://127.0.0.1:8080/ (admin 127.0.0.1:9090); Ctrl-C stops and drains"
wait $daemon
