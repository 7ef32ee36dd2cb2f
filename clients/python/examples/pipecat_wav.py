"""A Pipecat pipeline whose "TTS" is a WAV file: its audio frames go through AvatardProcessor to avatard.

Replace the file source with your TTS service (and add STT, LLM and a transport) for an agent with a face;
the processor sits right after the TTS. Needs `pip install 'avatard-client[pipecat]'`.

    python pipecat_wav.py speech.wav --output file-mp4
"""

import argparse
import asyncio
import wave

from pipecat.frames.frames import EndFrame, TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.workers.runner import WorkerRunner

from avatard_client import DEFAULT_URL
from avatard_client.pipecat import AvatardProcessor


async def main(args: argparse.Namespace) -> None:
    with wave.open(args.wav) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"{args.wav}: 16-bit mono PCM WAV expected")
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())

    avatar = AvatardProcessor(url=args.url, token=args.token, avatar=args.avatar, output=args.output)

    @avatar.event_handler("on_session_ready")
    async def on_ready(processor, ready):
        print(f"avatard session {ready.session_id} ({ready.output})")

    @avatar.event_handler("on_session_ended")
    async def on_ended(processor, ended):
        print(f"ended: {ended.frames} frames, {ended.duration_ms / 1000:.2f} s")

    worker = PipelineWorker(Pipeline([avatar]))
    step = rate // 25 * 2                       # 40 ms chunks, as TTS services push them

    @worker.event_handler("on_pipeline_started")
    async def speak(worker, frame):             # processors take frames once the StartFrame went through
        await worker.queue_frames([TTSStartedFrame(),
                                   *[TTSAudioRawFrame(audio=pcm[i:i + step], sample_rate=rate, num_channels=1)
                                     for i in range(0, len(pcm), step)],
                                   TTSStoppedFrame(), EndFrame()])

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--token")
    parser.add_argument("--avatar", default="demo")
    parser.add_argument("--output", default="file-mp4")
    asyncio.run(main(parser.parse_args()))
