import Foundation

/// The queue between a session's network task and its render thread. The network side never blocks a
/// thread: when more than `maxBufferedSamples` of audio (48 kHz) are waiting to be rendered it awaits
/// `waitForSpace()`, stops reading the socket, and TCP backpressure reaches the client.
public final class SessionInbox: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `condition`.
    private let condition = NSCondition()
    private var items: [SessionInput] = []
    private var pendingSamples: Int = 0
    private var renderBacklogSamples: Int = 0
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false
    private var lastProgress = ContinuousClock.now
    public let maxBufferedSamples: Int

    /// When the render thread last went round its loop (for the systemd watchdog).
    public var lastRenderProgress: ContinuousClock.Instant {
        condition.lock()
        defer { condition.unlock() }
        return lastProgress
    }

    public init(maxBufferedSeconds: Double) {
        maxBufferedSamples = Int(maxBufferedSeconds * 48000)
    }

    /// Audio accepted but not yet rendered, in 48 kHz samples.
    public var bufferedSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return pendingSamples + renderBacklogSamples
    }

    public func push(_ input: SessionInput, samples48k: Int = 0) {
        condition.lock()
        if !closed {
            items.append(input)
            pendingSamples += samples48k
        }
        condition.signal()
        condition.unlock()
    }

    /// Suspends (without blocking a thread) while the buffer is over its limit.
    public func waitForSpace() async {
        while true {
            let full: Bool = {
                condition.lock()
                defer { condition.unlock() }
                return !closed && pendingSamples + renderBacklogSamples > maxBufferedSamples
            }()
            if !full { return }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                condition.lock()
                if closed || pendingSamples + renderBacklogSamples <= maxBufferedSamples {
                    condition.unlock()
                    c.resume()
                } else {
                    spaceWaiters.append(c)
                    condition.unlock()
                }
            }
        }
    }

    /// Render thread: takes everything queued, waiting at most until `deadline` (nil: wait indefinitely).
    public func take(until deadline: Date?) -> [SessionInput] {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty {
            if let deadline {
                if !condition.wait(until: deadline) { break }
            } else {
                condition.wait()
            }
        }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }

    /// Render thread: reports how much decoded audio is waiting for rendering and how much of the
    /// queued audio it has moved over; wakes the network side when there is room again.
    public func update(taken48k: Int, backlog48k: Int) {
        condition.lock()
        lastProgress = .now
        pendingSamples = max(0, pendingSamples - taken48k)
        renderBacklogSamples = backlog48k
        var resume: [CheckedContinuation<Void, Never>] = []
        if pendingSamples + renderBacklogSamples <= maxBufferedSamples {
            resume = spaceWaiters
            spaceWaiters.removeAll()
        }
        condition.unlock()
        for c in resume { c.resume() }
    }

    /// No more input will be accepted; wakes every waiter.
    public func close() {
        condition.lock()
        closed = true
        let resume = spaceWaiters
        spaceWaiters.removeAll()
        condition.signal()
        condition.unlock()
        for c in resume { c.resume() }
    }
}
