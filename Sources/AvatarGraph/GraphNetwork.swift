public import AvatarVulkan

/// A planned graph: its inputs and outputs by name, and the recorded command sequence that is replayed per run.
/// `submit` and `wait` split `run`, so two networks planned from one graph keep two frames in flight.
///
/// Confined to one thread at a time (a session's render thread), like its `CommandSequence`.
public final class GraphNetwork {
    public let name: String
    public let sequence: CommandSequence
    /// Temporaries, retained values and staged device copies.
    public let arena: DeviceBuffer
    /// Host-visible inputs and outputs.
    public let io: DeviceBuffer
    private let named: [String: (slice: BufferSlice, value: GraphValue)]
    public let nodeCount: Int
    /// Arena bytes with memory reuse, and what the same values would take without it.
    public let planBytes: Int
    public let unsharedBytes: Int

    init(name: String, sequence: CommandSequence, arena: DeviceBuffer, io: DeviceBuffer,
         named: [String: (slice: BufferSlice, value: GraphValue)], nodeCount: Int, planBytes: Int, unsharedBytes: Int) {
        self.name = name
        self.sequence = sequence
        self.arena = arena
        self.io = io
        self.named = named
        self.nodeCount = nodeCount
        self.planBytes = planBytes
        self.unsharedBytes = unsharedBytes
    }

    /// The names of the inputs and outputs.
    public var names: [String] { named.keys.sorted() }

    /// The host-visible memory of an input or output.
    public func slice(_ name: String) throws -> BufferSlice {
        guard let entry = named[name] else { throw GraphError("\(self.name): no input or output called \(name) (it has \(names))") }
        return entry.slice
    }

    /// The shape of an input or output.
    public func shape(_ name: String) throws -> [Int] {
        guard let entry = named[name] else { throw GraphError("\(self.name): no input or output called \(name) (it has \(names))") }
        return entry.value.shape
    }

    /// Writes an fp32 input (exactly its element count).
    public func write(_ name: String, _ values: [Float]) throws {
        let (slice, value) = try entry(name)
        guard value.elementType == .float32, values.count == value.count else {
            throw GraphError("\(self.name): input \(name) is \(value.shape) \(value.elementType), got \(values.count) floats")
        }
        try slice.write(values)
    }

    /// Reads an fp32 output.
    public func read(_ name: String) throws -> [Float] {
        let (slice, value) = try entry(name)
        guard value.elementType == .float32 else { throw GraphError("\(self.name): \(name) is \(value.elementType), read its bytes") }
        return try slice.read(count: value.count)
    }

    /// Reads an output's raw bytes.
    public func read(_ name: String, into destination: UnsafeMutableRawBufferPointer) throws {
        try entry(name).0.read(into: destination)
    }

    private func entry(_ name: String) throws -> (BufferSlice, GraphValue) {
        guard let e = named[name] else { throw GraphError("\(self.name): no input or output called \(name) (it has \(names))") }
        return (e.slice, e.value)
    }

    /// Replays the recorded pass (inputs written beforehand, outputs read afterwards).
    public func run() throws { try sequence.run() }

    /// Starts a run without waiting for it.
    public func submit() throws { try sequence.submit() }

    /// Waits for the run started by `submit`.
    public func wait() throws { try sequence.wait() }

    /// Dispatches and barriers the plan recorded.
    public var dispatchCount: Int { sequence.dispatchCount }
    public var barrierCount: Int { sequence.barrierCount }

    /// GPU time of the last run per run of nodes in one group, labelled "group/subgroup" (a node outside any
    /// group by its own label); empty without timestamps.
    public func timings() -> [(label: String, seconds: Double)] { sequence.timings() }

    /// GPU time of the last run summed per group path cut to `depth` components, in first-seen order.
    public func groupTimings(depth: Int = 1) -> [(group: String, seconds: Double)] {
        var order: [String] = [], sums: [String: Double] = [:]
        for (label, seconds) in timings() {
            let key = label.split(separator: "/").prefix(max(1, depth)).joined(separator: "/")
            if sums[key] == nil { order.append(key) }
            sums[key, default: 0] += seconds
        }
        return order.map { ($0, sums[$0]!) }
    }
}
