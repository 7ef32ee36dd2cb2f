/// The raw video the daemon feeds into an output: I420 at a fixed size and frame rate.
public struct VideoFormat: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fps: Int

    public init(width: Int, height: Int, fps: Int) {
        self.width = width
        self.height = height
        self.fps = fps
    }

    var caps: String { "video/x-raw,format=I420,width=\(width),height=\(height),framerate=\(fps)/1,pixel-aspect-ratio=1/1" }
}
