public import AvatarOperators
public import AvatarVulkan

/// A network written as a graph of typed values: each builder call (`linear`, `layerNorm`, `attention`, …) is
/// one line that takes values and returns a value whose shape it infers, and checks its inputs' shapes when the
/// graph is built (a `GraphError` names the node and the shapes). Reads and writes are derived from the calls;
/// weights come from `WeightScope`s named like the bundle's tensors. `plan` places the memory, orders the
/// dispatches and records them once into a `GraphNetwork` that is replayed per run.
///
/// Values are written once (by the node that produces them) and may be read by any later node; views
/// (`reshape`, `view`) alias their base's memory. Build a graph on one thread.
public final class Graph {
    public let name: String
    public let ops: Operators
    public var device: VulkanDevice { ops.device }

    enum Kind {
        case input(String)
        case constant(BufferSlice, Tensor?)
        /// Produced by a node; memory shared with values whose lifetimes do not overlap.
        case temporary
        /// Produced by a node into memory of its own, initialised once at plan time (zero borders a node never
        /// writes, host tables).
        case retained([Float]?)
        case view(base: Int, byteOffset: Int)
    }

    struct ValueInfo {
        var shape: [Int]
        var type: GraphElementType
        var kind: Kind
        var producer: Int?
        var outputName: String?
    }

    struct Node {
        var label: String
        var group: [String]
        var reads: [Int]
        var writes: [Int]
        var record: (CommandSequence, GraphBindings) throws -> Void
    }

    var values: [ValueInfo] = []
    var nodes: [Node] = []
    private var groupPath: [String] = []

    public init(name: String, ops: Operators) {
        self.name = name
        self.ops = ops
    }

    private func add(_ info: ValueInfo) -> GraphValue {
        values.append(info)
        return GraphValue(id: values.count - 1, graph: ObjectIdentifier(self), shape: info.shape, elementType: info.type)
    }

    func check(_ v: GraphValue, _ node: String) throws {
        guard v.graph == ObjectIdentifier(self), v.id < values.count else {
            throw GraphError("\(name): node \(node) uses \(v), a value of another graph")
        }
    }

    /// Where errors say they come from: graph, group path and node.
    func site(_ label: String) -> String { ([name] + groupPath + [label]).joined(separator: ".") }

    // MARK: Values

    /// A value the caller writes before each run (`GraphNetwork.write`).
    public func input(_ name: String, _ shape: [Int], _ type: GraphElementType = .float32) throws -> GraphValue {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { throw GraphError("\(site(name)): input shape \(shape)") }
        guard !isNamed(name) else { throw GraphError("\(self.name): two inputs or outputs are called \(name)") }
        return add(ValueInfo(shape: shape, type: type, kind: .input(name)))
    }

    /// Marks a value produced by a node as an output the caller reads after each run.
    public func output(_ name: String, _ value: GraphValue) throws {
        try check(value, name)
        guard values[value.id].producer != nil else {
            throw GraphError("\(site(name)): only a value produced by a node can be an output (\(value) is an input, constant or view)")
        }
        guard !isNamed(name) else { throw GraphError("\(self.name): two inputs or outputs are called \(name)") }
        guard values[value.id].outputName == nil else { throw GraphError("\(site(name)): \(value) is already an output") }
        values[value.id].outputName = name
    }

    /// Whether an input or output already has this name.
    private func isNamed(_ name: String) -> Bool {
        values.contains { v in
            if case .input(let n) = v.kind, n == name { return true }
            return v.outputName == name
        }
    }

    /// A tensor that already lives on the device (a weight).
    public func constant(_ tensor: Tensor) -> GraphValue {
        add(ValueInfo(shape: tensor.shape, type: GraphElementType(tensor.elementType), kind: .constant(tensor.storage, tensor)))
    }

    /// Device memory with a declared shape and element type (index tables, packed data).
    public func constant(_ slice: BufferSlice, shape: [Int], _ type: GraphElementType) throws -> GraphValue {
        guard slice.byteCount >= shape.reduce(1, *) * type.byteSize else {
            throw GraphError("\(name): constant \(shape) \(type) needs \(shape.reduce(1, *) * type.byteSize) bytes, its slice holds \(slice.byteCount)")
        }
        return add(ValueInfo(shape: shape, type: type, kind: .constant(slice, nil)))
    }

    /// Host values placed in the graph's own memory once, at plan time (tables that depend on the plan's shape).
    public func constant(_ label: String, values host: [Float], shape: [Int]) throws -> GraphValue {
        guard host.count == shape.reduce(1, *) else { throw GraphError("\(site(label)): \(host.count) values for shape \(shape)") }
        let v = add(ValueInfo(shape: shape, type: .float32, kind: .retained(host)))
        nodes.append(Node(label: label, group: groupPath, reads: [], writes: [v.id], record: { _, _ in }))
        values[v.id].producer = nodes.count - 1
        return v
    }

    /// Weights looked up by their bundle names (`scope("layers.3.attn")`), each checked against its shape.
    public func weights(_ store: any WeightSource, prefix: String = "") -> WeightScope {
        WeightScope(graph: self, store: store, prefix: prefix)
    }

    // MARK: Views

    /// The same memory seen with another shape of the same element count.
    public func reshape(_ x: GraphValue, _ shape: [Int]) throws -> GraphValue {
        try check(x, "reshape")
        guard shape.reduce(1, *) == x.count, shape.allSatisfy({ $0 > 0 }) else {
            throw GraphError("\(site("reshape")): cannot reshape \(x.shape) to \(shape)")
        }
        return try view(x, elementOffset: 0, shape: shape)
    }

    /// A contiguous part of `x` (starting at element `elementOffset`) seen as a value of `shape`, without a copy.
    public func view(_ x: GraphValue, elementOffset: Int, shape: [Int]) throws -> GraphValue {
        try check(x, "view")
        let n = shape.reduce(1, *)
        guard elementOffset >= 0, n > 0, elementOffset + n <= x.count else {
            throw GraphError("\(site("view")): elements \(elementOffset)..<\(elementOffset + n) are outside \(x.shape)")
        }
        var base = x.id, offset = elementOffset * x.elementType.byteSize
        if case .view(let b, let o) = values[x.id].kind { base = b; offset += o }
        return add(ValueInfo(shape: shape, type: x.elementType, kind: .view(base: base, byteOffset: offset)))
    }

    // MARK: Nodes

    /// Runs `body` with its nodes in a named group (GPU time is reported per group; errors name the path).
    public func group<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        groupPath.append(name)
        defer { groupPath.removeLast() }
        return try body()
    }

    /// The primitive every builder call uses: a node reading `reads` and producing one value per entry of
    /// `outputs`, recorded by `record` at plan time. `retained` outputs keep memory of their own, zeroed once
    /// (for borders the node never writes). Outputs nobody reads are the node's scratch.
    public func node(_ label: String, reads: [GraphValue], outputs: [[Int]], types: [GraphElementType]? = nil,
                     retained: Set<Int> = [], record: @escaping (CommandSequence, GraphBindings) throws -> Void) throws -> [GraphValue] {
        for r in reads { try check(r, label) }
        for shape in outputs where shape.isEmpty || !shape.allSatisfy({ $0 > 0 }) {
            throw GraphError("\(site(label)): output shape \(shape)")
        }
        let index = nodes.count
        var produced: [GraphValue] = []
        for (i, shape) in outputs.enumerated() {
            let type = types?[i] ?? .float32
            let kind: Kind = retained.contains(i) ? .retained(nil) : .temporary
            var info = ValueInfo(shape: shape, type: type, kind: kind)
            info.producer = index
            produced.append(add(info))
        }
        nodes.append(Node(label: label, group: groupPath, reads: reads.map(\.id), writes: produced.map(\.id), record: record))
        return produced
    }

    /// `node` with one output.
    public func node(_ label: String, reads: [GraphValue], output: [Int], type: GraphElementType = .float32, retained: Bool = false,
                     record: @escaping (CommandSequence, GraphBindings, GraphValue) throws -> Void) throws -> GraphValue {
        let y = try node(label, reads: reads, outputs: [output], types: [type], retained: retained ? [0] : []) { _, _ in }[0]
        nodes[nodes.count - 1].record = { seq, b in try record(seq, b, y) }
        return y
    }

    /// Throws a `GraphError` naming the node when `condition` fails.
    func require(_ condition: Bool, _ label: String, _ message: @autoclosure () -> String) throws {
        if !condition { throw GraphError("\(site(label)): \(message())") }
    }
}
