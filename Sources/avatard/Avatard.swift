import ArgumentParser

@main
struct Avatard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avatard",
        abstract: "Real-time streaming avatar daemon: Opus over WebSocket in, talking-face video out through GStreamer.",
        version: AvatardVersion.string,
        subcommands: [ServeCommand.self, RenderCommand.self, RendererCommand.self, SendCommand.self, DevicesCommand.self, BundleCommand.self, BenchCommand.self])
}

enum AvatardVersion {
    static let string = "0.1.0"
}
