import Foundation

/// A dedicated OS thread for blocking GPU work (recording, `CommandSequence.run()`, which waits on a
/// fence). Async callers hop onto it with `perform`, so neither the Swift cooperative pool nor a NIO event
/// loop ever blocks on the GPU. Jobs run one at a time in submission order.
public final class RenderThread: Sendable {
    private let worker: Worker

    public init(name: String = "avatard-render") {
        worker = Worker(name: name)
        let worker = self.worker
        let thread = Thread { worker.loop() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit { worker.stop() }

    /// Runs `body` on the render thread and returns its result (or rethrows its error).
    public func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = worker.enqueue { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: RenderThreadStopped(name: worker.name)) }
        }
    }

    /// Lets queued jobs finish, then ends the thread; later `perform` calls throw `RenderThreadStopped`.
    public func stop() { worker.stop() }

    /// The queue and the loop, owned by the thread (so the thread does not keep `RenderThread` alive).
    private final class Worker: @unchecked Sendable {
        // @unchecked: `jobs` and `stopping` are only touched with `condition` locked.
        let name: String
        private let condition = NSCondition()
        private var jobs: [@Sendable () -> Void] = []
        private var stopping = false

        init(name: String) { self.name = name }

        func loop() {
            while true {
                condition.lock()
                while jobs.isEmpty && !stopping { condition.wait() }
                if jobs.isEmpty {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                job()
            }
        }

        func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else { return false }
            jobs.append(job)
            condition.signal()
            return true
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// `RenderThread.perform` after `stop()`.
public struct RenderThreadStopped: Error, Sendable, CustomStringConvertible {
    public let name: String
    public var description: String { "render thread \(name) has stopped" }
}
