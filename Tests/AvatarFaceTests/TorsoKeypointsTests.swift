import AvatarFace
import AvatarFormats
import Foundation
import Testing

/// Torso keypoints and their smoothing against tools/reference/face_pose.py (docs/avatars.md §4.2; 1e-5).
@Suite struct TorsoKeypointsTests {
    struct Case {
        let exp: [[Float]], poses: [HeadPose], kp: [[Float]], smooth: [[Float]], id: [Float]
    }

    func load(_ name: String) throws -> Case {
        let f = try FaceFixtures.file("keypoints")
        let euler = FaceFixtures.rows(try f.tensor("\(name).euler").floats(), width: 3)
        let trans = FaceFixtures.rows(try f.tensor("\(name).trans").floats(), width: 3)
        return Case(exp: FaceFixtures.rows(try f.tensor("\(name).exp").floats(), width: 64),
                    poses: try zip(euler, trans).map { try HeadPose(euler: $0, trans: $1) },
                    kp: FaceFixtures.rows(try f.tensor("\(name).kp").floats(), width: 136),
                    smooth: FaceFixtures.rows(try f.tensor("\(name).kp_smooth").floats(), width: 136),
                    id: try f.tensor("\(name).id").floats())
    }

    @Test(arguments: ["t9", "t3"]) func keypointsAndSmoothingMatchTheReference(name: String) throws {
        let c = try load(name)
        let torso = try TorsoKeypoints(face: try FaceFixtures.face(), identity: c.id)
        let kp = try zip(c.exp, c.poses).map { try torso.keypoints(exp: $0, pose: $1) }
        let kpDelta = zip(kp, c.kp).map { FaceFixtures.maxAbs($0, $1) }.max() ?? 0
        let smooth = try KeypointSmoother.smooth(kp)
        let smoothDelta = zip(smooth, c.smooth).map { FaceFixtures.maxAbs($0, $1) }.max() ?? 0
        print("keypoints \(name): max |Δ| \(kpDelta), smoothed \(smoothDelta)")
        #expect(kp.count == c.kp.count && kp.allSatisfy { $0.count == 136 && $0.allSatisfy { abs($0) <= 1 } })
        #expect(kpDelta <= 1e-5 && smoothDelta <= 1e-5)
        #expect(smooth.count == c.smooth.count)
    }

    @Test func streamEqualsBatchForEverySplit() throws {
        let frames = try load("t9").kp
        for length in 1...frames.count {
            let prefix = Array(frames.prefix(length))
            let batch = try KeypointSmoother.smooth(prefix)
            var smoother = KeypointSmoother()
            var stream: [[Float]] = []
            for (i, f) in prefix.enumerated() {
                let final = try smoother.push(f)
                // Frame i is final once frame i + 3 has arrived.
                #expect(final.count == (i >= 3 ? 1 : 0))
                stream += final
            }
            #expect(stream == Array(batch.prefix(stream.count)), "frames final before flush at length \(length)")
            stream += smoother.flush()
            #expect(stream == batch, "length \(length)")
            // Flush starts a new sequence.
            #expect(try smoother.push(frames[0]).isEmpty)
            smoother.reset()
            #expect(smoother.flush().isEmpty)
        }
        // The frames that are final mid-stream do not depend on what comes later.
        let full = try KeypointSmoother.smooth(frames)
        for cut in 4...frames.count {
            let prefix = try KeypointSmoother.smooth(Array(frames.prefix(cut)))
            #expect(Array(prefix.prefix(cut - 3)) == Array(full.prefix(cut - 3)))
        }
    }

    @Test func shortSequencesReplicateTheEnds() throws {
        let a: [Float] = [0, 7], b: [Float] = [7, 14]
        #expect(try KeypointSmoother.smooth([a]) == [a])
        let two = try KeypointSmoother.smooth([a, b])
        #expect(two == [[3, 10], [4, 11]], "(4a + 3b)/7 and (3a + 4b)/7")
        #expect(try KeypointSmoother.smooth([]).isEmpty)
        var s = KeypointSmoother()
        _ = try s.push(a)
        #expect(throws: FaceModelError.self) { _ = try s.push([1, 2, 3]) }
    }

    @Test func refusesWrongLengths() throws {
        let torso = try TorsoKeypoints(face: try FaceFixtures.face(), identity: [])
        #expect(throws: FaceModelError.self) { _ = try torso.keypoints(exp: [0], pose: HeadPose()) }
        #expect(throws: FaceModelError.self) { _ = try HeadPose(euler: [0, 0], trans: [0, 0, 0]) }
    }
}
