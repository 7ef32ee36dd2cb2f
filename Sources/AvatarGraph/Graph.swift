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
///
/// `activations` is the element type of the values the builder calls produce. With `.float16` every
/// intermediate is stored as fp16 (half the arena and the memory traffic) while arithmetic, accumulation and
/// norm statistics stay fp32 in the shaders; inputs and outputs stay fp32 for the host, converted by copies at
/// the boundary. It is a property of the graph, not of the plan, because value types are inferred (and checked)
/// as the graph is built. `withActivations` changes it for a part of the graph (a mixed-precision model keeps
/// fragile parts in fp32) and `cast` converts values at the borders of such parts.
public final class Graph {
    public let name: String
    public let ops: Operators
    public private(set) var activations: GraphElementType
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
        activations = .float32
    }

    /// A graph whose builder calls produce `activations` (.float32 or .float16). fp16 needs 16-bit storage
    /// buffers on the device; without them this throws a `GraphError` saying so.
    public init(name: String, ops: Operators, activations: GraphElementType) throws {
        guard activations != .uint32 else { throw GraphError("\(name): activations are float32 or float16, not uint32") }
        if activations == .float16 {
            do { try Operators.checkHalfActivations(ops.device.info) } catch { throw GraphError("\(name): \(error)") }
        }
        self.name = name
        self.ops = ops
        self.activations = activations
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

    /// A value the caller writes before each run (`GraphNetwork.write`). Without a type it is an activation: the
    /// host writes fp32, and under fp16 activations a copy converts it (the returned value is the fp16 one). An
    /// explicit type is taken as is (norm parameters, indices).
    public func input(_ name: String, _ shape: [Int], _ type: GraphElementType? = nil) throws -> GraphValue {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { throw GraphError("\(site(name)): input shape \(shape)") }
        guard !isNamed(name) else { throw GraphError("\(self.name): two inputs or outputs are called \(name)") }
        let host = add(ValueInfo(shape: shape, type: type ?? .float32, kind: .input(name)))
        guard type == nil, activations == .float16 else { return host }
        return try convert(host, to: .float16, label: "\(name).to_f16")
    }

    /// Marks a value produced by a node as an output the caller reads after each run. An fp16 activation is
    /// converted to fp32 by a copy, which becomes the output.
    public func output(_ name: String, _ value: GraphValue) throws {
        try check(value, name)
        guard values[value.id].producer != nil else {
            throw GraphError("\(site(name)): only a value produced by a node can be an output (\(value) is an input, constant or view)")
        }
        guard !isNamed(name) else { throw GraphError("\(self.name): two inputs or outputs are called \(name)") }
        let host = value.elementType == .float16 ? try convert(value, to: .float32, label: "\(name).to_f32") : value
        guard values[host.id].outputName == nil else { throw GraphError("\(site(name)): \(value) is already an output") }
        values[host.id].outputName = name
    }

    /// A copy of `x` stored as `type` (fp32 ↔ fp16 at the graph's boundary).
    func convert(_ x: GraphValue, to type: GraphElementType, label: String) throws -> GraphValue {
        let ops = self.ops
        let (from, to) = (try x.elementType.tensorType(label), try type.tensorType(label))
        return try node(label, reads: [x], output: x.shape, type: type, halfAware: true) { seq, b, y in
            try ops.copy(seq, x: b[x], y: b[y], shape: [x.count], srcStrides: [1], dstStrides: [1], xType: from, yType: to)
        }
    }

    /// `x` stored as `type` (.float32 or .float16): x itself when it already is, else a converting copy.
    public func cast(_ x: GraphValue, to type: GraphElementType) throws -> GraphValue {
        try check(x, "cast")
        guard x.elementType != type else { return x }
        guard type != .uint32, x.elementType != .uint32 else { throw GraphError("\(site("cast")): \(x) cannot become \(type.rawValue)") }
        if type == .float16 {
            do { try Operators.checkHalfActivations(device.info) } catch { throw GraphError("\(site("cast")): \(error)") }
        }
        return try convert(x, to: type, label: type == .float16 ? "to_f16" : "to_f32")
    }

    /// Runs `body` with the builder calls producing `type` activations (the graph's own type again afterwards):
    /// the part of a mixed-precision graph that stays fp32, or the fp16 part of an fp32 graph. Values crossing
    /// the border are converted with `cast`.
    public func withActivations<T>(_ type: GraphElementType, _ body: () throws -> T) throws -> T {
        guard type != .uint32 else { throw GraphError("\(name): activations are float32 or float16, not uint32") }
        if type == .float16 {
            do { try Operators.checkHalfActivations(device.info) } catch { throw GraphError("\(name): \(error)") }
        }
        let saved = activations
        activations = type
        defer { activations = saved }
        return try body()
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
        try node(label, reads: reads, outputs: outputs, types: types, retained: retained, halfAware: false, record: record)
    }

    /// `halfAware`: the node's operators take fp16 activations (the builder calls of `Graph+*.swift` that pass
    /// element types through); any other node reading one is refused when the graph is built.
    func node(_ label: String, reads: [GraphValue], outputs: [[Int]], types: [GraphElementType]?, retained: Set<Int>,
              halfAware: Bool, record: @escaping (CommandSequence, GraphBindings) throws -> Void) throws -> [GraphValue] {
        for r in reads { try check(r, label) }
        if !halfAware, let half = reads.first(where: isHalfActivation) {
            throw GraphError("\(site(label)): reads the fp16 activation \(half), and \(label) has no fp16-activation variant "
                             + "(cast the value to float32 and build this part under withActivations(.float32), or use fp32 activations)")
        }
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
        try node(label, reads: reads, output: output, type: type, retained: retained, halfAware: false, record: record)
    }

    func node(_ label: String, reads: [GraphValue], output: [Int], type: GraphElementType, retained: Bool = false, halfAware: Bool,
              record: @escaping (CommandSequence, GraphBindings, GraphValue) throws -> Void) throws -> GraphValue {
        let y = try node(label, reads: reads, outputs: [output], types: [type], retained: retained ? [0] : [], halfAware: halfAware) { _, _ in }[0]
        nodes[nodes.count - 1].record = { seq, b in try record(seq, b, y) }
        return y
    }

    /// Whether `v` is an fp16 value produced in the graph (fp16 weights are constants and not activations).
    func isHalfActivation(_ v: GraphValue) -> Bool {
        guard v.elementType == .float16 else { return false }
        var id = v.id
        if case .view(let base, _) = values[id].kind { id = base }
        if case .constant = values[id].kind { return false }
        return true
    }

    /// An activation operand of a builder call: it must have the graph's activation type.
    func requireActivation(_ v: GraphValue, _ label: String, _ role: String = "x") throws {
        try require(v.elementType == activations, label, "\(role) \(v) is \(v.elementType.rawValue), this graph's activations are \(activations.rawValue)")
    }

    /// Parameters (γ, β, biases, tables) are read as fp32 by every variant.
    func requireParameters(_ vs: [GraphValue?], _ label: String) throws {
        for case let v? in vs { try require(v.elementType == .float32, label, "parameter \(v) must be float32, it is \(v.elementType.rawValue)") }
    }

    /// Turns an operator's refusal of an element-type mix into a `GraphError` naming the node, when the graph is built.
    func requireVariant<T>(_ label: String, _ pick: () throws -> T) throws {
        do { _ = try pick() } catch { throw GraphError("\(site(label)): \(error)") }
    }

    /// Throws a `GraphError` naming the node when `condition` fails.
    func require(_ condition: Bool, _ label: String, _ message: @autoclosure () -> String) throws {
        if !condition { throw GraphError("\(site(label)): \(message())") }
    }
}
