"""Stream a WAV file (16-bit PCM, any rate, mono or stereo) to avatard and print what the session reports.

    python speak_wav.py speech.wav                       # demo avatar → file-mp4 under avatard's recordings
    python speak_wav.py speech.wav --output rtp-h264 --realtime --token SECRET
"""

import argparse
import asyncio
import wave

import avatard_client


async def main(args: argparse.Namespace) -> None:
    with wave.open(args.wav) as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{args.wav}: 16-bit PCM WAV expected, got {8 * w.getsampwidth()}-bit")
        rate, channels, pcm = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())

    session = await avatard_client.connect(args.url, token=args.token, avatar=args.avatar, style=args.style,
                                           output=args.output, pace=args.realtime)
    print(f"session {session.session_id}: {session.ready.width}x{session.ready.height} "
          f"@ {session.ready.fps} fps, output {session.ready.output}")
    session.add_listener(lambda e: print(e) if isinstance(e, (avatard_client.Stats, avatard_client.Interrupted)) else None)
    step = rate * channels * 2 // 10            # 100 ms of 16-bit samples per call
    for i in range(0, len(pcm), step):
        await session.send_pcm(pcm[i:i + step], rate, channels=channels)
    ended = await session.close()
    print(f"ended: {ended.frames} frames, {ended.duration_ms / 1000:.2f} s, "
          f"{ended.frames_dropped} dropped, {ended.packets_lost} packets lost")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav")
    parser.add_argument("--url", default=avatard_client.DEFAULT_URL)
    parser.add_argument("--token")
    parser.add_argument("--avatar", default="demo")
    parser.add_argument("--style")
    parser.add_argument("--output", default="file-mp4")
    parser.add_argument("--realtime", action="store_true", help="send at the speed of speech (live sources)")
    try:
        asyncio.run(main(parser.parse_args()))
    except avatard_client.SessionError as error:       # unknown_avatar (4005), capacity (4002), ...
        raise SystemExit(f"avatard: {error.name} ({error.code}): {error.message}")
    except avatard_client.HandshakeError as error:     # 401 without a valid token, ...
        raise SystemExit(str(error))
