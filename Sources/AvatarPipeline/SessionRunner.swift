import AvatarFormats
import AvatarConfig
import AvatarMedia
import AvatarProtocol
import AvatarStages
import Foundation
import Logging

/// One session's render loop. It runs on its own thread (never on NIO event loops or the Swift
/// cooperative pool), owns the session's stages, timeline and output, and reports through `emit`.
///
/// Live outputs: frame k is decided at T0 + k/fps + delay − 1/fps on the wall clock (T0 = output start);
/// if its audio has not arrived, silence is appended to the timeline so the same model renders idle
/// motion, and later audio follows it. Offline outputs: frames are rendered as soon as their audio
/// (and the stages' look-ahead) is there, and no frame is made beyond the audio sent.
final class SessionRunner {
    private let plan: SessionPlan
    private let inbox: SessionInbox
    private let emit: @Sendable (SessionEvent) -> Void
    private let makeOutput: SessionOutputFactory
    private var logger: Logger

    private var stages: SessionStages!
    private var output: (any SessionOutput)?
    private var receiver: OpusPacketReceiver!
    private let silence = OpusSilence()
    private var timeline: AudioTimeline
    private var motionQueue: [MotionFrame] = []
    private var nextFrame = 0
    private var counters = SessionCounters()
    private var latencies = LatencyWindow()
    private var lastFrame: I420Frame?
    /// Motion of the last frame rendered (the pose on screen), where an interruption's blend starts.
    private var lastMotion: MotionFrame?
    private let clock = ContinuousClock()
    private var startInstant: ContinuousClock.Instant
    private var nextStats: ContinuousClock.Instant
    /// Silence inserted for underruns since the last client packet (live), so a ts gap is not filled twice.
    private var underrunSinceLastPacket = 0
    /// Ends of utterances (`input.end`, `session.close`) not yet flushed through the stages.
    private var flushPositions: [Int] = []
    /// Set by `session.close`: the session ends once this frame index is reached.
    private var closeFrame: Int?
    private let fps: Int
    private let frameNanos: UInt64
    private let delayNanos: UInt64

    /// Audio handed to the stages ahead of the next frame to render (bounds work lost on interrupt).
    private let feedHorizonFrames = 12
    /// Frames rendered per turn of the loop before the inbox is read again, so `input.interrupt` and
    /// `session.close` are acted on promptly even while a burst of audio is being rendered.
    private let framesPerTurn = 4
    /// A live session further behind the wall clock than this skips ahead instead of drifting.
    private let maxLiveLag: Duration = .seconds(1)
    /// Whether the overload warning was logged (once per session).
    private var warnedOverload = false
    /// The first frame after a skip is rendered even if late, so an overloaded session still shows motion.
    private var renderAfterSkip = false
    /// Frames up to (not including) this index may be pushed: the close frame once `session.close` came.
    private var frameLimit: Int { closeFrame ?? Int.max }

    init(plan: SessionPlan, inbox: SessionInbox, makeOutput: @escaping SessionOutputFactory, logger: Logger,
         emit: @escaping @Sendable (SessionEvent) -> Void) {
        self.plan = plan
        self.inbox = inbox
        self.makeOutput = makeOutput
        self.logger = logger
        self.emit = emit
        self.fps = plan.avatar.fps
        self.timeline = AudioTimeline(fps: plan.avatar.fps)
        self.frameNanos = 1_000_000_000 / UInt64(plan.avatar.fps)
        self.delayNanos = UInt64(plan.effectiveDelayMs) * 1_000_000
        self.startInstant = clock.now
        self.nextStats = clock.now
    }

    private var isLive: Bool { plan.mode == .live }

    // MARK: lifecycle

    func run() {
        do {
            // A ts gap inserts at most max_buffer_seconds of silence: what a client may buffer ahead.
            receiver = try OpusPacketReceiver(outputSampleRate: 16000, maxGapSeconds: plan.maxBufferSeconds)
            stages = try plan.avatar.makeStages(options: plan.stageOptions)
            if !plan.motionOnly {
                guard let frames = stages.frames else {
                    throw SessionFailure(.unsupported, "avatar '\(plan.avatar.name)' produces motion only and cannot feed a video output")
                }
                do {
                    output = try makeOutput(plan, frames.width, frames.height)
                } catch {
                    SessionMetrics.outputErrors.increment()
                    throw SessionFailure(.output, "output '\(plan.preset.name)' failed to start: \(error)")
                }
            }
        } catch let failure as SessionFailure {
            fail(failure)
            return
        } catch {
            fail(SessionFailure(.internal, "session setup failed: \(error)"))
            return
        }
        startInstant = clock.now
        nextStats = startInstant + .seconds(1)
        emit(.ready(ServerMessage.VideoInfo(width: plan.avatar.width, height: plan.avatar.height, fps: fps),
                    latencyMs: plan.effectiveDelayMs))
        logger.info("session started", metadata: ["output.mode": "\(plan.mode.rawValue)"])
        do {
            try loop()
        } catch let failure as SessionFailure {
            fail(failure)
        } catch let error as OutputError {
            // A push the output refused (its pipeline failed: disk full, file-size limit, a sink error).
            SessionMetrics.outputErrors.increment()
            fail(SessionFailure(.output, "output '\(plan.preset.name)' failed: \(output?.failure ?? error.description)"))
        } catch {
            fail(SessionFailure(.internal, "render failed: \(error)"))
        }
    }

    private func fail(_ failure: SessionFailure) {
        // Output failures are the operator's environment (disk, sink), not a fault of the daemon.
        let level: Logger.Level = failure.kind == .internal ? .error : .warning
        logger.log(level: level, "session failed", metadata: ["error.kind": "\(failure.kind.rawValue)", "error.message": "\(failure.message)"])
        inbox.close()
        // Whatever was written stays playable.
        if let output { try? output.finish() }
        emit(.failed(failure))
        releaseStages()
        emit(.finished(goingAway: false))
    }

    // MARK: the loop

    private func loop() throws {
        while true {
            let wait: Date?
            if isLive {
                let due = decisionInstant(nextFrame)
                let until = min(due, nextStats)
                wait = Date(timeIntervalSinceNow: max(0, Self.seconds(until - clock.now)))
            } else {
                wait = motionQueue.isEmpty && timeline.end <= timeline.fedEnd && flushPositions.isEmpty ? Date(timeIntervalSinceNow: Self.seconds(nextStats - clock.now)) : Date()
            }
            let inputs = inbox.take(until: wait)
            var taken48k = 0
            for input in inputs {
                switch input {
                case let .audio(seq, ts, payload, samples48k, arrival):
                    taken48k += samples48k
                    acceptAudio(seq: seq, ts: ts, payload: payload, arrival: arrival)
                case .end:
                    endUtterance()
                case .interrupt:
                    interrupt()
                case .close:
                    endUtterance()
                    closeFrame = framesCovering(timeline.end)
                case .abort(let goingAway):
                    try finishAbruptly(goingAway: goingAway)
                    return
                }
            }
            if let failure = output?.failure {
                SessionMetrics.outputErrors.increment()
                throw SessionFailure(.output, "output '\(plan.preset.name)' failed: \(failure)")
            }
            try renderDueFrames()
            inbox.update(taken48k: taken48k, backlog48k: backlog48k)
            if clock.now >= nextStats {
                emitStats()
                nextStats = nextStats + .seconds(1)
                if nextStats < clock.now { nextStats = clock.now + .seconds(1) }
            }
            if let closeFrame, nextFrame >= closeFrame {
                try finishNormally()
                return
            }
        }
    }

    /// Audio accepted but not yet rendered (48 kHz samples).
    private var backlog48k: Int { max(0, timeline.end - timeline.frameStart(nextFrame)) * 3 }

    private func decisionInstant(_ k: Int) -> ContinuousClock.Instant {
        let nanos = Int64(k) * Int64(frameNanos) + Int64(delayNanos) - Int64(frameNanos)
        return startInstant + .nanoseconds(max(0, nanos))
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    // MARK: input

    /// Decodes one packet into the timeline.
    private func acceptAudio(seq: UInt32, ts: UInt64, payload: [UInt8], arrival: ContinuousClock.Instant) {
        let result = receiver.receive(seq: seq, ts: ts, payload: payload)
        counters.packetsLost += result.lost
        counters.decodeErrors += result.decodeErrors
        if result.lost > 0 { SessionMetrics.packetsLost.increment(by: Int64(result.lost)) }
        if result.decodeErrors > 0 { SessionMetrics.decodeErrors.increment(by: Int64(result.decodeErrors)) }
        guard let packet = result.packet else {
            if result.decodeErrors > 0 {
                // Undecodable: its concealment still occupies the timeline.
                appendSilence(result.samples, ts: ts)
            } else {
                counters.packetsDropped += 1
                SessionMetrics.packetsDropped.increment()
            }
            return
        }
        // Concealment or silence before the packet gets silence packets in the output audio. A live session
        // that already idled through (part of) that gap on inserted silence does not add it twice.
        let packetSamples = packet.duration48k / 3
        var gap = result.samples.count - packetSamples
        let covered = isLive ? min(max(gap, 0), underrunSinceLastPacket) : 0
        underrunSinceLastPacket = 0
        if gap - covered > 0 {
            let filler = Array(result.samples[covered..<gap])
            appendSilence(filler, ts: packet.ts &- UInt64(filler.count * 3))
        }
        gap = max(gap, 0)
        let own = gap > 0 ? Array(result.samples[gap...]) : result.samples
        timeline.append(own, ts: packet.ts, arrival: arrival, packet: packet.data, duration48k: packet.duration48k)
    }

    /// Appends samples that have no client packet (concealment, DTX gaps, underruns) with silence packets
    /// for the output audio, so the output audio stays continuous with the video.
    private func appendSilence(_ samples: [Float], ts: UInt64?) {
        var position = timeline.end
        timeline.append(samples, ts: ts, arrival: nil, packet: nil, duration48k: 0)
        var remaining48k = samples.count * 3
        for (packet, duration) in silence.packets(covering: remaining48k) {
            timeline.insertPacket(at: position, data: packet, duration48k: duration)
            position += duration / 3
            remaining48k -= duration
        }
    }

    /// Ends the utterance: pads to a frame boundary so the next one starts on one, and marks where the
    /// stages are flushed. The flush happens when feeding reaches that point, so a long burst is still
    /// rendered a few frames per turn.
    private func endUtterance() {
        let boundary = timeline.frameStart(framesCovering(timeline.end))
        if boundary > timeline.end {
            appendSilence([Float](repeating: 0, count: boundary - timeline.end), ts: nil)
        }
        if timeline.end > (flushPositions.last ?? 0) { flushPositions.append(timeline.end) }
    }

    private func framesCovering(_ position: Int) -> Int {
        var k = position * fps / 16000
        if timeline.frameStart(k) < position { k += 1 }
        return k
    }

    private func interrupt() {
        let renderedEnd = timeline.frameStart(nextFrame)
        let droppedFrames = motionQueue.count
        motionQueue.removeAll()
        timeline.truncate(to: renderedEnd)
        flushPositions.removeAll()
        // A close already received now ends the session here: the audio it was waiting for is gone.
        if let c = closeFrame { closeFrame = min(c, nextFrame) }
        stages.features.reset()
        try? drainPendingVideo()
        stages.motion.interrupt(lastRendered: shownMotion(at: nextFrame - 1))
        // The next packet continues at the end of the (truncated) timeline, not after a gap.
        receiver.reset()
        if droppedFrames > 0 { SessionMetrics.framesDroppedInterrupted.increment(by: Int64(droppedFrames)) }
        SessionMetrics.interruptions.increment()
        emit(.interrupted(lastRenderedTs: timeline.ts(at: renderedEnd)))
    }

    // MARK: rendering

    /// Hands timeline audio to the stages up to `position`, flushing them at the end of each utterance on
    /// the way; collects the motion frames that come out.
    private func feedStages(upTo position: Int) throws {
        while true {
            let limit = flushPositions.first.map { min(position, $0) } ?? position
            var samples = timeline.takeUnfed(upTo: limit)
            if let source = plan.sourceAudio, !isLive {
                // The stages read the file's own samples at these positions, and nothing past its end (not the silence
                // that rounds the utterance up to whole frames: utterance-mode features normalise over everything
                // they get, as upstream's over the file). The timeline and the output keep the decoded packets.
                let start = timeline.fedEnd - samples.count, end = min(timeline.fedEnd, source.count)
                samples = start < end ? Array(source[start..<end]) : []
            }
            if !samples.isEmpty {
                let start = clock.now
                let features = try stages.features.append(samples)
                if !features.isEmpty { motionQueue += try stages.motion.append(features) }
                SessionMetrics.motionDuration.recordNanoseconds(Int64(Self.seconds(clock.now - start) * 1e9))
            }
            guard let flushAt = flushPositions.first, timeline.fedEnd >= flushAt else { return }
            flushPositions.removeFirst()
            let start = clock.now
            let features = try stages.features.flush()
            motionQueue += try stages.motion.append(features)
            motionQueue += try stages.motion.flush()
            // Offline, the utterance's frames must all come: a stage that ends short of them (a full-window sample
            // of upstream's length can end half a frame before the file's audio) has its last frame repeated, so
            // the session never waits for frames that will not come.
            let covering = framesCovering(flushAt), have = nextFrame + motionQueue.count
            if !isLive, have < covering, let last = motionQueue.last ?? lastMotion {
                motionQueue += (have..<covering).map { MotionFrame(index: $0, coefficients: last.coefficients) }
            }
            SessionMetrics.motionDuration.recordNanoseconds(Int64(Self.seconds(clock.now - start) * 1e9))
            if timeline.fedEnd >= position { return }
        }
    }

    /// Renders up to `framesPerTurn` frames that are due; returns so the loop reads the inbox in between.
    private func renderDueFrames() throws {
        var rendered = 0
        if isLive {
            while rendered < framesPerTurn, nextFrame < frameLimit, clock.now >= decisionInstant(nextFrame) {
                if clock.now - decisionInstant(nextFrame) > maxLiveLag, lastFrame != nil || output == nil {
                    try skipToWallClock()
                    continue
                }
                try feedStages(upTo: timeline.frameStart(nextFrame + feedHorizonFrames))
                var guardIterations = 0
                while motionQueue.isEmpty {
                    // Underrun: the client's audio for this frame has not arrived; idle on silence.
                    guard guardIterations < 200 else {
                        throw SessionFailure(.internal, "motion stage produced no frame for 4 s of audio")
                    }
                    guardIterations += 1
                    if timeline.end <= timeline.fedEnd { appendUnderrunSilence(320) }
                    try feedStages(upTo: timeline.end)
                }
                // Behind the wall clock: skip rendering this frame but keep the timeline moving.
                let late = clock.now - decisionInstant(nextFrame) > .nanoseconds(Int64(frameNanos) * 2)
                try pushFrame(render: !late || renderAfterSkip)
                renderAfterSkip = false
                rendered += 1
            }
        } else {
            try feedOffline()
            while rendered < framesPerTurn, nextFrame < frameLimit, !motionQueue.isEmpty {
                try pushFrame(render: true)
                rendered += 1
                try feedOffline()
            }
        }
    }

    /// Offline: audio up to the feed horizon; a stage that needs more before it emits anything (full-utterance
    /// motion, a look-ahead beyond the horizon) gets all the audio there is, up to and through its flushes.
    private func feedOffline() throws {
        try feedStages(upTo: timeline.frameStart(nextFrame + feedHorizonFrames))
        if motionQueue.isEmpty { try feedStages(upTo: timeline.end) }
    }

    /// The motion of the picture on screen at frame `frame`: the last rendered one (late and skipped frames repeat
    /// it), numbered as that frame, so a stage that numbers its frames (a head pose along a track) resumes in step
    /// with the session.
    private func shownMotion(at frame: Int) -> MotionFrame? {
        guard var shown = lastMotion else { return nil }
        shown.index = max(shown.index, frame)
        return shown
    }

    private func appendUnderrunSilence(_ count: Int) {
        appendSilence([Float](repeating: 0, count: count), ts: nil)
        underrunSinceLastPacket += count
        SessionMetrics.silenceInserted.increment(by: Double(count) / 16000)
    }

    /// Overload (the device cannot keep up with real time): rather than let latency grow without bound,
    /// jump to the frame due now. The skipped frames repeat the last picture with their audio (so the
    /// output stays continuous and in sync), their motion is not computed, and the motion stage restarts
    /// from its idle state as after an interruption.
    private func skipToWallClock() throws {
        guard nextFrame < frameLimit else { return }
        let elapsed = clock.now - decisionInstant(0)
        // Audio already fed belongs to the stage being reset, so its frames are skipped too.
        let due = max(Int(Self.seconds(elapsed) * Double(fps)) + 1, framesCovering(timeline.fedEnd))
        let target = min(max(nextFrame + 1, due), frameLimit)
        if timeline.end < timeline.frameStart(target) { appendUnderrunSilence(timeline.frameStart(target) - timeline.end) }
        _ = timeline.takeUnfed(upTo: timeline.frameStart(target))
        flushPositions.removeAll { $0 <= timeline.fedEnd }
        motionQueue.removeAll()
        stages.features.reset()
        // The last picture stays on screen through the skipped frames.
        stages.motion.interrupt(lastRendered: shownMotion(at: target - 1))
        let skipped = target - nextFrame
        if !warnedOverload {
            warnedOverload = true
            logger.warning("live session cannot keep up with real time; skipping ahead", metadata: ["frames.skipped": "\(skipped)"])
        }
        while nextFrame < target {
            let span = timeline.frameStart(nextFrame)..<timeline.frameStart(nextFrame + 1)
            if let output, let lastFrame {
                try output.pushVideo(lastFrame, pts: UInt64(nextFrame) * frameNanos + delayNanos, duration: frameNanos)
                try pushAudio(before: span.upperBound, to: output)
            } else {
                _ = timeline.takePackets(before: span.upperBound)
            }
            counters.framesDropped += 1
            nextFrame += 1
        }
        SessionMetrics.framesDroppedOverload.increment(by: Int64(skipped))
        renderAfterSkip = true
    }

    private func pushFrame(render: Bool) throws {
        var motion = motionQueue.removeFirst()
        motion.index = nextFrame
        guard motion.isFinite else {
            throw SessionFailure(.internal, "motion for frame \(nextFrame) contains NaN or Inf; the avatar's weights are likely broken")
        }
        let span = timeline.frameStart(nextFrame)..<timeline.frameStart(nextFrame + 1)
        let pts = UInt64(nextFrame) * frameNanos + delayNanos
        if let output, let frames = stages.frames {
            try pushVideo(motion, frames: frames, output: output, render: render, pts: pts)
            try pushAudio(before: span.upperBound, to: output)
        } else {
            counters.framesRendered += 1
            lastMotion = motion
            _ = timeline.takePackets(before: span.upperBound)
        }
        if let arrival = timeline.latestArrival(in: span) {
            let latency = clock.now - arrival
            latencies.add(Self.seconds(latency) * 1000)
            SessionMetrics.frameLatency.recordNanoseconds(Int64(Self.seconds(latency) * 1e9))
        }
        onMotion?(motion)
        nextFrame += 1
    }

    private func pushVideo(_ motion: MotionFrame, frames: any FrameStage, output: any SessionOutput, render: Bool, pts: UInt64) throws {
        if render || (lastFrame == nil && pendingVideo == nil) {
            try frames.submit(motion)
            let submitted = PendingVideo(motion: motion, pts: pts, start: clock.now)
            // Offline, the frame before stays in flight while this one is submitted, then is read back and
            // encoded while this one renders. Live sessions read every frame back in its own turn (no added latency).
            if let older = pendingVideo {
                pendingVideo = nil
                try completeVideo(older, frames: frames, output: output)
            }
            if frames.framesInFlight > 1 && !isLive {
                pendingVideo = submitted
            } else {
                try completeVideo(submitted, frames: frames, output: output)
            }
        } else {
            try drainPendingVideo()
            guard let lastFrame else { return }
            try output.pushVideo(lastFrame, pts: pts, duration: frameNanos)
            counters.framesDropped += 1
            SessionMetrics.framesDroppedLate.increment()
        }
    }

    /// A frame submitted to the frame stage and not read back yet.
    private struct PendingVideo {
        var motion: MotionFrame
        var pts: UInt64
        var start: ContinuousClock.Instant
    }

    private var pendingVideo: PendingVideo?

    private func completeVideo(_ pending: PendingVideo, frames: any FrameStage, output: any SessionOutput) throws {
        let frame = try frames.complete()
        SessionMetrics.renderDuration.recordNanoseconds(Int64(Self.seconds(clock.now - pending.start) * 1e9))
        lastFrame = frame
        lastMotion = pending.motion
        try output.pushVideo(frame, pts: pending.pts, duration: frameNanos)
        counters.framesRendered += 1
        SessionMetrics.framesRendered.increment()
    }

    /// Reads back and pushes the frame in flight, if any (before a repeat, an interrupt, a skip or the end).
    private func drainPendingVideo() throws {
        guard let pending = pendingVideo, let frames = stages?.frames, let output else { return }
        pendingVideo = nil
        try completeVideo(pending, frames: frames, output: output)
    }

    private func pushAudio(before position: Int, to output: any SessionOutput) throws {
        for packet in timeline.takePackets(before: position) {
            let apts = UInt64(packet.position) * 1_000_000_000 / 16000 + delayNanos
            try output.pushAudio(packet.data, pts: apts, duration: UInt64(packet.duration48k) * 1_000_000_000 / 48000)
        }
    }

    /// Drops the stages before the session reports it has finished, so the avatar's per-replica session
    /// count (held by the stages) is already down when the next session is admitted.
    private func releaseStages() { stages = nil }

    /// Observer of every motion frame as it is rendered (for `--motion-out` and tests).
    var onMotion: ((MotionFrame) -> Void)?

    // MARK: ending

    private func finishNormally() throws {
        inbox.close()
        try drainPendingVideo()
        do {
            try output?.finish()
        } catch {
            SessionMetrics.outputErrors.increment()
            throw SessionFailure(.output, "output '\(plan.preset.name)' failed to finalize: \(error)")
        }
        emitStats()
        emit(.ended(ServerMessage.Ended(frames: nextFrame, durationMs: nextFrame * 1000 / fps,
                                        framesDropped: counters.framesDropped, packetsLost: counters.packetsLost)))
        logger.info("session ended", metadata: ["frames": "\(nextFrame)"])
        releaseStages()
        emit(.finished(goingAway: false))
    }

    /// Client vanished or daemon stopping: offline outputs render what was sent, then every output is finalized.
    private func finishAbruptly(goingAway: Bool) throws {
        inbox.close()
        if !isLive {
            endUtterance()
            try feedStages(upTo: timeline.end)
            while !motionQueue.isEmpty { try pushFrame(render: true) }
            try drainPendingVideo()
        }
        do {
            try output?.finish()
        } catch {
            SessionMetrics.outputErrors.increment()
            logger.warning("output failed to finalize", metadata: ["error.message": "\(error)"])
        }
        logger.info("session aborted", metadata: ["frames": "\(nextFrame)", "going_away": "\(goingAway)"])
        releaseStages()
        emit(.finished(goingAway: goingAway))
    }

    private func emitStats() {
        emit(.stats(ServerMessage.Stats(
            bufferedMs: inbox.bufferedSamples / 48,
            framesRendered: counters.framesRendered, framesDropped: counters.framesDropped,
            packetsLost: counters.packetsLost,
            latencyMsP50: latencies.percentile(50), latencyMsP95: latencies.percentile(95))))
    }
}

/// Creates a session's output: (plan, frame width, frame height) → output.
public typealias SessionOutputFactory = @Sendable (SessionPlan, Int, Int) throws -> any SessionOutput
