import Foundation
import Prometheus

/// process_* metrics read from /proc/self (swift-metrics and swift-prometheus do not provide them).
struct ProcessMetrics: Sendable {
    let residentMemory: Gauge
    let virtualMemory: Gauge
    let cpuSeconds: Gauge
    let openFDs: Gauge
    let startTime: Gauge

    init(registry: PrometheusCollectorRegistry) {
        residentMemory = registry.makeGauge(name: "process_resident_memory_bytes", labels: [])
        virtualMemory = registry.makeGauge(name: "process_virtual_memory_bytes", labels: [])
        cpuSeconds = registry.makeGauge(name: "process_cpu_seconds_total", labels: [])
        openFDs = registry.makeGauge(name: "process_open_fds", labels: [])
        startTime = registry.makeGauge(name: "process_start_time_seconds", labels: [])
    }

    /// Refreshes the values; called before each scrape.
    func update() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name; utime/stime are fields 14/15, starttime 22, vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double { fields.count > n - 3 ? Double(fields[n - 3]) ?? 0 : 0 }
            cpuSeconds.set((field(14) + field(15)) / ticks)
            virtualMemory.set(field(23))
            residentMemory.set(field(24) * pageSize)
            if let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
               let up = Double(uptime.split(separator: " ").first ?? "") {
                let bootTime = Date().timeIntervalSince1970 - up
                startTime.set(bootTime + field(22) / ticks)
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(Double(fds.count))
        }
    }
}
