import AvatarPipeline
import Foundation
import Synchronization

/// `--motion-out`: one row per frame, `frame,time_s,<motion names…>`.
final class MotionCSVWriter: Sendable {
    private let handle: FileHandle
    private let fps: Int
    private let failed = Mutex(false)

    init(path: String, names: [String], fps: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw ValidationErrorMessage("cannot write \(path)")
        }
        handle = h
        self.fps = fps
        h.write(Data((["frame", "time_s"] + names).joined(separator: ",").appending("\n").utf8))
    }

    func write(_ frame: MotionFrameRecord) {
        let values = frame.coefficients.map { String(format: "%.6g", $0) }
        let line = ([String(frame.index), String(format: "%.3f", Double(frame.index) / Double(fps))] + values).joined(separator: ",") + "\n"
        handle.write(Data(line.utf8))
    }

    func close() throws { try handle.close() }
}
