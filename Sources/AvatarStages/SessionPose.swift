/// The head poses a session's frames take, for avatars that have a head pose (MimicTalk; docs/avatars.md §8).
/// Protocol v1's `session.start` has no pose field: a live session gets one through the avatar name it starts
/// with (`[avatars.variants.NAME]` in the daemon config, docs/operations.md), `avatard render` through `--pose`.
public enum SessionPose: Sendable, Equatable {
    /// The avatar's own pose source: its bundle's static pose or its pose track.
    case avatar
    /// The avatar's reference pose on every frame.
    case reference
    /// The avatar's pose track played ping-pong (only for avatars converted with a track).
    case track
    /// One fixed pose on every frame: euler (radians about x, y, z) and trans (face-model units).
    case fixed(euler: [Float], trans: [Float])
}
