"""The asyncio client of protocol v1: one :class:`Session` per WebSocket connection."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .audio import PACKET_48K, PcmEncoder, PcmLike
from .errors import (AuthenticationError, AvatardError, ConnectError, HandshakeError, SessionError,
                     session_error)
from .opus import APPLICATION_VOIP, packet_duration_48k
from .protocol import (MAX_BINARY_FRAME, SUBPROTOCOL, Ended, ErrorEvent, Event, Interrupted, Ready, Stats,
                       audio_frame, control, parse_event, session_start)

DEFAULT_URL = "ws://127.0.0.1:8080/v1/session"

EventCallback = Callable[[Event], Any]
_CLOSED = object()


class Session:
    """A started avatard session. Create it with :func:`connect`.

    Audio goes in with :meth:`send_pcm` (16-bit or float PCM at any common rate, encoded here with libopus)
    or :meth:`send_opus` (ready packets). Each packet gets the next ``seq`` and a ``ts`` that advances by the
    packet's duration in 48 kHz samples. With ``pace=True`` packets leave no earlier than their ``ts`` on the
    wall clock (minus ``lead`` seconds), as a live source would send them; otherwise as fast as avatard reads
    (it buffers ``max_buffer_seconds`` ahead, then TCP backpressure slows :meth:`send_pcm` down).

    Server messages arrive as events: iterate :meth:`events`, or register callbacks with
    :meth:`add_listener`. A session the server ends with an error raises the matching
    :class:`~avatard_client.errors.SessionError` subclass (with ``code`` and ``name``) from the next send,
    :meth:`close`, :meth:`wait_closed`, and at the end of :meth:`events`.
    """

    def __init__(self, ws: ClientConnection, ready: Ready, *, pace: bool, lead: float, bitrate: int | None,
                 application: int, keepalive_interval: float | None):
        self._ws = ws
        self.ready = ready
        self.pace = pace
        self.lead = lead
        self._bitrate = bitrate
        self._application = application
        self._seq = 0
        self._ts = 0
        self._anchor: tuple[float, int] | None = None    # (monotonic time, ts) that pacing maps together
        self._encoder: PcmEncoder | None = None
        self._generation = 0                            # bumped by interrupt(): stops senders in flight
        self._listeners: list[EventCallback] = []
        self._queue: asyncio.Queue = asyncio.Queue()
        self._interrupt_waiters: list[asyncio.Future] = []
        self._last_sent = time.monotonic()
        self.stats: Stats | None = None
        self.ended: Ended | None = None
        self.error_event: ErrorEvent | None = None
        self.close_code: int | None = None
        self._failure: SessionError | None = None
        self._reader = asyncio.create_task(self._read(), name=f"avatard-reader-{ready.session_id}")
        self._keepalive = (asyncio.create_task(self._keep_alive(keepalive_interval))
                           if keepalive_interval else None)

    # -- properties ---------------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self.ready.session_id

    @property
    def next_seq(self) -> int:
        return self._seq & 0xFFFFFFFF

    @property
    def next_ts(self) -> int:
        """ts (48 kHz samples since the session's start) of the next packet."""
        return self._ts

    @property
    def closed(self) -> bool:
        return self._reader.done()

    # -- audio --------------------------------------------------------------------------------------

    async def send_pcm(self, pcm: PcmLike, sample_rate: int, *, channels: int = 1) -> int:
        """Encodes PCM to 20 ms Opus packets and sends the complete ones; returns how many were sent.

        ``pcm``: little-endian int16 bytes, or an int16 / float32 / float64 array (1-D interleaved, or
        frames × channels); floats are in [-1, 1]. Channels are mixed down to mono. A partial packet waits
        for the next call, :meth:`end_input` or :meth:`close`. If the rate or channel count changes, what
        was buffered at the old one is sent first.
        """
        if self._encoder is not None and (self._encoder.sample_rate, self._encoder.channels) != (sample_rate, channels):
            await self._send_packets(self._encoder.flush())
            self._encoder.close()
            self._encoder = None
        if self._encoder is None:
            self._encoder = PcmEncoder(sample_rate, channels=channels, bitrate=self._bitrate,
                                       application=self._application)
        return await self._send_packets(self._encoder.encode(pcm))

    async def send_opus(self, packet: bytes, duration48k: int | None = None) -> None:
        """Sends one ready Opus packet (mono, any Opus configuration); its duration is read from its TOC
        unless given."""
        if duration48k is None:
            duration48k = packet_duration_48k(packet)
        await self._send_packet(bytes(packet), duration48k, self._generation)

    async def flush(self) -> int:
        """Sends the buffered partial packet (padded with silence) without ending the utterance."""
        if self._encoder is None:
            return 0
        return await self._send_packets(self._encoder.flush())

    def continue_at_wall_clock(self) -> None:
        """Moves the next ``ts`` up to the wall-clock time since the first packet (never back), so a pause
        between utterances is kept as silence in the output rather than closed up."""
        if self._anchor is not None:
            t0, ts0 = self._anchor
            self._ts = max(self._ts, ts0 + int((time.monotonic() - t0) * 48000))

    async def _send_packets(self, packets: list[bytes]) -> int:
        generation = self._generation
        sent = 0
        for packet in packets:
            if generation != self._generation:
                break   # interrupted while sending: the rest belonged to the interrupted speech
            await self._send_packet(packet, PACKET_48K, generation)
            sent += 1
        return sent

    async def _send_packet(self, packet: bytes, duration48k: int, generation: int) -> None:
        self._raise_if_failed()
        if len(packet) + 16 > MAX_BINARY_FRAME:
            raise ValueError(f"Opus packet of {len(packet)} bytes is over the protocol's 4 KiB frame limit")
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, self._ts)
        elif self.pace:
            t0, ts0 = self._anchor
            delay = t0 + (self._ts - ts0) / 48000 - self.lead - now
            if delay > 0:
                await asyncio.sleep(delay)
                if generation != self._generation:
                    return
        frame = audio_frame(self._seq, self._ts, packet)
        # seq and ts advance before the write: a write cancelled half way reads as a loss, which avatard
        # conceals, never as a reused seq.
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._ts += duration48k
        await self._send(frame)

    # -- control ------------------------------------------------------------------------------------

    async def end_input(self) -> None:
        """End of the utterance: the buffered partial packet goes out, then ``input.end`` (avatard renders
        what it has and idles)."""
        await self.flush()
        await self._send(control("input.end"))

    async def interrupt(self, *, wait: bool = True, timeout: float = 5.0) -> Interrupted | None:
        """Barge-in: drops audio buffered here and asks avatard to drop what it has not rendered.

        With ``wait`` it returns avatard's ``input.interrupted`` (``last_rendered_ts`` tells how much of the
        speech was shown). Senders still running stop at their next packet.
        """
        self._generation += 1
        if self._encoder is not None:
            self._encoder.reset()
        waiter = asyncio.get_running_loop().create_future() if wait else None
        if waiter is not None:
            self._interrupt_waiters.append(waiter)
        await self._send(control("input.interrupt"))
        # Audio after the interrupt is timed from now: avatard continues its timeline where it is.
        self._anchor = (time.monotonic(), self._ts) if self._anchor is not None else None
        if waiter is None:
            return None
        try:
            return await asyncio.wait_for(self._wait_or_fail(waiter), timeout)
        finally:
            if waiter in self._interrupt_waiters:
                self._interrupt_waiters.remove(waiter)

    async def keepalive(self) -> None:
        await self._send(control("keepalive"))

    async def close(self, *, timeout: float = 120.0) -> Ended:
        """Sends what is buffered and ``session.close``; avatard renders the rest, finalizes the output and
        answers ``session.ended`` (returned here) before closing with 1000."""
        if not self.closed:
            try:
                await self.flush()
                await self._send(control("session.close"))
            except SessionError:
                pass    # raised below from the close that caused it
        await self.wait_closed(timeout=timeout)
        if self.ended is None:
            raise session_error(self.close_code, None, "closed without session.ended")
        return self.ended

    async def abort(self) -> None:
        """Drops the connection without the protocol's close (as a vanished client would)."""
        self._stop_keepalive()
        await self._ws.close(code=1001)
        await asyncio.gather(self._reader, return_exceptions=True)

    async def wait_closed(self, *, timeout: float | None = None) -> None:
        """Waits until the connection closed; raises the session's error if it ended with one."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        self._raise_if_failed()

    # -- events -------------------------------------------------------------------------------------

    def add_listener(self, callback: EventCallback) -> None:
        """Calls ``callback(event)`` (a function or a coroutine function) for every server message."""
        self._listeners.append(callback)

    async def events(self) -> AsyncIterator[Event]:
        """Server messages in order (Stats, Interrupted, Ended, ErrorEvent, ...) until the connection
        closes; then raises the session's error if it ended with one. One consumer at a time."""
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                self._queue.put_nowait(_CLOSED)   # later iterations end at once too
                self._raise_if_failed()
                return
            yield item

    # -- internals ----------------------------------------------------------------------------------

    async def _send(self, message: str | bytes) -> None:
        self._raise_if_failed()
        try:
            await self._ws.send(message)
        except ConnectionClosed:
            # The reader sees the same close and records why (an error message, a close code).
            await asyncio.gather(self._reader, return_exceptions=True)
            self._raise_if_failed()
            raise session_error(self.close_code, None, "the connection is closed") from None
        self._last_sent = time.monotonic()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _wait_or_fail(self, waiter: asyncio.Future) -> Any:
        done, _ = await asyncio.wait({waiter, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        if waiter in done:
            return waiter.result()
        self._raise_if_failed()
        raise session_error(self.close_code, None, "the connection closed before the reply")

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    continue    # protocol v1 sends no binary frames to clients
                try:
                    event = parse_event(message)
                except ValueError:
                    continue
                await self._dispatch(event)
        except ConnectionClosed:
            pass
        finally:
            self._stop_keepalive()
            self.close_code = self._ws.close_code
            if self.close_code != 1000 or self.error_event is not None:
                e = self.error_event
                self._failure = session_error(self.close_code, e.code if e else None,
                                              e.message if e else (self._ws.close_reason or ""))
            for waiter in self._interrupt_waiters:
                if not waiter.done():
                    waiter.cancel()
            self._queue.put_nowait(_CLOSED)

    async def _dispatch(self, event: Event) -> None:
        if isinstance(event, Stats):
            self.stats = event
        elif isinstance(event, Ended):
            self.ended = event
        elif isinstance(event, ErrorEvent):
            self.error_event = event
        elif isinstance(event, Interrupted):
            for waiter in self._interrupt_waiters:
                if not waiter.done():
                    waiter.set_result(event)
        self._queue.put_nowait(event)
        for callback in list(self._listeners):
            result = callback(event)
            if inspect.isawaitable(result):
                await result

    async def _keep_alive(self, interval: float) -> None:
        # avatard closes a session after idle_timeout_seconds without a message (4003); a paused speaker
        # (an agent listening to its user) keeps it open.
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + interval - time.monotonic()))
            if time.monotonic() - self._last_sent >= interval:
                try:
                    await self.keepalive()
                except (AvatardError, ConnectionClosed):
                    return

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.abort()


async def connect(url: str = DEFAULT_URL, *, avatar: str, output: str, style: str | None = None,
                  output_options: dict[str, Any] | None = None, token: str | None = None,
                  token_in_query: bool = False, pace: bool = False, lead: float = 0.0,
                  bitrate: int | None = 32000, application: int = APPLICATION_VOIP,
                  keepalive_interval: float | None = 10.0, open_timeout: float = 10.0,
                  ready_timeout: float = 30.0) -> Session:
    """Opens a WebSocket to avatard, sends ``session.start`` and returns the session once it is ready.

    ``token`` goes in an ``Authorization: Bearer`` header, or in ``?token=`` with ``token_in_query``.
    Raises :class:`AuthenticationError` (HTTP 401), :class:`HandshakeError` (other refusals),
    :class:`ConnectError` (unreachable) or the :class:`SessionError` subclass of avatard's answer
    (``UnknownAvatar``, ``UnknownOutput``, ``Unsupported``, ``CapacityReached``, ...).
    """
    headers = {}
    if token is not None:
        if token_in_query:
            url += ("&" if "?" in url else "?") + "token=" + quote(token, safe="")
        else:
            headers["Authorization"] = f"Bearer {token}"
    start = session_start(avatar, output, style=style, output_options=output_options)
    try:
        ws = await ws_connect(url, additional_headers=headers, subprotocols=[SUBPROTOCOL], compression=None,
                              open_timeout=open_timeout, max_size=1 << 20, ping_interval=None)
    except InvalidStatus as error:
        response = error.response
        body = response.body.decode(errors="replace") if response.body else ""
        cls = AuthenticationError if response.status_code == 401 else HandshakeError
        raise cls(response.status_code, body) from None
    except InvalidHandshake as error:
        raise HandshakeError(0, str(error)) from error
    except (OSError, asyncio.TimeoutError) as error:
        raise ConnectError(f"cannot reach avatard at {url}: {error}") from error
    try:
        await ws.send(start)
        ready = await asyncio.wait_for(_await_ready(ws), ready_timeout)
    except BaseException:
        await ws.close()
        raise
    return Session(ws, ready, pace=pace, lead=lead, bitrate=bitrate, application=application,
                   keepalive_interval=keepalive_interval)


async def _await_ready(ws: ClientConnection) -> Ready:
    error: ErrorEvent | None = None
    try:
        async for message in ws:
            if isinstance(message, bytes):
                continue
            event = parse_event(message)
            if isinstance(event, Ready):
                return event
            if isinstance(event, ErrorEvent):
                error = event
    except ConnectionClosed:
        pass
    raise session_error(ws.close_code, error.code if error else None,
                        error.message if error else (ws.close_reason or "closed before session.ready"))
