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
        let text = try p.resolve(clientOptions: ["bitrate_kbps": "900"], daemonValues: ["location": "\"/tmp/a b.mp4\""])
        #expect(text == #"x264enc bitrate=900 ! mp4mux name=m ! filesink location="/tmp/a b.mp4" "x""#)
    }

    @Test func quotesStringsSoTheyCannotAddElements() throws {
        let text = try preset().resolve(clientOptions: ["title": #"a" ! filesink location="/etc/passwd"#],
                                         daemonValues: ["location": "\"f\""])
        #expect(text.hasSuffix(#""a\" ! filesink location=\"/etc/passwd""#))
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
