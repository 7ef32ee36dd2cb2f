import AvatarFormats
import AvatarGraph
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// The typed model graph: shape inference and checks at build time, weight scopes, the planner (memory reuse,
/// barriers only between dependent dispatches, staged I/O, timestamps per group) and frames in flight.
@Suite(.serialized) struct GraphTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    /// A tiny weight file and its store: fc1 [hidden, dim] (+bias), fc2 [dim, hidden].
    static func store(_ gpu: GPUHarness, dim: Int, hidden: Int) throws -> (WeightStore, [String: [Float]]) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-graph-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let values = ["mlp.fc1.weight": GPUHarness.random(hidden * dim, seed: 61), "mlp.fc1.bias": GPUHarness.random(hidden, seed: 62),
                      "mlp.fc2.weight": GPUHarness.random(dim * hidden, seed: 63)]
        var writer = SafeTensorsWriter()
        writer.add("mlp.fc1.weight", shape: [hidden, dim], floats: values["mlp.fc1.weight"]!)
        writer.add("mlp.fc1.bias", shape: [hidden], floats: values["mlp.fc1.bias"]!)
        writer.add("mlp.fc2.weight", shape: [dim, hidden], floats: values["mlp.fc2.weight"]!)
        try writer.write(to: url)
        return (try WeightStore(url: url, device: gpu.device), values)
    }

    static func mlpGraph(_ gpu: GPUHarness, store: WeightStore, rows: Int, dim: Int, hidden: Int) throws -> Graph {
        let g = Graph(name: "mlp", ops: gpu.ops)
        let w = g.weights(store).scope("mlp")
        let x = try g.input("x", [rows, dim])
        let y = try g.group("block") {
            let h = try g.gelu(try g.linear(x, try w.weight("fc1.weight", [hidden, dim]), bias: try w.weight("fc1.bias", [hidden])))
            return try g.add(try g.activation(.tanh, try g.linear(h, try w.weight("fc2.weight", [dim, hidden]))), x)
        }
        try g.output("y", y)
        return g
    }

    static func mlpReference(_ x: [Float], _ w: [String: [Float]], rows: Int, dim: Int, hidden: Int) -> [Float] {
        var h = CPUReference.matmul(x, w["mlp.fc1.weight"]!, m: rows, n: hidden, k: dim, transposeB: true)
        for i in h.indices { h[i] += w["mlp.fc1.bias"]![i % hidden] }
        let gelu = h.map { v in Float(0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))) }
        let out = CPUReference.matmul(gelu, w["mlp.fc2.weight"]!, m: rows, n: dim, k: hidden, transposeB: true)
        return zip(out, x).map { tanhf($0) + $1 }
    }

    @Test func plannedGraphMatchesReferenceReusesMemoryAndTimesGroups() throws {
        let gpu = try gpu
        let (rows, dim, hidden) = (7, 12, 20)
        let (store, w) = try Self.store(gpu, dim: dim, hidden: hidden)
        for io in [GraphPlanOptions.IOPlacement.direct, .staged] {
            let net = try Self.mlpGraph(gpu, store: store, rows: rows, dim: dim, hidden: hidden).plan(GraphPlanOptions(timestamps: true, io: io))
            #expect(net.planBytes < net.unsharedBytes, "temporaries share memory (\(net.planBytes) vs \(net.unsharedBytes))")
            #expect(try net.shape("y") == [rows, dim])
            for seed in [UInt64(53), 54] {
                let input = GPUHarness.random(rows * dim, seed: seed)
                try net.write("x", input)
                try net.run()
                GPUHarness.expectClose(try net.read("y"), Self.mlpReference(input, w, rows: rows, dim: dim, hidden: hidden), nmse: 1e-10,
                                       "planned MLP (\(io))")
            }
            let timings = net.timings()
            if !timings.isEmpty {
                #expect(timings.map(\.label) == ["block"], "one mark per run of nodes in a group")
                #expect(net.groupTimings().map(\.group) == ["block"])
            }
            #expect(throws: GraphError.self) { try net.write("x", [1, 2]) }
            #expect(throws: GraphError.self) { try net.read("nope") }
        }
    }

    /// A node that reads only constants (here a weight transposed, then scaled by a host table) runs once at plan
    /// time: the run records only the nodes that read the input, and the result is the same as computing per run.
    @Test func nodesOfConstantsRunOnceAtPlanTime() throws {
        let gpu = try gpu
        let (rows, dim, hidden) = (5, 12, 20)
        let (store, w) = try Self.store(gpu, dim: dim, hidden: hidden)
        let g = Graph(name: "fold", ops: gpu.ops)
        let x = try g.input("x", [rows, dim])
        let weight = try g.weights(store).weight("mlp.fc1.weight", [hidden, dim])
        let transposed = try g.permute(weight, [1, 0])                                   // constant → folded
        let half = try g.constant("half", values: [Float](repeating: 0.5, count: hidden), shape: [hidden])
        let scaled = try g.mul(transposed, half)                                         // folded too
        try g.output("y", try g.matmul(x, scaled))
        let net = try g.plan()
        #expect(net.dispatchCount == 1, "only the matmul runs per frame, found \(net.dispatchCount) dispatches")
        let input = GPUHarness.random(rows * dim, seed: 71)
        var want = [Float](repeating: 0, count: rows * hidden)
        for r in 0..<rows { for h in 0..<hidden { for d in 0..<dim {
            want[r * hidden + h] += input[r * dim + d] * w["mlp.fc1.weight"]![h * dim + d] * 0.5
        } } }
        for _ in 0..<2 {
            try net.write("x", input)
            try net.run()
            GPUHarness.expectClose(try net.read("y"), want, nmse: 1e-10, "folded constants")
        }
    }

    @Test func shapesAreCheckedWhenTheGraphIsBuilt() throws {
        let gpu = try gpu
        let (store, _) = try Self.store(gpu, dim: 12, hidden: 20)
        let g = Graph(name: "bad", ops: gpu.ops)
        let w = g.weights(store).scope("mlp")
        let x = try g.input("x", [3, 11])
        let fc1 = try w.weight("fc1.weight", [20, 12])
        do {
            _ = try g.group("layer0") { try g.linear(x, fc1) }
            Issue.record("a linear over mismatched widths was accepted")
        } catch let error as GraphError {
            #expect(error.message.contains("bad.layer0.linear") && error.message.contains("[3, 11]") && error.message.contains("[20, 12]"),
                    "\(error)")
        }
        do {
            _ = try w.weight("fc1.weight", [12, 20])
            Issue.record("a weight of another shape was accepted")
        } catch let error as GraphError {
            #expect(error.message.contains("mlp.fc1.weight") && error.message.contains("[20, 12]") && error.message.contains("[12, 20]"), "\(error)")
        }
        #expect(throws: GraphError.self) { try w.weight("fc3.weight", [1]) }
        #expect(throws: GraphError.self) { try g.add(x, try g.input("b", [4])) }
        #expect(throws: GraphError.self) { try g.reshape(x, [5, 7]) }
        #expect(throws: GraphError.self) { try g.output("x", x) }
        let other = Graph(name: "other", ops: gpu.ops)
        #expect(throws: GraphError.self) { try other.gelu(x) }
    }

    /// Independent dispatches share a barrier interval; dependent ones are separated. gelu(x) and silu(x) only
    /// read x: no barrier between them; the add reads both: one barrier; plus the final barrier to the host.
    @Test func barriersOnlyBetweenDependentDispatches() throws {
        let gpu = try gpu
        let g = Graph(name: "fork", ops: gpu.ops)
        let x = try g.input("x", [64])
        let y = try g.add(try g.gelu(x), try g.activation(.silu, x))
        try g.output("y", y)
        let net = try g.plan(GraphPlanOptions(io: .direct))
        let input = GPUHarness.random(64, seed: 70)
        try net.write("x", input)
        try net.run()
        #expect(net.dispatchCount == 3)
        #expect(net.barrierCount == 2)
        let want = input.map { v -> Float in
            let gelu = Float(0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot())))
            return gelu + v / (1 + expf(-v))
        }
        GPUHarness.expectClose(try net.read("y"), want, nmse: 1e-12, "fork")

        // A chain needs a barrier before every dependent step.
        let chain = Graph(name: "chain", ops: gpu.ops)
        var v = try chain.input("x", [64])
        for _ in 0..<4 { v = try chain.activation(.relu, v) }
        try chain.output("y", v)
        let planned = try chain.plan(GraphPlanOptions(io: .direct))
        try planned.write("x", input)
        try planned.run()
        #expect(planned.barrierCount == 4)
        #expect(try planned.read("y") == input.map { max($0, 0) })
    }

    /// Two networks planned from one graph hold two frames in flight: both submitted, then both completed.
    @Test func twoFramesInFlight() throws {
        let gpu = try gpu
        let (rows, dim, hidden) = (5, 12, 20)
        let (store, w) = try Self.store(gpu, dim: dim, hidden: hidden)
        let g = try Self.mlpGraph(gpu, store: store, rows: rows, dim: dim, hidden: hidden)
        let slots = try (0..<2).map { _ in try g.plan() }
        let inputs = [GPUHarness.random(rows * dim, seed: 80), GPUHarness.random(rows * dim, seed: 81)]
        for round in 0..<3 {
            for (slot, input) in zip(slots, inputs) {
                try slot.write("x", input.map { $0 + Float(round) })
                try slot.submit()
            }
            #expect(slots.allSatisfy { $0.sequence.isInFlight })
            for (slot, input) in zip(slots, inputs) {
                try slot.wait()
                GPUHarness.expectClose(try slot.read("y"), Self.mlpReference(input.map { $0 + Float(round) }, w, rows: rows, dim: dim, hidden: hidden),
                                       nmse: 1e-10, "slot round \(round)")
            }
        }
    }

    /// Views, gathers, concat, padding and time taps agree with index arithmetic on the host.
    @Test func layoutNodesMatchIndexArithmetic() throws {
        let gpu = try gpu
        let (t, c) = (7, 5)
        let x = (0..<(t * c)).map { Float($0) }
        let g = Graph(name: "layout", ops: gpu.ops)
        let xv = try g.input("x", [t, c])
        try g.output("taps", try g.timeTaps(xv, kernel: 3))
        try g.output("padded", try g.padRows(xv, before: 2, after: 1))
        try g.output("cat", try g.concat([try g.slice(xv, axis: 0, start: 5, length: 2), try g.view(xv, elementOffset: 0, shape: [1, c])], axis: 0))
        try g.output("perm", try g.permute(xv, [1, 0]))
        let net = try g.plan()
        for _ in 0..<2 {
            try net.write("x", x)
            try net.run()
            var taps = [Float](repeating: 0, count: t * 3 * c)
            for r in 0..<t { for k in 0..<3 where r + k - 1 >= 0 && r + k - 1 < t { for j in 0..<c { taps[r * 3 * c + k * c + j] = x[(r + k - 1) * c + j] } } }
            #expect(try net.read("taps") == taps)
            #expect(try net.read("padded") == [Float](repeating: 0, count: 2 * c) + x + [Float](repeating: 0, count: c))
            #expect(try net.read("cat") == Array(x[(5 * c)...]) + Array(x[0..<c]))
            #expect(try net.read("perm") == (0..<c).flatMap { j in (0..<t).map { x[$0 * c + j] } })
        }
    }
}
