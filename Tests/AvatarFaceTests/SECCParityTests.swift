import AvatarFace
import AvatarFormats
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// SECC maps on Vulkan against tools/reference/secc.py (docs/avatars.md §4.1, tolerances §5): the face index
/// may differ only on pixels next to a triangle edge (float32 vs float64 edge functions and vertices), and
/// wherever it agrees the values agree to 1e-5.
@Suite(.serialized) struct SECCParityTests {
    static let setup: Result<(BFMFaceModel, VulkanDevice, Operators), any Error> = Result {
        let device = try VulkanDevice()
        return (try FaceFixtures.face(), device, try Operators(library: ShaderLibrary(device: device)))
    }

    func pass(size: Int, identity: [Float]) throws -> SECCPass {
        let (face, device, ops) = try Self.setup.get()
        return try SECCPass(renderer: SECCRenderer(face: face, identity: identity, size: size, device: device, ops: ops))
    }

    /// Whether pixel p of the reference face map touches another face or the background in its 3×3 neighbourhood.
    func nextToEdge(_ faces: [Int], _ p: Int, size s: Int) -> Bool {
        let (y, x) = (p / s, p % s)
        for dy in -1...1 { for dx in -1...1 {
            let (yy, xx) = (y + dy, x + dx)
            if yy < 0 || xx < 0 || yy >= s || xx >= s || faces[yy * s + xx] != faces[p] { return true }
        } }
        return false
    }

    @Test(arguments: [37, 24]) func matchesTheReference(size: Int) throws {
        let fixture = try FaceFixtures.file("secc")
        let id = try fixture.tensor("id").floats()
        let exp = FaceFixtures.rows(try fixture.tensor("exp").floats(), width: 64)
        let secc = try pass(size: size, identity: id)
        let plane = 3 * size * size, pixels = size * size
        let tgt = try fixture.tensor("s\(size).tgt").floats(), tgtFaces = try fixture.tensor("s\(size).tgt_face").ints()
        var cases: [(String, [Float], Bool, [Float], [Int])] = [
            ("cano", [], true, try fixture.tensor("s\(size).cano").floats(), try fixture.tensor("s\(size).cano_face").ints()),
            ("src", exp[0], true, try fixture.tensor("s\(size).src").floats(), try fixture.tensor("s\(size).src_face").ints())]
        for t in 0..<3 {
            cases.append(("tgt\(t)", exp[t], t == 0, Array(tgt[(t * plane)..<((t + 1) * plane)]),
                          Array(tgtFaces[(t * pixels)..<((t + 1) * pixels)])))
        }
        for (name, e, quirk, want, wantFaces) in cases {
            let (got, faces) = try secc.renderWithFaces(exp: e, firstFaceQuirk: quirk)
            #expect(try secc.render(exp: e, firstFaceQuirk: quirk) == got)
            #expect(got.count == plane && got.allSatisfy { $0 >= -1 && $0 <= 1 })
            var mismatched: [Int] = []
            var maxDelta: Float = 0
            for p in 0..<pixels {
                if Int(faces[p]) != wantFaces[p] { mismatched.append(p); continue }
                for c in 0..<3 { maxDelta = max(maxDelta, abs(got[c * pixels + p] - want[c * pixels + p])) }
            }
            let covered = wantFaces.filter { $0 >= 0 }.count
            print("SECC \(size)² \(name): \(covered) face pixels, \(mismatched.count) with another face, max |Δ| elsewhere \(maxDelta)")
            #expect(covered > pixels / 5, "\(name): the face covers the frame")
            #expect(maxDelta <= 1e-5, "\(name): max |Δ| \(maxDelta)")
            #expect(mismatched.count <= max(2, pixels / 100), "\(name): \(mismatched.count) mismatching pixels")
            #expect(mismatched.allSatisfy { nextToEdge(wantFaces, $0, size: size) }, "\(name): mismatches \(mismatched) away from edges")
        }
    }

    /// Upstream's `pix_to_face > 0`: with the quirk exactly the pixels whose nearest face is face 0 turn
    /// background; without it they carry face 0's colours. Eye faces are holes either way.
    @Test func firstFaceQuirkOnlyBlanksFaceZero() throws {
        let secc = try pass(size: 37, identity: try FaceFixtures.file("secc").tensor("id").floats())
        let (plain, plainFaces) = try secc.renderWithFaces(exp: [], firstFaceQuirk: false)
        let (quirk, quirkFaces) = try secc.renderWithFaces(exp: [], firstFaceQuirk: true)
        let n = 37 * 37
        let faceZero = (0..<n).filter { plainFaces[$0] == 0 }
        #expect(!faceZero.isEmpty, "face 0 is visible in the canonical face")
        for p in 0..<n {
            let blanked = plainFaces[p] == 0
            #expect(quirkFaces[p] == (blanked ? -1 : plainFaces[p]))
            for c in 0..<3 {
                if blanked { #expect(quirk[c * n + p] == -1 && plain[c * n + p] != -1) } else { #expect(quirk[c * n + p] == plain[c * n + p]) }
            }
        }
        // Switching back restores the plain map (the flag is per frame, not sticky).
        #expect(try secc.render(exp: [], firstFaceQuirk: false) == plain)
    }

    @Test func refusesWrongExpressionLengths() throws {
        let secc = try pass(size: 9, identity: [])
        #expect(throws: FaceModelError.self) { try secc.render(exp: [1, 2, 3], firstFaceQuirk: false) }
        let (face, device, ops) = try Self.setup.get()
        #expect(throws: FaceModelError.self) { try SECCRenderer(face: face, identity: [1], size: 9, device: device, ops: ops) }
    }
}
