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
        return registry
    }()
}
