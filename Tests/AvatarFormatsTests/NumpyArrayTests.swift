import AvatarFormats
import Foundation
import Testing

struct NumpyArrayTests {
    static func file(_ name: String) -> URL { Bundle.module.url(forResource: "Numpy/\(name)", withExtension: "npy")! }

    static func refusal(_ url: URL) -> String {
        do { _ = try NumpyArray(contentsOf: url); return "" } catch { return "\(error)" }
    }

    @Test func readsWhatNumPyWrites() throws {
        let a = try NumpyArray(contentsOf: Self.file("f32_2x3"))
        #expect(a.shape == [2, 3])
        #expect(a.values == (0..<6).map { (Float($0) - 2.5) / 3 })
        let s = try NumpyArray(contentsOf: Self.file("scalar"))
        #expect(s.shape == [] && s.values == [1.5])
    }

    @Test func roundTripsThroughItsOwnWriter() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        for shape in [[7], [1, 3, 5, 2], [0, 4]] {
            let a = NumpyArray(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0) * 0.25 - 1 })
            try a.write(to: url)
            #expect(try NumpyArray(contentsOf: url) == a)
            #expect(a.encoded().count % 64 == a.shape.reduce(1, *) * 4 % 64, "header padded to 64 bytes")
        }
    }

    @Test func refusesOtherDTypesOrdersAndTruncation() throws {
        #expect(Self.refusal(Self.file("f64")).contains("f64.npy: dtype '<f8'"))
        #expect(Self.refusal(Self.file("fortran")).contains("Fortran"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: Self.file("f32_2x3"))
        let cut = dir.appendingPathComponent("cut.npy")
        try good.dropLast(4).write(to: cut)
        #expect(Self.refusal(cut).contains("cut.npy: holds 20 data bytes, shape [2, 3] needs 24"))
        let text = dir.appendingPathComponent("text.npy")
        try Data("not numpy at all".utf8).write(to: text)
        #expect(Self.refusal(text).contains("not a .npy file"))
    }
}
