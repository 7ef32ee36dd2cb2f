public import AvatarVulkan

extension Graph {
    /// Plans memory and records every node once.
    ///
    /// - Lifetimes: a value lives from the node that produces it to the last node that reads it (or one of its
    ///   views); inputs and outputs live across the whole run. Temporaries share one arena, first fit among the
    ///   placed temporaries whose lifetimes overlap; retained values and staged inputs/outputs get memory of
    ///   their own.
    /// - Memory: temporaries are device-local on GPUs; inputs and outputs are host-visible, bound directly or
    ///   (discrete GPUs, `GraphPlanOptions.io`) staged by copies at the start and end of the command buffer.
    /// - Order: the command sequence places a barrier only before a dispatch that depends on one since the last
    ///   barrier (the shaders' read-only bindings tell reads from writes).
    public func plan(_ options: GraphPlanOptions = GraphPlanOptions()) throws -> GraphNetwork {
        let device = self.device
        let alignment = device.bufferAlignment
        func bytes(_ v: ValueInfo) -> Int { (max(4, v.shape.reduce(1, *) * v.type.byteSize) + alignment - 1) / alignment * alignment }
        func root(_ id: Int) -> (id: Int, offset: Int) {
            if case .view(let base, let offset) = values[id].kind { return (base, offset) }
            return (id, 0)
        }
        // Lifetimes in node indices (by root value).
        var first = [Int](repeating: Int.max, count: values.count)
        var last = [Int](repeating: -1, count: values.count)
        for (i, node) in nodes.enumerated() {
            for v in node.reads + node.writes {
                let r = root(v).id
                first[r] = min(first[r], i)
                last[r] = max(last[r], i)
            }
        }
        for (i, v) in values.enumerated() where v.outputName != nil { last[i] = nodes.count }
        let stage = options.stages(on: device)

        // Constant folding: a node that reads only constants (weights, host tables, other folded nodes' outputs)
        // gives the same result every run, e.g. a weight permuted or sliced for a kernel. It runs once, here, and
        // its outputs keep memory of their own.
        var constantValue = values.map { v -> Bool in
            switch v.kind {
            case .constant: return true
            case .retained(let initial): return initial != nil && v.producer.map { nodes[$0].reads.isEmpty } ?? false
            default: return false
            }
        }
        var folded = [Bool](repeating: false, count: nodes.count)
        for (i, node) in nodes.enumerated() where !node.reads.isEmpty && node.reads.allSatisfy({ constantValue[root($0).id] }) {
            folded[i] = true
            for w in node.writes { constantValue[w] = true }
        }
        let foldedOutput = values.indices.map { i in values[i].producer.map { folded[$0] } ?? false }

        // Fixed memory: inputs, outputs (the device copies when staged), retained values.
        var offsets = [Int](repeating: -1, count: values.count)
        var ioOffsets: [Int: Int] = [:]
        var ioBytes = 0, fixedEnd = 0
        for (i, v) in values.enumerated() {
            let isIO: Bool
            switch v.kind {
            case .input: isIO = true
            case .temporary, .retained: isIO = v.outputName != nil
            case .constant, .view: continue
            }
            if isIO {
                ioOffsets[i] = ioBytes
                ioBytes += bytes(v)
                if !stage { continue }
            }
            guard isIO || foldedOutput[i] || { if case .retained = v.kind { return true }; return false }() else { continue }
            offsets[i] = fixedEnd
            fixedEnd += bytes(v)
        }
        // Temporaries: first fit.
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var peak = fixedEnd, unshared = fixedEnd
        let temporaries = values.indices.filter {
            if case .temporary = values[$0].kind { return values[$0].outputName == nil && last[$0] >= 0 && !foldedOutput[$0] }
            return false
        }.sorted { (first[$0], -bytes(values[$0])) < (first[$1], -bytes(values[$1])) }
        for t in temporaries {
            let size = bytes(values[t])
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
        let arena = try DeviceBuffer(device: device, byteCount: peak + 16, placement: device.info.type == .cpu ? .hostMapped : .deviceLocal)
        let io = try DeviceBuffer(device: device, byteCount: max(16, ioBytes + 16), placement: .hostMapped)

        var slices: [BufferSlice] = []
        var tensors: [Int: Tensor] = [:]
        var hostSlices: [String: (slice: BufferSlice, value: GraphValue)] = [:]
        var stagedIn: [(BufferSlice, BufferSlice)] = [], stagedOut: [(BufferSlice, BufferSlice)] = []
        for (i, v) in values.enumerated() {
            let count = max(4, v.shape.reduce(1, *) * v.type.byteSize)
            let value = GraphValue(id: i, graph: ObjectIdentifier(self), shape: v.shape, elementType: v.type)
            switch v.kind {
            case .constant(let slice, let tensor):
                slices.append(slice)
                if let tensor { tensors[i] = tensor }
            case .view(let base, let offset):
                let b = slices[base]
                slices.append(BufferSlice(buffer: b.buffer, offset: b.offset + offset, byteCount: count))
            default:
                let host = ioOffsets[i].map { BufferSlice(buffer: io, offset: $0, byteCount: count) }
                let bound = offsets[i] >= 0 ? BufferSlice(buffer: arena, offset: offsets[i], byteCount: count) : host!
                slices.append(bound)
                if let host {
                    let name: String
                    if case .input(let n) = v.kind { name = n } else { name = v.outputName! }
                    hostSlices[name] = (host, value)
                    if stage {
                        if case .input = v.kind { stagedIn.append((host, bound)) } else { stagedOut.append((bound, host)) }
                    }
                }
            }
        }
        // Values that are never produced but read would be garbage.
        for (i, node) in nodes.enumerated() {
            for r in node.reads {
                let v = values[root(r).id]
                if case .temporary = v.kind, (v.producer ?? Int.max) >= i {
                    throw GraphError("\(name).\(node.label): reads %\(r), which no earlier node produces")
                }
            }
        }
        for (i, v) in values.enumerated() {
            guard case .retained(let initial) = v.kind else { continue }
            if let initial { try slices[i].write(initial) } else {
                let zeros = [UInt8](repeating: 0, count: slices[i].byteCount)
                try zeros.withUnsafeBytes { try slices[i].write(bytes: $0) }
            }
        }

        let bindings = GraphBindings(slices: slices, tensors: tensors)
        if folded.contains(true) {
            let once = try CommandSequence(device: device)
            for (i, node) in nodes.enumerated() where folded[i] { try node.record(once, bindings) }
            try once.run()
        }
        let sequence = try CommandSequence(device: device, timestamps: options.timestamps ? nodes.count + 1 : 0)
        if options.timestamps { try sequence.timestamp("start") }
        for (from, to) in stagedIn { try sequence.copy(from: from, to: to) }
        // One timestamp per run of nodes in the same group (a node outside any group is its own run): on some
        // drivers a timestamp is a synchronisation point, so marks per node would distort what they measure.
        // Host constants (nodes that read nothing) record nothing and get no mark.
        var open: (label: String, single: Bool)?
        for (i, node) in nodes.enumerated() where !folded[i] {
            let label = node.group.isEmpty ? node.label : node.group.joined(separator: "/")
            let marked = options.timestamps && !node.reads.isEmpty
            if marked, let current = open, current.single || current.label != label {
                try sequence.timestamp(current.label)
                open = nil
            }
            try node.record(sequence, bindings)
            if marked { open = (label, node.group.isEmpty) }
        }
        if let current = open { try sequence.timestamp(current.label) }
        for (from, to) in stagedOut { try sequence.copy(from: from, to: to) }
        return GraphNetwork(name: name, sequence: sequence, arena: arena, io: io, named: hostSlices, nodeCount: nodes.count,
                            planBytes: peak, unsharedBytes: unshared)
    }
}
