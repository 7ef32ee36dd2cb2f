import AvatarFace
import AvatarModels
import AvatarStages
import Foundation
import Testing

/// The MimicTalk motion stage on a scripted expression stream: keypoints smoothed as one sequence per utterance
/// whatever the chunking, cameras of the session's frame numbers, the pose continuing after an interruption, and
/// the full-window layout (T − 4 frames smoothed, utterance cameras over the T sampled frames).
@Suite struct MimicTalkMotionStageTests {
    /// Emits the scripted frames: `append` hands out as many as the rows cover (2 rows per frame), `flush` the rest.
    final class ScriptedExpressions: MotionStage {
        var script: [[Float]]
        var emitted = 0
        var covered = 0
        let fullWindow: Bool
        var interruptedWith: [MotionFrame?] = []
        init(_ script: [[Float]], fullWindow: Bool = false) {
            self.script = script
            self.fullWindow = fullWindow
        }
        var dimension: Int { 64 }
        func append(_ features: FeatureRows) throws -> [MotionFrame] {
            covered += features.values.count / features.dimension / 2
            return fullWindow ? [] : take(upTo: covered)
        }
        func flush() throws -> [MotionFrame] { take(upTo: covered) }
        func interrupt(lastRendered: MotionFrame?) { interruptedWith.append(lastRendered) }
        private func take(upTo n: Int) -> [MotionFrame] {
            var out: [MotionFrame] = []
            while emitted < min(n, script.count) {
                out.append(MotionFrame(index: emitted, coefficients: script[emitted]))
                emitted += 1
            }
            return out
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let face = Result { try BFMFaceModel(url: root.appendingPathComponent("Tests/Fixtures/face/face_tiny.safetensors")) }

    static func expressions(_ count: Int, seed: Int = 1) -> [[Float]] {
        (0..<count).map { t in (0..<64).map { d in 0.8 * sin(Float(t * 7 + d * 3 + seed) * 0.37) } }
    }

    static let identity: [Float] = (0..<80).map { 0.3 * cos(Float($0) * 0.71) }
    static let track = (0..<5).map { i in HeadPose(euler: SIMD3(0.02 * Double(i), -0.03 * Double(i), 0.01), trans: SIMD3(0.01 * Double(i), 0, 0.2)) }

    func rows(_ frames: Int) -> FeatureRows { FeatureRows(dimension: 4, values: [Float](repeating: 0, count: 2 * frames * 4)) }

    func stage(_ script: [[Float]], fullWindow: Bool = false) throws -> (MimicTalkMotionStage, ScriptedExpressions, TorsoKeypoints, PoseSource) {
        let face = try Self.face.get()
        let keypoints = try TorsoKeypoints(face: face, identity: Self.identity)
        let poses = try PoseSource.track(Self.track, reference: HeadPose(euler: SIMD3(0, 0.05, 0), trans: SIMD3(0, 0, 0.1)))
        let inner = ScriptedExpressions(script, fullWindow: fullWindow)
        return (MimicTalkMotionStage(inner: inner, keypoints: keypoints, poses: poses, fullWindow: fullWindow, padRowsMultiple: 8),
                inner, keypoints, poses)
    }

    @Test func chunkingDoesNotChangeTheFrames() throws {
        let script = Self.expressions(11)
        let (_, _, keypoints, poses) = try stage(script)
        let raw = try script.enumerated().map { try keypoints.keypoints(exp: $0.element, pose: poses.pose(frame: $0.offset)) }
        let smoothed = try KeypointSmoother.smooth(raw)
        for chunks in [[11], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [3, 5, 3], [0, 4, 0, 7]] {
            let (s, _, _, _) = try stage(script)
            var out: [MotionFrame] = []
            for c in chunks { out += try s.append(rows(c)) }
            // The filter holds 3 frames of look-ahead until the utterance ends.
            #expect(out.count == 11 - MimicTalkMotionStage.lookaheadFrames, "chunks \(chunks)")
            out += try s.flush()
            #expect(out.map(\.index) == Array(0..<11))
            for (t, f) in out.enumerated() {
                #expect(f.coefficients.count == MimicTalkMotionStage.dimension)
                #expect(Array(f.coefficients[0..<64]) == script[t])
                #expect(Array(f.coefficients[64..<200]) == smoothed[t], "frame \(t), chunks \(chunks)")
                #expect(Array(f.coefficients[200...]) == (try poses.liveCamera(frame: t)))
            }
        }
    }

    @Test func interruptionDropsHeldFramesAndContinuesThePose() throws {
        let (s, inner, _, poses) = try stage(Self.expressions(20))
        let first = try s.append(rows(6))
        #expect(first.map(\.index) == [0, 1, 2])
        // The session showed frames 0 and 1 and dropped the rest.
        var shown = first[1]
        shown.index = 1
        s.interrupt(lastRendered: shown)
        #expect(inner.interruptedWith.last??.coefficients.count == 64, "the model sees only the expression")
        let next = try s.append(rows(5)) + s.flush()
        #expect(next.map(\.index) == Array(2..<7), "the pose continues after the last frame shown")
        #expect(Array(next[0].coefficients[200...]) == (try poses.liveCamera(frame: 2)))
    }

    @Test func fullWindowSmoothsTheFramesUpstreamRendersAndUsesUtteranceCameras() throws {
        let script = Self.expressions(13)
        let (s, _, keypoints, poses) = try stage(script, fullWindow: true)
        #expect(try s.append(rows(13)).isEmpty)
        let out = try s.flush()
        #expect(out.count == 13)
        // 26 rows pad to 32: T = 16 sampled frames, upstream renders T − 4 = 12.
        let raw = try script.enumerated().map { try keypoints.keypoints(exp: $0.element, pose: poses.pose(frame: $0.offset)) }
        let kept = try KeypointSmoother.smooth(Array(raw.prefix(12)))
        let cameras = poses.utteranceCameras(count: 16)
        for t in 0..<12 {
            #expect(Array(out[t].coefficients[64..<200]) == kept[t], "frame \(t)")
            #expect(Array(out[t].coefficients[200...]) == cameras[t], "frame \(t)")
        }
        #expect(Array(out[12].coefficients[64..<200]) == (try KeypointSmoother.smooth(raw))[12])
    }

    @Test func aModelOfOtherDimensionsIsRefused() throws {
        let (s, _, _, _) = try stage([[Float](repeating: 0, count: 10)])
        #expect(throws: (any Error).self) { _ = try s.append(rows(1)) + s.flush() }
    }
}
