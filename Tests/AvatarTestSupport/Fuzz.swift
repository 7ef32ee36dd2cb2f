import Foundation

/// Seeded, time-bounded fuzzing for the test suites. Every run is reproducible from its seed: a failure
/// names the seed and the case, and `AVATARD_FUZZ_SEED=<seed> scripts/fuzz.sh` replays it.
///
/// - `AVATARD_FUZZ_SEED`: the seed (default: a fixed one, so CI is deterministic).
/// - `AVATARD_FUZZ_ITERATIONS`: cases per target (default: the target's CI count × `AVATARD_FUZZ_SCALE`).
/// - `AVATARD_FUZZ_SECONDS`: wall-clock bound per target (default 10 s; the run stops early, never fails, on it).
public struct Fuzz: RandomNumberGenerator {
    private var state: UInt64
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    /// SplitMix64: small, fast and good enough to drive mutations.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    public static var seed: UInt64 { environment["AVATARD_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x6176_6174_6172_6431 }

    /// `AVATARD_FUZZ_ITERATIONS`, else the default times `AVATARD_FUZZ_SCALE` (1 in CI).
    public static func iterations(default count: Int) -> Int {
        environment["AVATARD_FUZZ_ITERATIONS"].flatMap { Int($0) }
            ?? count * max(1, environment["AVATARD_FUZZ_SCALE"].flatMap { Int($0) } ?? 1)
    }

    public static var timeBudget: Duration {
        .milliseconds(Int64((environment["AVATARD_FUZZ_SECONDS"].flatMap { Double($0) } ?? 10) * 1000))
    }

    /// Runs `body` for each case (its own generator, derived from the seed and the case number) until the
    /// iterations or the time budget are used up; returns how many cases ran.
    @discardableResult
    public static func run(_ name: String, iterations defaultCount: Int,
                           _ body: (_ caseNumber: Int, _ random: inout Fuzz) throws -> Void) rethrows -> Int {
        let count = iterations(default: defaultCount)
        let deadline = ContinuousClock.now + timeBudget
        var ran = 0
        for i in 0..<count {
            if ContinuousClock.now > deadline { break }
            var random = Fuzz(seed: seed &+ UInt64(i) &* 0x2545_F491_4F6C_DD1D)
            try body(i, &random)
            ran += 1
        }
        return ran
    }

    // MARK: mutations

    /// A few random edits: flip, insert, delete, duplicate a span, or overwrite with an interesting byte.
    public mutating func mutate(_ bytes: [UInt8], edits: Int? = nil) -> [UInt8] {
        var out = bytes
        let interesting: [UInt8] = [0, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x0A, 0x3D, 0x2E]
        for _ in 0..<(edits ?? Int.random(in: 1...8, using: &self)) {
            let i = out.isEmpty ? 0 : Int.random(in: 0..<out.count, using: &self)
            switch Int.random(in: 0..<6, using: &self) {
            case 0 where !out.isEmpty: out[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &self))
            case 1: out.insert(interesting.randomElement(using: &self)!, at: i)
            case 2 where !out.isEmpty: out.remove(at: i)
            case 3 where !out.isEmpty:
                let end = min(out.count, i + Int.random(in: 1...16, using: &self))
                out.insert(contentsOf: out[i..<end], at: i)
            case 4 where !out.isEmpty: out[i] = interesting.randomElement(using: &self)!
            default: out.insert(UInt8.random(in: 0...255, using: &self), at: i)
            }
        }
        return out
    }

    public mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// A u64 biased towards edges (0, 2^63, 2^64 − 1, small values) where arithmetic breaks.
    public mutating func edgyUInt64() -> UInt64 {
        switch Int.random(in: 0..<5, using: &self) {
        case 0: [0, 1, UInt64.max, UInt64.max - 959, 1 << 63, (1 << 63) - 1, 1 << 32].randomElement(using: &self)!
        case 1: UInt64.random(in: 0...100_000, using: &self)
        default: UInt64.random(in: 0...UInt64.max, using: &self)
        }
    }
}
