import ArgumentParser

/// `avatard bench …`: benchmarks whose figures go into docs/performance.md (never timed tests).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (figures go into docs/performance.md).", subcommands: [BenchKernelsCommand.self, BenchMotionCommand.self, BenchRenderCommand.self, BenchRendererCommand.self, BenchSECCCommand.self, BenchSessionCommand.self, BenchSoakCommand.self])
}
