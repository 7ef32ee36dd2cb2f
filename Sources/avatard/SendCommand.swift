import AvatarFormats
import ArgumentParser
import AvatarClient
import AvatarMedia
import AvatarProtocol
import Foundation
import Logging

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Reference client: stream an audio file to a daemon as Opus over WebSocket (protocol v1).",
        discussion: "Encodes any file GStreamer can decode to 20 ms Opus packets and streams them at real time (or --fast), printing every server message as JSON.")

    @Option(name: .long, help: "Session URL, e.g. ws://127.0.0.1:8080/v1/session")
    var url: String = "ws://127.0.0.1:8080/v1/session"

    @Option(name: .long, help: "Audio file to send.")
    var audio: String

    @Option(name: .long, help: "Avatar name.")
    var avatar: String = "demo"

    @Option(name: .long, help: "Output preset name.")
    var output: String = "file-mp4"

    @Option(name: .long, help: "Style clip of the avatar.")
    var style: String?

    @Option(name: .long, parsing: .singleValue, help: "Client-settable preset option, key=value (repeatable).")
    var option: [String] = []

    @Option(name: .long, help: "Bearer token.")
    var token: String?

    @Flag(name: .long, help: "Send as fast as the server reads instead of at real time.")
    var fast = false

    @Option(name: .customLong("interrupt-after"), help: "Send input.interrupt after this many seconds of audio.")
    var interruptAfter: Double?

    func run() async throws {
        GStreamerRuntime.initialize()
        let packets: [ClientPacket]
        do {
            packets = try AudioFileReader.opusPackets(path: audio).map { ClientPacket(data: $0.data, duration48k: $0.duration48k) }
        } catch {
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode.failure
        }
        var options: [String: JSONValue] = [:]
        for item in option {
            guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--option takes key=value, got '\(item)'") }
            let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
            options[key] = Double(value).map(JSONValue.number) ?? (value == "true" || value == "false" ? .bool(value == "true") : .string(value))
        }
        var actions: [StreamingClient.Action] = []
        if let interruptAfter { actions.append(.init(beforePacket: Int(interruptAfter * 50), kind: .interrupt)) }
        var logger = Logger(label: "avatard-send")
        logger.logLevel = .warning
        let client = StreamingClient(url: url, token: token, logger: logger)
        let start = SessionStart(avatar: avatar, output: output, outputOptions: options.isEmpty ? nil : options, style: style)
        let seconds = Double(packets.reduce(0) { $0 + $1.duration48k }) / 48000
        FileHandle.standardError.write(Data("sending \(packets.count) packets (\(String(format: "%.2f", seconds)) s) to \(url)\(fast ? " as fast as possible" : " at real time")\n".utf8))
        let result = try await client.run(start: start, packets: packets, pacing: fast ? .fast : .realtime, actions: actions) { message in
            print(message.json())
        }
        FileHandle.standardError.write(Data("closed: \(result.closeCode.map(String.init) ?? "without a close frame")\n".utf8))
        if let code = result.closeCode, code != 1000 { throw ExitCode.failure }
    }
}
