import AvatarConfig
import AvatarMedia
import AvatarPipeline
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Testing

/// Client-settable string options reach the element's property byte for byte and never the pipeline text:
/// a value ending in a backslash, carrying quotes, `!` or `name=`, cannot add or rewire elements.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PresetInjectionTests {
    /// A (deliberately lax) operator preset whose file name is client-settable.
    static let config = """
    [output.presets.named]
    mode = "offline"
    pipeline = \"\"\"
    queue name=video ! x264enc speed-preset=ultrafast bitrate=300 key-int-max={keyframe_interval} ! h264parse ! mux.
    queue name=audio ! opusparse ! mux.
    matroskamux name=mux ! filesink location={file} sync=false async=false
    \"\"\"
    [output.presets.named.options.file]
    type = "string"
    default = "/dev/null"
    max_length = 1024
    client = true
    """

    func render(file: String) async throws -> [SessionEvent] {
        let preset = try DaemonConfig.parse(Self.config, file: "t.toml").presets[0]
        let resolved = try preset.resolve(clientOptions: ["file": file], daemonValues: [
            "session_id": "s", "width": "64", "height": "64", "fps": "25", "keyframe_interval": "50"])
        #expect(!resolved.text.contains(file))
        let plan = SessionPlan(sessionID: UUID().uuidString, avatar: EnvelopeAvatar(), stageOptions: SessionStageOptions(),
                               preset: preset, pipeline: resolved.text, pipelineBindings: resolved.bindings,
                               outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 10)
        let session = Session(plan: plan, makeOutput: GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard),
                              logger: Logger(label: "t"))
        for (i, p) in try TestAudio.packets(TestAudio.segments([(0.4, 0.3)])).enumerated() {
            session.audio(seq: UInt32(i), ts: UInt64(i * 960), payload: p)
        }
        session.send(.close)
        var events: [SessionEvent] = []
        for await e in session.events { events.append(e) }
        return events
    }

    @Test(arguments: [
        "ends-in-backslash\\",
        #"x" name=y ! filesink location="pwned.mkv"#,
        "quote\"only",
        "bang ! fakesink",
        "name=evil",
        String(repeating: "L", count: 200),
        "ünï ✓",
    ])
    func theValueIsTheFileNameAndNothingElse(name: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/" + name
        let events = try await render(file: path)
        #expect(events.contains { if case .ended = $0 { true } else { false } }, "\(events)")
        // Exactly one file, at exactly the path given.
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(written == [name])
        #expect(!FileManager.default.fileExists(atPath: "pwned.mkv"))
        let probe = try MediaProbe(path: path)
        #expect(probe.frames.count == 10)
    }
}
