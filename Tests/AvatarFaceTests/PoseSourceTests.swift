@testable import AvatarFace
import AvatarFormats
import Foundation
import Testing

/// Pose source and EG3D cameras against tools/reference/face_pose.py (docs/avatars.md §4.3; 1e-5).
@Suite struct PoseSourceTests {
    let fixture: SafeTensorsFile
    let source: PoseSource
    let reference: HeadPose

    init() throws {
        fixture = try FaceFixtures.file("camera")
        let euler = FaceFixtures.rows(try fixture.tensor("track_euler").floats(), width: 3)
        let trans = FaceFixtures.rows(try fixture.tensor("track_trans").floats(), width: 3)
        reference = try HeadPose(euler: try fixture.tensor("ref_euler").floats(), trans: try fixture.tensor("ref_trans").floats())
        source = try PoseSource.track(try zip(euler, trans).map { try HeadPose(euler: $0, trans: $1) }, reference: reference)
    }

    func cameras(_ name: String) throws -> [[Float]] { FaceFixtures.rows(try fixture.tensor(name).floats(), width: 25) }

    func delta(_ a: [[Float]], _ b: [[Float]]) -> Float {
        #expect(a.count == b.count)
        return zip(a, b).map { FaceFixtures.maxAbs($0, $1) }.max() ?? .infinity
    }

    @Test func posesFollowThePingPongTrack() throws {
        #expect((0..<13).map { PoseSource.mirrorIndex($0, length: 5) } == (try fixture.tensor("index").ints()))
        #expect((-3..<0).map { PoseSource.mirrorIndex($0, length: 5) } == [2, 1, 0], "Python's divmod for negative frames")
        let euler = FaceFixtures.rows(try fixture.tensor("euler").floats(), width: 3)
        let trans = FaceFixtures.rows(try fixture.tensor("trans").floats(), width: 3)
        for i in 0..<13 {
            let p = source.pose(frame: i)
            let got = [p.euler.x, p.euler.y, p.euler.z, p.trans.x, p.trans.y, p.trans.z].map(Float.init)
            #expect(FaceFixtures.maxAbs(got, euler[i] + trans[i]) <= 1e-6)
        }
        let first = source.pose(frame: 0)
        let offsets = (first.euler - reference.euler) * (first.euler - reference.euler) + (first.trans - reference.trans) * (first.trans - reference.trans)
        #expect(offsets.sum() < 1e-24, "frame 0 is the reference pose")
        #expect(throws: FaceModelError.self) { try PoseSource.track([], reference: reference) }
    }

    @Test func camerasMatchTheReference() throws {
        let raw = (0..<13).map { EG3DCamera.vector(pose: source.pose(frame: $0)) }
        let utterance = source.utteranceCameras(count: 13)
        let live = try (6..<15).map { try source.liveCamera(frame: $0) }
        let fixed = PoseSource.static(reference).utteranceCameras(count: 4)
        let figures = [("raw", delta(raw, try cameras("camera_raw"))), ("utterance", delta(utterance, try cameras("camera_utterance"))),
                       ("live 6…14", delta(live, try cameras("camera_live_6_9"))), ("static", delta(fixed, try cameras("camera_static_4")))]
        print("cameras max |Δ|: " + figures.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        for (name, d) in figures { #expect(d <= 1e-5, "\(name): \(d)") }
    }

    @Test func liveCamerasAreOneLongSequence() throws {
        let long = source.utteranceCameras(count: 40)
        // Frames whose window does not reach the end of the long sequence are the live ones.
        for frame in 0..<(40 - 3) {
            #expect(FaceFixtures.maxAbs(try source.liveCamera(frame: frame), long[frame]) <= 1e-6, "frame \(frame)")
        }
        #expect(throws: FaceModelError.self) { _ = try source.liveCamera(frame: -1) }
    }

    @Test func rotationMeanAndEigenSolver() throws {
        // Rotations about z by ±0.3 and 0 average to the identity; 0.1 and 0.3 to 0.2.
        func rz(_ a: Double) -> [Double] { HeadPose(euler: SIMD3(0, 0, a)).rotation }
        let m = RotationMean.mean([rz(0.1), rz(0.3)])
        #expect(zip(m, rz(0.2)).allSatisfy { abs($0 - $1) < 1e-12 })
        let sym: [Double] = [4, 1, -2, 0.5, 1, 3, 0.25, 1, -2, 0.25, 5, -1, 0.5, 1, -1, 2]
        let e = SymmetricEigen(sym, n: 4)
        for k in 0..<4 {
            let v = (0..<4).map { e.vectors[$0 * 4 + k] }
            for r in 0..<4 {
                let av = (0..<4).map { sym[r * 4 + $0] * v[$0] }.reduce(0, +)
                #expect(abs(av - e.values[k] * v[r]) < 1e-12)
            }
        }
    }
}
