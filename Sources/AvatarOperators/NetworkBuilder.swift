public import AvatarVulkan

/// Composes operators into a network that is planned once and run many times.
///
/// Declare inputs, outputs, constants (weights already on the device) and temporaries, then add steps that
/// say which values they read and write and record their operators. `plan` gives every temporary an offset
/// in one arena, reusing memory between temporaries whose lifetimes (first write … last read) do not
/// overlap, and records all steps once into a replayable `CommandSequence`.
public final class NetworkBuilder {
    /// A value of the network (a tensor whose memory the plan decides).
    public struct Value: Hashable, Sendable {
        let id: Int
        let owner: ObjectIdentifier
    }

    enum Kind { case input(String), output(String), constant(Tensor), temporary }

    struct Declaration {
        var shape: [Int]
        var kind: Kind
    }

    struct Step {
        var label: String
        var reads: [Value]
        var writes: [Value]
        var record: (CommandSequence, Bindings) throws -> Void
    }

    /// Resolves values to tensors while steps record.
    public struct Bindings {
        let tensors: [Tensor]
        public subscript(_ value: Value) -> Tensor { tensors[value.id] }
    }

    var declarations: [Declaration] = []
    var steps: [Step] = []

    public init() {}

    private func declare(_ shape: [Int], _ kind: Kind) -> Value {
        declarations.append(Declaration(shape: shape, kind: kind))
        return Value(id: declarations.count - 1, owner: ObjectIdentifier(self))
    }

    /// An fp32 input written by the caller before each run (`Network.tensor(named:)`).
    public func input(_ name: String, shape: [Int]) -> Value { declare(shape, .input(name)) }

    /// An fp32 output read by the caller after each run.
    public func output(_ name: String, shape: [Int]) -> Value { declare(shape, .output(name)) }

    /// A tensor that already lives on the device (a weight).
    public func constant(_ tensor: Tensor) -> Value { declare(tensor.shape, .constant(tensor)) }

    /// An fp32 intermediate whose memory the planner shares with others.
    public func temporary(shape: [Int]) -> Value { declare(shape, .temporary) }

    /// A step: `record` is called once, at plan time, to record its operators.
    public func step(_ label: String, reads: [Value], writes: [Value],
                     _ record: @escaping (CommandSequence, Bindings) throws -> Void) {
        steps.append(Step(label: label, reads: reads, writes: writes, record: record))
    }

    /// Plans memory, allocates one arena and records every step (with a GPU timestamp per step when
    /// `timestamps` and the device supports them).
    public func plan(device: VulkanDevice, timestamps: Bool = false) throws -> Network {
        let alignment = device.bufferAlignment
        func bytes(_ d: Declaration) -> Int { (max(4, d.shape.reduce(1, *) * 4) + alignment - 1) / alignment * alignment }
        // Lifetimes in step indices; inputs and outputs live across the whole run.
        var first = [Int](repeating: Int.max, count: declarations.count)
        var last = [Int](repeating: -1, count: declarations.count)
        for (i, step) in steps.enumerated() {
            for v in step.reads + step.writes {
                guard v.owner == ObjectIdentifier(self), v.id < declarations.count else {
                    throw OperatorError.plan("step \(step.label) uses a value of another network")
                }
                first[v.id] = min(first[v.id], i)
                last[v.id] = max(last[v.id], i)
            }
        }
        for (i, step) in steps.enumerated() {
            for v in step.reads {
                if case .temporary = declarations[v.id].kind, first[v.id] == i, !step.writes.contains(v) {
                    throw OperatorError.plan("step \(step.label) reads a temporary that no earlier step writes")
                }
            }
        }
        var offsets = [Int](repeating: 0, count: declarations.count)
        var fixedEnd = 0
        for (i, d) in declarations.enumerated() {
            switch d.kind {
            case .input, .output:
                offsets[i] = fixedEnd
                fixedEnd += bytes(d)
            default: break
            }
        }
        // Temporaries: first fit among the placed temporaries whose lifetimes overlap.
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var peak = fixedEnd
        var unshared = fixedEnd
        let temporaries = declarations.indices.filter {
            if case .temporary = declarations[$0].kind { return last[$0] >= 0 }
            return false
        }.sorted { (first[$0], -bytes(declarations[$0])) < (first[$1], -bytes(declarations[$1])) }
        for t in temporaries {
            let size = bytes(declarations[t])
            unshared += size
            let busy = placed.filter { $0.first <= last[t] && first[t] <= $0.last }.sorted { $0.offset < $1.offset }
            var candidate = fixedEnd
            for b in busy {
                if candidate + size <= b.offset { break }
                candidate = max(candidate, b.offset + b.size)
            }
            offsets[t] = candidate
            placed.append((candidate, size, first[t], last[t]))
            peak = max(peak, candidate + size)
        }
        // 16 spare bytes so the last value can be read through a texel view with a partial last texel.
        let arena = try DeviceBuffer(device: device, byteCount: peak + 16, placement: .hostMapped)
        var tensors: [Tensor] = []
        var named: [String: Tensor] = [:]
        for (i, d) in declarations.enumerated() {
            let tensor: Tensor
            if case .constant(let t) = d.kind {
                tensor = t
            } else {
                tensor = try Tensor(shape: d.shape, storage: BufferSlice(buffer: arena, offset: offsets[i], byteCount: bytes(d)))
            }
            tensors.append(tensor)
            switch d.kind {
            case .input(let name), .output(let name):
                guard named[name] == nil else { throw OperatorError.plan("two inputs/outputs are called \(name)") }
                named[name] = tensor
            default: break
            }
        }
        let bindings = Bindings(tensors: tensors)
        let sequence = try CommandSequence(device: device, maxDispatches: max(16, steps.count * 8),
                                           timestamps: timestamps ? steps.count + 1 : 0)
        if timestamps { try sequence.timestamp("start") }
        for step in steps {
            try step.record(sequence, bindings)
            if timestamps { try sequence.timestamp(step.label) }
        }
        return Network(sequence: sequence, arena: arena, tensors: named, planBytes: peak, unsharedBytes: unshared)
    }
}

/// A planned network: named inputs and outputs in one arena, and the recorded sequence.
public final class Network: @unchecked Sendable {
    // @unchecked: confined to the render thread that runs it, like its CommandSequence.
    public let sequence: CommandSequence
    public let arena: DeviceBuffer
    private let tensors: [String: Tensor]
    /// Arena size with memory reuse, and what the same values would take without reuse.
    public let planBytes: Int
    public let unsharedBytes: Int

    init(sequence: CommandSequence, arena: DeviceBuffer, tensors: [String: Tensor], planBytes: Int, unsharedBytes: Int) {
        self.sequence = sequence
        self.arena = arena
        self.tensors = tensors
        self.planBytes = planBytes
        self.unsharedBytes = unsharedBytes
    }

    /// An input or output by name.
    public func tensor(named name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw OperatorError.plan("no input or output called \(name)") }
        return t
    }

    /// Replays the recorded forward pass (inputs written beforehand, outputs read afterwards).
    public func run() throws { try sequence.run() }

    /// GPU time per step of the last run (empty without timestamp support).
    public func stepTimings() -> [(label: String, seconds: Double)] { sequence.timings() }
}
