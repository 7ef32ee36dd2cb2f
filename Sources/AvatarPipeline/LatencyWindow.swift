/// Audio-to-frame latencies of recent frames, for the per-second `stats` percentiles.
struct LatencyWindow {
    private var samples: [Double] = []
    private let capacity: Int

    init(capacity: Int = 250) { self.capacity = capacity }

    mutating func add(_ milliseconds: Double) {
        samples.append(milliseconds)
        if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
    }

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
        return (sorted[min(max(rank, 0), sorted.count - 1)] * 10).rounded() / 10
    }
}
