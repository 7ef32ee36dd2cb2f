/// Motion model of a session: feature rows in, one motion frame per video frame out, in order.
/// Frame k covers audio [k/fps, (k+1)/fps) of the session timeline.
public protocol MotionStage: AnyObject {
    var dimension: Int { get }
    /// Appends feature rows; returns motion frames that are final now.
    func append(_ features: FeatureRows) throws -> [MotionFrame]
    /// End of utterance: returns the remaining frames for all features appended so far.
    func flush() throws -> [MotionFrame]
    /// Drops pending audio context and moves towards the idle, mouth-closed state; the frames that follow
    /// reach it within 200 ms of stream time, starting from `lastRendered` (the pose on screen: frames the stage
    /// emitted after it were dropped by the session) or, when nil, from the last frame it emitted.
    func interrupt(lastRendered: MotionFrame?)
}
