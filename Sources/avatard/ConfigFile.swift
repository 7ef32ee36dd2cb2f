import ArgumentParser
import AvatarConfig
import Foundation

/// The one way the CLI commands read `--config`: the defaults without a path, the file's validated
/// configuration otherwise; a bad file is reported on stderr and exits 78 (EX_CONFIG).
enum ConfigFile {
    static func load(_ path: String?) throws -> DaemonConfig {
        guard let path else { return DaemonConfig() }
        do {
            return try DaemonConfig.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("avatard: configuration error: \(error)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
    }
}
