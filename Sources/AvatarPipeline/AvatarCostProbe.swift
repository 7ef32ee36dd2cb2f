import AvatarStages
import Foundation

/// Measures what one frame of an avatar costs on the device it runs on (audio features, motion and the
/// rendered picture), with the avatar's real stages: a warm-up pass (pipelines compiled, caches filled),
/// then a timed pass over `frames` frames of silence. The daemon uses it at start to admit sessions by
/// what the device can render instead of a fixed count.
public enum AvatarCostProbe {
    /// Wall time per frame (median-free: total over the pass divided by the frames it produced).
    /// An avatar whose first frame takes longer than `slowFrame` (a MimicTalk frame on a CPU driver: half a
    /// minute) gets one short timed pass of 2 frames, so the daemon is ready in a few frames' time, not 15.
    public static func measure(_ avatar: any Avatar, warmFrames: Int = 5, frames: Int = 10,
                               slowFrame: Duration = .seconds(1)) throws -> Duration {
        let first = try pass(avatar, frames: 1)
        if first > slowFrame { return try pass(avatar, frames: 2) }
        if warmFrames > 1 { _ = try pass(avatar, frames: warmFrames - 1) }
        return try pass(avatar, frames: max(1, frames))
    }

    private static func pass(_ avatar: any Avatar, frames: Int) throws -> Duration {
        var stages = try avatar.makeStages(options: SessionStageOptions())
        let samples = [Float](repeating: 0, count: frames * 16000 / max(1, avatar.fps))
        let clock = ContinuousClock()
        let start = clock.now
        var motion = try stages.motion.append(try stages.features.append(samples))
        motion += try stages.motion.append(try stages.features.flush())
        motion += try stages.motion.flush()
        if let renderer = stages.frames {
            for m in motion { _ = try renderer.render(m) }
        }
        let elapsed = clock.now - start
        stages.lease = nil
        return elapsed / max(1, motion.count)
    }
}
