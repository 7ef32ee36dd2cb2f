#!/usr/bin/env bash
# Fan-out through Janus: starts Debian's janus (apt-get install janus) with a generated configuration that loads
# only the streaming plugin and the HTTP transport, and one "rtp" mountpoint that takes what avatard's rtp-janus
# preset sends (H.264 payload 96 + Opus payload 111). Viewers watch mountpoint 1 through Janus's WebRTC
# (streaming plugin "watch" request, e.g. Janus's own streaming demo page or any Janus client).
#
#   scripts/janus-fanout.sh                 # foreground; Ctrl-C stops
#   JANUS_HTTP_PORT=8088 JANUS_VIDEO_PORT=5104 JANUS_AUDIO_PORT=5106 JANUS_CONFIG_DIR=/tmp/x scripts/janus-fanout.sh
#   scripts/janus-fanout.sh --print-config  # write the configuration, print its directory, do not start janus
#
# Then start sessions with output "rtp-janus" (its ports default to 5104/5106; change them under
# [output.presets.rtp-janus] in avatard's config together with the variables above).
set -euo pipefail

http_port="${JANUS_HTTP_PORT:-8088}"
video_port="${JANUS_VIDEO_PORT:-5104}"
audio_port="${JANUS_AUDIO_PORT:-5106}"
bind="${JANUS_BIND:-127.0.0.1}"
dir="${JANUS_CONFIG_DIR:-$(mktemp -d -t avatard-janus.XXXXXX)}"
janus="${JANUS_BIN:-$(command -v janus || true)}"
[ -n "$janus" ] || { echo "janus is not installed (Debian: apt-get install janus)" >&2; exit 1; }

libdir=""
for d in /usr/lib/x86_64-linux-gnu/janus /usr/lib/aarch64-linux-gnu/janus /usr/lib/janus /usr/local/lib/janus; do
  if [ -d "$d/plugins" ]; then libdir="$d"; break; fi
done
[ -n "$libdir" ] || { echo "cannot find janus's plugin directory" >&2; exit 1; }

# Everything but the streaming plugin and the HTTP transport stays unloaded.
others() { (cd "$1" && ls lib*.so 2>/dev/null | grep -v -x "$2" | paste -sd, -); }

mkdir -p "$dir"
cat > "$dir/janus.jcfg" <<JCFG
general: {
	configs_folder = "$dir"
	plugins_folder = "$libdir/plugins"
	transports_folder = "$libdir/transports"
	events_folder = "$libdir/events"
	loggers_folder = "$libdir/loggers"
	debug_level = ${JANUS_DEBUG_LEVEL:-3}
	session_timeout = 60
}
media: {
	rtp_port_range = "20000-40000"
}
nat: {
	ice_ignore_list = "vmnet"
}
plugins: {
	disable = "$(others "$libdir/plugins" libjanus_streaming.so)"
}
transports: {
	disable = "$(others "$libdir/transports" libjanus_http.so)"
}
loggers: {
	disable = "$(others "$libdir/loggers" none)"
}
events: {
	broadcast = false
	disable = "$(others "$libdir/events" none)"
}
JCFG

cat > "$dir/janus.transport.http.jcfg" <<JCFG
general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = $http_port
	ip = "$bind"
	https = false
}
admin: {
	admin_http = false
}
cors: {
}
JCFG

cat > "$dir/janus.plugin.streaming.jcfg" <<JCFG
general: {
}
avatard: {
	type = "rtp"
	id = 1
	description = "avatard session (rtp-janus preset)"
	audio = true
	audioport = $audio_port
	audiopt = 111
	audiocodec = "opus"
	video = true
	videoport = $video_port
	videopt = 96
	videocodec = "h264"
	videofmtp = "profile-level-id=42e01f;packetization-mode=1"
}
JCFG

echo "janus configuration in $dir: HTTP API http://$bind:$http_port/janus, mountpoint 1 (video RTP :$video_port, audio RTP :$audio_port)"
if [ "${1:-}" = "--print-config" ]; then
  exit 0
fi
exec "$janus" --config="$dir/janus.jcfg" --configs-folder="$dir" --disable-colors
