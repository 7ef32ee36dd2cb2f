import AvatarFormats
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// Shared test device (the CPU driver lavapipe in CI, a GPU when present) and the comparison rules:
/// NMSE against a reference, no NaN/Inf, and guard regions around outputs that must stay untouched.
final class GPUHarness: @unchecked Sendable {
    static let shared: GPUHarness? = try? GPUHarness()

    let device: VulkanDevice
    let library: ShaderLibrary
    let ops: Operators

    private init() throws {
        device = try VulkanDevice(cacheDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("avatard-test-cache"))
        library = ShaderLibrary(device: device)
        ops = Operators(library: library)
    }

    /// Guard floats on each side of an output (256 bytes keeps descriptor offsets aligned on every driver).
    static let guardCount = 64
    static let sentinel = Float(bitPattern: 0x7FC0_DEAD)

    /// An arena with inputs filled and outputs surrounded by sentinels.
    final class Run {
        let arena: BufferArena
        var guarded: [(slice: BufferSlice, outer: BufferSlice)] = []
        init(arena: BufferArena) { self.arena = arena }

        func input(_ values: [Float]) throws -> BufferSlice {
            let s = try arena.allocate(floats: values.count)
            try s.write(values)
            return s
        }

        /// An output of `count` 4-byte elements (floats or UInt32 indices) between two guard regions.
        func output(_ count: Int) throws -> BufferSlice {
            let g = GPUHarness.guardCount
            let outer = try arena.allocate(floats: count + 2 * g)
            try outer.write([Float](repeating: GPUHarness.sentinel, count: count + 2 * g))
            let inner = BufferSlice(buffer: outer.buffer, offset: outer.offset + g * 4, byteCount: count * 4)
            guarded.append((inner, outer))
            return inner
        }

        /// True when every guard still holds the sentinel bit pattern.
        func guardsIntact() throws -> Bool {
            let g = GPUHarness.guardCount
            for (inner, outer) in guarded {
                let all = try outer.read()
                let before = all[0..<g], after = all[(g + inner.count)...]
                if !(before + after).allSatisfy({ $0.bitPattern == GPUHarness.sentinel.bitPattern }) { return false }
            }
            return true
        }
    }

    func run(arenaBytes: Int = 64 << 20, _ body: (CommandSequence, Run) throws -> Void) throws -> Run {
        let run = Run(arena: try BufferArena(device: device, byteCount: arenaBytes))
        let seq = try CommandSequence(device: device)
        try body(seq, run)
        try seq.run()
        return run
    }

    /// UInt32 elements (index outputs).
    static func readIndices(_ slice: BufferSlice) throws -> [Int] {
        var values = [UInt32](repeating: 0, count: slice.byteCount / 4)
        try values.withUnsafeMutableBytes { try slice.read(into: $0) }
        return values.map { Int($0) }
    }

    static func nmse(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "compared arrays differ in length")
        var err = 0.0, ref = 0.0
        for (x, y) in zip(a, b) { err += Double(x - y) * Double(x - y); ref += Double(y) * Double(y) }
        return ref == 0 ? err : err / ref
    }

    static func expectClose(_ got: [Float], _ want: [Float], nmse limit: Double = 1e-10, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(what): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
        let finite = got.allSatisfy { $0.isFinite }
        #expect(finite, "\(what): NaN or Inf in output", sourceLocation: sourceLocation)
        let e = nmse(got, want)
        #expect(e <= limit, "\(what): NMSE \(e) > \(limit)", sourceLocation: sourceLocation)
    }

    static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    static var golden: SafeTensorsFile {
        let url = Bundle.module.url(forResource: "ops", withExtension: "safetensors", subdirectory: "Golden")!
        return try! SafeTensorsFile(url: url)
    }
}
