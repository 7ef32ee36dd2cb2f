"""Test support: the real avatard binary on loopback with the built-in demo avatar, a token, and outputs
under a temporary directory; speech from espeak-ng; GStreamer's tools to inspect what avatard wrote."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
import unittest
import urllib.request
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
TOKEN = "client-test-token"


def binary() -> Path:
    """The daemon under test: $AVATARD_BIN, else the debug (then release) build of this checkout.

    Without one the daemon tests are skipped, unless AVATARD_REQUIRE_DAEMON=1 (scripts/setup.sh test sets
    it), where a missing binary fails them."""
    candidates = [Path(os.environ["AVATARD_BIN"])] if os.environ.get("AVATARD_BIN") else [
        REPO / ".build/debug/avatard", REPO / ".build/release/avatard"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    message = f"no avatard binary at {', '.join(map(str, candidates))} (swift build --product avatard)"
    if os.environ.get("AVATARD_REQUIRE_DAEMON") == "1":
        raise RuntimeError(message)
    raise unittest.SkipTest(message)


def free_ports(n: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"""\n' + v + '"""' if "\n" in v else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def rtp_preset(name: str, ports: dict[str, int]) -> str:
    """Config text for an operator preset `name`: the shipped rtp-vp8 preset sending to `ports` on loopback."""
    shipped = tomllib.loads((REPO / "Pipelines/rtp-vp8.toml").read_text())
    lines = [f"[output.presets.{name}]"]
    for key in ("mode", "description", "pipeline"):
        lines.append(f"{key} = {_toml_value(shipped[key])}")
    for option, spec in shipped["options"].items():
        spec = dict(spec)
        if option in ports:
            spec["default"] = ports[option]
        lines.append(f"[output.presets.{name}.options.{option}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


class UdpSink:
    """Bound UDP sockets on loopback for a live preset's four ports, so its packets land somewhere (the
    kernel drops what nobody reads once a socket's buffer is full)."""

    def __init__(self):
        self.sockets = {}
        for name in ("video_port", "video_rtcp_port", "audio_port", "audio_rtcp_port"):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            self.sockets[name] = s

    @property
    def ports(self) -> dict[str, int]:
        return {name: s.getsockname()[1] for name, s in self.sockets.items()}

    def close(self) -> None:
        for s in self.sockets.values():
            s.close()


class Daemon:
    """`avatard serve` with a generated config; stop() sends SIGTERM (drain) and waits."""

    def __init__(self, *, extra_config: str = "", max_sessions: int = 4, idle_timeout: float = 30, extra_limits: str = ""):
        self.dir = Path(tempfile.mkdtemp(prefix="avatard-client-test-"))
        self.recordings = self.dir / "recordings"
        self.recordings.mkdir()
        self.port, self.admin_port = free_ports(2)
        cache = REPO / ".build/client-test-cache"
        cache.mkdir(parents=True, exist_ok=True)
        config = self.dir / "avatard.toml"
        config.write_text(f"""
[server]
listen = "127.0.0.1:{self.port}"
admin_listen = "127.0.0.1:{self.admin_port}"
tokens = ["{TOKEN}"]

[output]
directory = "{self.recordings}"

[limits]
max_sessions = {max_sessions}
idle_timeout_seconds = {idle_timeout}
{extra_limits}

[device]
cache_directory = "{cache}"

[log]
level = "warning"
""" + extra_config)
        self.log_path = self.dir / "avatard.log"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, MESA_SHADER_CACHE_DIR=str(cache))
        self.process = subprocess.Popen([str(binary()), "serve", "--config", str(config)], stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env)
        self._wait_ready(timeout=90)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/session"

    def admin(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_no_sessions(self, timeout: float = 15) -> None:
        """A closed session keeps its slot until its output is finalized; wait for the slots to free."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.admin("/readyz")
            if json.loads(body).get("sessions_active") == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"sessions still active after {timeout} s:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"avatard exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.admin("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"avatard not ready within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def file(self, session_id: str, ext: str = "mp4") -> Path:
        return self.recordings / f"{session_id}.{ext}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def speech(text: str, *, speed: int = 160) -> tuple[np.ndarray, int]:
    """espeak-ng's speech for `text`: (int16 samples, sample rate) — 22050 Hz, not a rate libopus takes."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-w", f.name, text], check=True)
        with wave.open(f.name) as w:
            assert w.getnchannels() == 1 and w.getsampwidth() == 2, "espeak-ng writes 16-bit mono"
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def discover(path: Path) -> dict[str, float]:
    """Stream durations (seconds) by kind, from gst-discoverer-1.0's report of a file."""
    out = subprocess.run(["gst-discoverer-1.0", "-v", str(path)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"gst-discoverer-1.0 failed on {path}: {out.stdout}{out.stderr}")
    result = {}
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("Duration:"):
            h, m, s = line.split()[1].split(":")
            result["duration"] = int(h) * 3600 + int(m) * 60 + float(s)
    result["text"] = out.stdout
    return result


def _decode_command(path: Path, keep: str, tail: list) -> list:
    """gst-launch decoding `path`: its `keep` ("audio" or "video") stream through `tail`, and the other stream, if
    the file has one, into a fakesink. A decodebin pad left unlinked hangs gst-launch now and then (2 of 60 runs
    of an audio-only decode of a daemon MP4 here); a branch for a stream the file lacks would wait for it forever."""
    other = "video" if keep == "audio" else "audio"
    cmd = ["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "name=d",
           "d.", "!", f"{keep}/x-raw", "!", "queue", "!"] + tail
    if re.search(rf"^\s*{other} #\d+:", discover(path)["text"], re.MULTILINE):
        cmd += ["d.", "!", f"{other}/x-raw", "!", "queue", "!", "fakesink"]
    return cmd


def decode_audio(path: Path) -> np.ndarray:
    """The file's audio track decoded by GStreamer (qtdemux/matroskademux → opusdec) as 48 kHz float mono."""
    with tempfile.NamedTemporaryFile(suffix=".f32") as raw:
        cmd = _decode_command(path, "audio", ["audioconvert", "!", "audioresample", "!",
                                              "audio/x-raw,format=F32LE,rate=48000,channels=1", "!", "filesink",
                                              f"location={raw.name}"])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"decoding the audio of {path} failed: {out.stdout}{out.stderr}")
        return np.fromfile(raw.name, dtype="<f4")


def decode_video(path: Path, width: int, height: int) -> np.ndarray:
    """The file's video decoded by GStreamer (decodebin) as 8-bit luma frames: (frames, height, width)."""
    cmd = _decode_command(path, "video", ["videoconvert", "!", "video/x-raw,format=GRAY8", "!", "fdsink", "fd=1"])
    out = subprocess.run(cmd, capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"decoding the video of {path} failed: {out.stderr.decode(errors='replace')}")
    frame = width * height
    if len(out.stdout) % frame:
        raise AssertionError(f"{len(out.stdout)} bytes of {width}x{height} luma is not a whole number of frames")
    return np.frombuffer(out.stdout, dtype=np.uint8).reshape(-1, height, width)
