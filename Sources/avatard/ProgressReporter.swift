#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Progress on stderr: a bar on a terminal, plain lines every 10% otherwise (logs, CI).
final class ProgressReporter: Sendable {
    private let label: String
    private let isTerminal = isatty(2) == 1
    private let lastDecile = Mutex(-1)

    init(label: String) { self.label = label }

    func update(_ done: Int, of total: Int) {
        guard total > 0 else { return }
        let fraction = min(1, Double(done) / Double(total))
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total) frames".utf8))
        } else {
            let decile = Int(fraction * 10)
            let print = lastDecile.withLock { last -> Bool in
                if decile > last { last = decile; return true }
                return false
            }
            if print { FileHandle.standardError.write(Data("\(label): \(decile * 10)% (\(done)/\(total) frames)\n".utf8)) }
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
