import Metrics
import Prometheus

/// Prometheus registry and the swift-metrics bootstrap, with histogram buckets fine enough for frames.
public enum MetricsSetup {
    /// The process-wide registry; bootstrapped once (swift-metrics allows a single bootstrap).
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["avatard_frame_latency_seconds"] =
            [2, 5, 10, 20, 33, 50, 66, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 2000].map { .milliseconds($0) }
        factory.durationHistogramBuckets["avatard_render_duration_seconds"] =
            [1, 2, 4, 8, 16, 25, 33, 40, 66, 100, 250].map { .milliseconds($0) }
        factory.durationHistogramBuckets["avatard_motion_inference_duration_seconds"] =
            [1, 2, 5, 10, 20, 40, 80, 160, 320, 640].map { .milliseconds($0) }
        MetricsSystem.bootstrap(factory)
        registry.makeGauge(name: "avatard_build_info", labels: [("version", version)]).set(1.0 as Double)
        return registry
    }()

    /// avatard's version, for `avatard_build_info`.
    public static let version = "0.1.0"

    /// Ensures the bootstrap happened (idempotent).
    public static func bootstrap() { _ = registry }

    /// Publishes the chosen Vulkan device as `avatard_gpu_device_info` (detects a CPU fallback).
    public static func recordDevice(name: String, type: String, driver: String, api: String) {
        registry.makeGauge(name: "avatard_gpu_device_info",
                           labels: [("name", name), ("type", type), ("driver", driver), ("api", api)]).set(1.0 as Double)
    }
}
