import AvatarGraph
import AvatarVulkan

/// One session's SECC renderer: a graph planned once (expression → vertices on the device → rasterize →
/// SECC map) and replayed per frame; the expression goes up and the [3, S, S] map comes back.
/// Confined to one thread at a time, like the network it replays.
public final class SECCPass {
    public let renderer: SECCRenderer
    private let network: GraphNetwork
    private var quirkApplied = false

    public init(renderer: SECCRenderer) throws {
        self.renderer = renderer
        network = try renderer.graph().plan()
        try setFirstFaceExcluded(false, force: true)
    }

    /// The SECC map of `exp` (`expCount` coefficients, or empty for the canonical face): [3, S, S] C-order in
    /// [−1, 1], background −1. `firstFaceQuirk`: upstream's `pix_to_face > 0` mask, which makes pixels whose
    /// nearest face is face 0 of `secc_triangles` background (upstream does it for cano, src and frames 0, 50,
    /// 100, … of a driving sequence, docs/avatars.md §4.1).
    public func render(exp: [Float], firstFaceQuirk: Bool) throws -> [Float] {
        try run(exp: exp, firstFaceQuirk: firstFaceQuirk)
        return try network.read("secc")
    }

    /// `render`, plus the face map [S·S] (index into `secc_triangles`, −1 where the map is background), for
    /// parity checks and diagnostics.
    public func renderWithFaces(exp: [Float], firstFaceQuirk: Bool) throws -> (secc: [Float], faces: [Int32]) {
        try run(exp: exp, firstFaceQuirk: firstFaceQuirk)
        let s = renderer.size
        var raw = [UInt32](repeating: 0, count: s * s)
        try raw.withUnsafeMutableBytes { try network.read("faces", into: $0) }
        let faces = raw.map { $0 == UInt32.max || (firstFaceQuirk && $0 == 0) ? Int32(-1) : Int32($0) }
        return (try network.read("secc"), faces)
    }

    private func run(exp: [Float], firstFaceQuirk: Bool) throws {
        let face = renderer.face
        try face.checkCoefficients(id: [], exp: exp)
        var padded = [Float](repeating: 0, count: renderer.paddedExpCount)
        for (k, c) in exp.enumerated() { padded[k] = c }
        try network.write("expression", padded)
        try setFirstFaceExcluded(firstFaceQuirk)
        try network.run()
    }

    /// Writes the excluded flags: all zero, or face 0 excluded (only the first word changes between frames).
    private func setFirstFaceExcluded(_ on: Bool, force: Bool = false) throws {
        let slice = try network.slice("excluded")
        if force {
            let zeros = [UInt32](repeating: 0, count: renderer.face.seccTriangleCount)
            try zeros.withUnsafeBytes { try slice.write(bytes: $0) }
        }
        guard force || on != quirkApplied else { return }
        let flag: [UInt32] = [on ? 1 : 0]
        try flag.withUnsafeBytes { try slice.write(bytes: $0) }
        quirkApplied = on
    }
}
