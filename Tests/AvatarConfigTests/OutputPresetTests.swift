import AvatarConfig
import Testing

@Suite struct OutputPresetTests {
    func preset() throws -> OutputPreset {
        let c = try DaemonConfig.parse("""
        [output.presets.p]
        mode = "offline"
        pipeline = "x264enc bitrate={bitrate_kbps} ! mp4mux name=m ! filesink location={location} {title}"
        [output.presets.p.options.bitrate_kbps]
        type = "int"
        default = 2000
        min = 100
        max = 8000
        client = true
        [output.presets.p.options.title]
        type = "string"
        default = "x"
        client = true
        [output.presets.p.options.host]
        type = "string"
        default = "127.0.0.1"
        """, file: "c.toml")
        return c.presets[0]
    }

    @Test func resolvesDefaultsClientOptionsAndDaemonValues() throws {
        let p = try preset()
        #expect(p.writesFile)
        let resolved = try p.resolve(clientOptions: ["bitrate_kbps": "900"], daemonValues: ["location": "\"/tmp/a b.mp4\""])
        // The client-settable string is a token, bound to its value after parsing.
        let token = try #require(resolved.bindings.first(where: { $0.value == "x" })?.key)
        #expect(resolved.text == #"x264enc bitrate=900 ! mp4mux name=m ! filesink location="/tmp/a b.mp4" "# + token)
        #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
    }

    @Test(arguments: [#"a" ! filesink location="/etc/passwd"#, "a\\", "\"", "x name=evil", "a ! fakesink", "é\u{1F600}"])
    func clientStringsNeverReachThePipelineText(value: String) throws {
        // The text is the same whatever the value (only the random token differs).
        func shape(_ value: String) throws -> String {
            let r = try preset().resolve(clientOptions: ["title": value], daemonValues: ["location": "\"f\""])
            #expect(r.bindings.count == 1 && r.bindings.values.first == value)
            return r.bindings.keys.reduce(r.text) { $0.replacing($1, with: "TOKEN") }
        }
        #expect(try shape(value) == shape("plain"))
    }

    @Test(arguments: ["a\nb", "nul\u{0}", "esc\u{1B}[31m", String(repeating: "a", count: 257)])
    func clientStringsWithControlsOrTooLongAreRefused(value: String) throws {
        #expect(throws: PresetOptionError.self) {
            _ = try preset().resolve(clientOptions: ["title": value], daemonValues: ["location": "\"f\""])
        }
    }

    @Test(arguments: [
        (["bitrate_kbps": "99999"], "must be an integer in 100...8000"),
        (["bitrate_kbps": "fast"], "must be an integer"),
        (["host": "evil"], "not settable by clients"),
        (["nope": "1"], "unknown option"),
    ])
    func rejectsBadClientOptions(options: [String: String], fragment: String) throws {
        let p = try preset()
        do {
            _ = try p.resolve(clientOptions: options, daemonValues: ["location": "\"f\""])
            Issue.record("accepted \(options)")
        } catch {
            #expect(error.description.contains(fragment), "\(error)")
        }
    }
}

@Suite struct PresetLineTests {
    /// GStreamer's complaints about a preset (checked at start) are reported at the `pipeline` key's line.
    @Test func presetsKnowTheLineOfTheirPipeline() throws {
        let c = try DaemonConfig.parse("""
        # comment
        [output.presets.a]
        mode = "live"

        pipeline = "queue name=video ! fakesink queue name=audio ! fakesink"
        """, file: "c.toml")
        #expect(c.presets[0].line == 5)
    }
}
