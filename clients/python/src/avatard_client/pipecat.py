"""A Pipecat processor that gives a voice agent an avatard face (``pip install 'avatard-client[pipecat]'``).

Put it after the TTS service::

    pipeline = Pipeline([transport.input(), stt, user_aggregator, llm, tts,
                         AvatardProcessor(avatar="demo", output="rtp-h264"),
                         transport.output(), assistant_aggregator])

The TTS audio (``TTSAudioRawFrame``) is encoded to Opus and streamed to avatard, which renders the talking
face with that audio to its output (RTP, WebRTC, a file); when the user starts speaking (``InterruptionFrame``,
``UserStartedSpeakingFrame``) avatard is told ``input.interrupt`` and the face stops talking at once.
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from pipecat.frames.frames import (CancelFrame, EndFrame, Frame, InterruptionFrame, StartFrame, TTSAudioRawFrame,
                                   TTSStartedFrame, TTSStoppedFrame, UserStartedSpeakingFrame)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from .errors import AvatardError
from .protocol import Ended, ErrorEvent, Event, Interrupted, Stats
from .session import DEFAULT_URL, Session, connect


class AvatardProcessor(FrameProcessor):
    """Forwards a pipeline's TTS audio to an avatard session and interrupts it on user speech.

    Args:
        url: avatard's session endpoint (``ws://host:8080/v1/session``).
        avatar, output, style, output_options: what ``session.start`` asks for (output is a preset name).
        token: bearer token when avatard is configured with tokens.
        pass_through_audio: also push the TTS audio downstream. Off by default: avatard's output carries the
            speech in sync with the face, so the transport would play it a second time.
        interrupt_on_user_speech: send ``input.interrupt`` on ``UserStartedSpeakingFrame`` as well as on
            ``InterruptionFrame`` (for pipelines whose interruption strategy does not emit the latter).
        pace: send audio no faster than real time (``lead`` seconds ahead). Off by default: avatard buffers
            what the TTS produces (up to its ``max_buffer_seconds``) and drops the unrendered rest on an
            interrupt.

    Events (``@processor.event_handler(name)``): ``on_session_ready(processor, Ready)``,
    ``on_stats(processor, Stats)``, ``on_interrupted(processor, Interrupted)``,
    ``on_session_ended(processor, Ended)``. An avatard error is pushed upstream as an ``ErrorFrame``.
    """

    def __init__(self, *, url: str = DEFAULT_URL, avatar: str, output: str, style: str | None = None,
                 output_options: dict[str, Any] | None = None, token: str | None = None,
                 pass_through_audio: bool = False, interrupt_on_user_speech: bool = True,
                 pace: bool = False, lead: float = 0.0, close_timeout: float = 120.0, **kwargs):
        super().__init__(**kwargs)
        self._connect_args = dict(url=url, avatar=avatar, output=output, style=style, output_options=output_options,
                                  token=token, pace=pace, lead=lead)
        self._pass_through_audio = pass_through_audio
        self._interrupt_on_user_speech = interrupt_on_user_speech
        self._close_timeout = close_timeout
        self._session: Session | None = None
        # The session takes audio: set once it is ready, cleared by an error or the end.
        self._live = False
        # Audio sent since the last interrupt (a second interrupt for the same barge-in is not sent).
        self._speaking = False
        # After an interrupt, audio of the interrupted TTS response is dropped until the next one starts.
        self._muted = False
        self._muted_context: str | None = None
        self._context: str | None = None
        for name in ("on_session_ready", "on_stats", "on_interrupted", "on_session_ended"):
            self._register_event_handler(name)

    @property
    def session(self) -> Session | None:
        """The avatard session (from the StartFrame on, kept after it ended), for its ``ready``, ``stats``,
        ``ended`` and ``error_event``."""
        return self._session

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)

        if isinstance(frame, StartFrame):
            # Connected before the StartFrame goes on: frames behind it wait in this processor's input queue
            # until then, so no TTS audio can reach a session that is not ready yet.
            await self._open()
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSAudioRawFrame):
            await self._send_audio(frame)
            if self._pass_through_audio:
                await self.push_frame(frame, direction)
        elif isinstance(frame, TTSStartedFrame):
            self._muted = False
            if self._live:
                # A pause between responses stays a pause in the output (and live outputs stay in step).
                self._session.continue_at_wall_clock()
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSStoppedFrame):
            await self._guard(self._end_input())
            await self.push_frame(frame, direction)
        elif isinstance(frame, InterruptionFrame):
            await self._interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, UserStartedSpeakingFrame):
            if self._interrupt_on_user_speech:
                await self._interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, EndFrame):
            await self._close()
            await self.push_frame(frame, direction)
        elif isinstance(frame, CancelFrame):
            await self._abort()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _open(self) -> None:
        try:
            self._session = await connect(**self._connect_args)
        except AvatardError as error:
            await self.push_error(f"avatard session could not start: {error}", exception=error)
            return
        self._live = True
        self._session.add_listener(self._on_event)
        await self._call_event_handler("on_session_ready", self._session.ready)

    async def _send_audio(self, frame: TTSAudioRawFrame) -> None:
        if not self._live:
            return
        if self._muted:
            context = getattr(frame, "context_id", None)
            if context is None or context == self._muted_context:
                return
            self._muted = False
        self._speaking = True
        self._context = getattr(frame, "context_id", None)
        await self._guard(self._session.send_pcm(frame.audio, frame.sample_rate, channels=frame.num_channels))

    async def _end_input(self) -> None:
        if self._live:
            await self._session.end_input()

    async def _interrupt(self) -> None:
        if not self._live or not self._speaking:
            return
        self._speaking = False
        self._muted = True
        self._muted_context = self._context
        # Not waiting for input.interrupted: system frames must not stall (it arrives as on_interrupted).
        await self._guard(self._session.interrupt(wait=False))

    async def _close(self) -> None:
        if not self._live:
            return
        self._live = False
        try:
            await self._session.close(timeout=self._close_timeout)
        except (AvatardError, TimeoutError) as error:
            await self.push_error(f"avatard session did not end cleanly: {error}", exception=error)

    async def _abort(self) -> None:
        if self._live:
            self._live = False
            await self._session.abort()

    async def _guard(self, coroutine) -> None:
        """Runs a session call; an avatard error becomes an ErrorFrame and ends this processor's session."""
        try:
            await coroutine
        except AvatardError as error:
            if self._live:
                self._live = False
                await self.push_error(f"avatard: {error}", exception=error)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Stats):
            await self._call_event_handler("on_stats", event)
        elif isinstance(event, Interrupted):
            await self._call_event_handler("on_interrupted", event)
        elif isinstance(event, Ended):
            await self._call_event_handler("on_session_ended", event)
        elif isinstance(event, ErrorEvent):
            # The server ends the session after this (idle timeout, output failure, ...).
            logger.warning(f"{self}: avatard error {event.code}: {event.message}")
            if self._live:
                self._live = False
                await self.push_error(f"avatard: {event.code}: {event.message}")
