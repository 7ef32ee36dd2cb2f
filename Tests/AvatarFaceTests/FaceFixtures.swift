import AvatarFace
import AvatarFormats
import Foundation

/// Tests/Fixtures/face (written by tools/make_face_fixtures.py from the float64 references).
enum FaceFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/face")

    static func file(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(url: directory.appendingPathComponent("\(name).safetensors"))
    }

    static func face() throws -> BFMFaceModel { try BFMFaceModel(file: try file("face_tiny")) }

    /// The rows of a [rows, width] tensor.
    static func rows(_ values: [Float], width: Int) -> [[Float]] {
        stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
    }

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
