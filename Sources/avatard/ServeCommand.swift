import ArgumentParser
import AvatarConfig
import AvatarPipeline
import AvatarServer
import AvatarVulkan
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon (public WebSocket listener and admin listener).",
        discussion: "Without --config it serves protocol v1's defaults: public 127.0.0.1:8080, admin 127.0.0.1:9090, the avatars shipped with avatard.")

    @Option(name: .long, help: "TOML configuration file.")
    var config: String?

    @Option(name: .long, help: "Vulkan device index to use (overrides [device] index; see `avatard devices`).")
    var device: Int?

    func run() async throws {
        var config = try ConfigFile.load(self.config)
        if let device { config.device.index = device }
        let logger = LogSetup.bootstrap(config.log)
        let setup: DaemonSetup
        do {
            setup = try DaemonSetup.prepare(config: config, logger: logger)
        } catch let error as ConfigError {
            logger.critical("configuration error", metadata: ["error.message": "\(error)"])
            throw ExitCode(ConfigError.exitCode)
        } catch let error as DeviceSelectionError {
            // [device] asks for a device this machine does not have: a configuration problem (no restart loop).
            logger.critical("device policy not met", metadata: ["error.message": "\(error)"])
            throw ExitCode(ConfigError.exitCode)
        } catch {
            logger.critical("cannot start", metadata: ["error.message": "\(error)"])
            throw ExitCode.failure
        }
        let server = DaemonServer(config: config, avatars: setup.avatars, presets: setup.presets,
                                  makeOutput: setup.makeOutput, readiness: setup.readiness, capacity: setup.capacity, logger: logger)
        do {
            try await server.run()
        } catch let error as ListenerError {
            logger.critical("cannot listen", metadata: ["error.message": "\(error)"])
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode(ListenerError.exitCode)
        }
    }
}
