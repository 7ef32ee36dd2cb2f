import AvatarConfig
import Foundation
import Testing

@Suite struct DaemonConfigTests {
    @Test func defaultsMatchTheProtocolSpec() {
        let c = DaemonConfig()
        #expect(c.listen.description == "127.0.0.1:8080")
        #expect(c.adminListen.description == "127.0.0.1:9090")
        #expect(c.tokens.isEmpty)
        #expect(c.device.requireDeviceType == "any")
    }

    @Test func parsesAFullFile() throws {
        let c = try DaemonConfig.parse("""
        [server]
        listen = "[::1]:7000"
        admin_listen = "127.0.0.1:7001"
        tokens = ["s3cret"]
        [avatars]
        directory = "/srv/avatars"
        builtin = false
        [output]
        directory = "/srv/rec"
        delay_ms = 250
        [output.presets.low]
        mode = "live"
        description = "test"
        pipeline = "queue name=video ! fakesink  queue name=audio ! fakesink port={port}"
        [output.presets.low.options.port]
        type = "int"
        default = 5000
        min = 1024
        max = 65535
        [limits]
        max_sessions = 2
        max_buffer_seconds = 3
        idle_timeout_seconds = 5.5
        [device]
        require_device_type = "cpu"
        index = 0
        name = "llvmpipe"
        replicas = 2
        renderer_precision = "fp16"
        [log]
        format = "json"
        level = "debug"
        """, file: "t.toml")
        #expect(c.listen == ListenAddress(host: "::1", port: 7000))
        #expect(c.tokens == ["s3cret"])
        #expect(c.avatarsDirectory == "/srv/avatars" && !c.builtinAvatars)
        #expect(c.outputDelayMs == 250)
        #expect(c.presets.map(\.name) == ["low"])
        #expect(c.presets[0].options.first?.kind == .int(min: 1024, max: 65535))
        #expect(c.limits.maxSessions == 2 && c.limits.maxBufferSeconds == 3 && c.limits.idleTimeoutSeconds == 5.5)
        #expect(c.device.requireDeviceType == "cpu" && c.device.index == 0 && c.device.name == "llvmpipe")
        #expect(c.device.replicas == 2)
        #expect(c.device.rendererPrecision == "fp16")
        #expect(c.log.format == "json")
    }

    @Test(arguments: [
        ("[limits]\nmax_sessions = \"four\"\n", "limits.max_sessions", 2, "expected an integer"),
        ("[limits]\nmax_sesions = 4\n", "limits.max_sesions", 2, "unknown key"),
        ("[device]\nrequire_device_type = \"gpu\"\n", "device.require_device_type", 2, "is not one of"),
        ("[server]\n\nlisten = \"nohost\"\n", "server.listen", 3, "host:port"),
        ("[limits]\nmax_sessions = 0\n", "limits.max_sessions", 2, "out of range"),
        ("[output.presets.x]\nmode = \"live\"\npipeline = \"a {nope}\"\n", "output.presets.x.pipeline", 3, "placeholder"),
        ("[bogus]\n", "bogus", 1, "unknown key"),
        ("[avatars.variants.still]\navatar = \"a\"\npose = \"frozen\"\n", "avatars.variants.still.pose", 3, "is not one of 'static', 'track'"),
        ("[avatars.variants.still]\navatar = \"a\"\n", "avatars.variants.still.pose", 1, "required: 'static' or 'track'"),
        ("[avatars.variants.still]\npose = \"static\"\n", "avatars.variants.still.avatar", 1, "required"),
        ("[avatars.variants.still]\navatar = \"a\"\npose = \"static\"\nstatic_pose = [0, 0.1, 0]\n",
         "avatars.variants.still.static_pose", 4, "expected 6 numbers, found 3"),
        ("[avatars.variants.still]\navatar = \"a\"\npose = \"static\"\nstatic_pose = [0, 0, 0, 0, 0, \"x\"]\n",
         "avatars.variants.still.static_pose", 4, "finite numbers, found a string"),
        ("[avatars.variants.still]\navatar = \"a\"\npose = \"static\"\nstatic_pose = [0, 0, 0, 0, 0, 1e9]\n",
         "avatars.variants.still.static_pose", 4, "out of range"),
        ("[avatars.variants.moving]\navatar = \"a\"\npose = \"track\"\nstatic_pose = [0, 0, 0, 0, 0, 0]\n",
         "avatars.variants.moving.static_pose", 4, "goes with pose = \"static\""),
        ("[avatars.variants.still]\navatar = \"a\"\npose = \"static\"\nstyle = \"calm\"\n", "avatars.variants.still.style", 4, "unknown key"),
        ("[avatars]\nvariants = 3\n", "avatars.variants", 2, "expected a table"),
    ])
    func errorsNameKeyAndLine(text: String, key: String, line: Int, fragment: String) {
        do {
            _ = try DaemonConfig.parse(text, file: "c.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.key == key)
            #expect(error.line == line)
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("c.toml:\(line): \(key):"))
        }
    }

    @Test func avatarVariantsChooseTheSessionPose() throws {
        let c = try DaemonConfig.parse("""
        [avatars]
        directory = "/srv/avatars"
        [avatars.variants.alice_still]
        avatar = "alice"
        pose = "static"
        [avatars.variants.alice_left]
        avatar = "alice"
        pose = "static"
        static_pose = [0, 0.3, 0, 0.01, 0, 0]
        [avatars.variants.alice_moving]
        avatar = "alice"
        pose = "track"
        """, file: "c.toml")
        #expect(c.avatarVariants == [
            AvatarVariant(name: "alice_left", avatar: "alice", pose: .static, staticPose: [0, 0.3, 0, 0.01, 0, 0], file: "c.toml"),
            AvatarVariant(name: "alice_moving", avatar: "alice", pose: .track, file: "c.toml"),
            AvatarVariant(name: "alice_still", avatar: "alice", pose: .static, file: "c.toml"),
        ])
        #expect(c.avatarVariants[0].location("pose") == "c.toml: avatars.variants.alice_left.pose")
        #expect(DaemonConfig().avatarVariants.isEmpty)
    }

    @Test func syntaxErrorsCarryTheLine() {
        do {
            _ = try DaemonConfig.parse("[server]\nlisten = \n", file: "c.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("TOML syntax"))
        }
    }

    /// systemd must not restart a daemon that exits with the configuration-error status.
    @Test func theUnitDoesNotRestartOnConfigErrors() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOf: root.appendingPathComponent("systemd/avatard@.service"), encoding: .utf8)
        #expect(unit.contains("RestartPreventExitStatus=\(ConfigError.exitCode)"))
        #expect(unit.contains("LimitNOFILE="))
    }
}
