import ArgumentParser

@main
struct Avatard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "avatard",
        abstract: "Real-time streaming avatar daemon: Opus over WebSocket in, talking-face video out through GStreamer.")
}
