/// The deterministic weight recipe shared with the Python reference (tools/reference/weights.py, docs/motion.md
/// §5): element i of tensor `name` is offset + scale·(2u − 1), with u from SplitMix64 over the counter
/// key(name) + (i + 1)·golden, key = FNV-1a-64 of the name, and 24 bits of mantissa. Double, then one rounding.
/// It lets tests and `avatard bench motion` rebuild full-size models without shipping weights.
public enum RecipeWeights {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// 2u − 1 in (−1, 1) for element `index` of tensor `name`.
    public static func unit(key: UInt64, index: Int) -> Double {
        var z = key &+ UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let k = Double(z >> 40)
        return 2 * ((k + 0.5) / 16_777_216) - 1
    }

    /// The float32 values of one recipe entry.
    public static func generate(name: String, count: Int, scale: Double, offset: Double = 0) -> [Float] {
        let key = fnv1a64(name)
        return (0..<count).map { Float(offset + scale * unit(key: key, index: $0)) }
    }

    /// Uniform bound gain·√(3 / fan_in) (fan_in = product of all but the first dimension).
    public static func fanInScale(_ shape: [Int], gain: Double = 1) -> Double {
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : shape[0]
        return gain * (3.0 / Double(fanIn)).squareRoot()
    }
}
