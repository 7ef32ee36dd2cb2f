public import AvatarOperators
public import AvatarVulkan

/// Weights of a `Graph` found by their bundle names: `scope("layers.3.attn")` narrows the prefix, and
/// `weight("qkv.weight", [3·h, d])` returns the constant after checking its stored shape (a missing tensor
/// or another shape is a `GraphError` naming the full name and both shapes).
public struct WeightScope {
    let graph: Graph
    let store: any WeightSource
    public let prefix: String

    /// A narrower scope: `scope("attn")` of "layers.3" is "layers.3.attn".
    public func scope(_ name: String) -> WeightScope {
        WeightScope(graph: graph, store: store, prefix: prefix.isEmpty ? name : prefix + "." + name)
    }

    /// The full bundle name of `name` in this scope.
    public func fullName(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// The tensor `name` of this scope, which must have `shape`.
    public func weight(_ name: String, _ shape: [Int]) throws -> GraphValue {
        let full = fullName(name)
        guard let tensor = store.weightTensor(full) else {
            throw GraphError("\(graph.name): weight \(full) \(shape) is not in the bundle")
        }
        guard tensor.shape == shape else {
            throw GraphError("\(graph.name): weight \(full) is \(tensor.shape) in the bundle, the model expects \(shape)")
        }
        return graph.constant(tensor)
    }

    /// Whether the bundle holds `name` in this scope (optional tensors such as biases).
    public func contains(_ name: String) -> Bool { store.weightTensor(fullName(name)) != nil }
}

/// Where a model's weights live on the device, by bundle name (a `WeightStore`, or weights made by a recipe).
public protocol WeightSource {
    func weightTensor(_ name: String) -> Tensor?
}

extension WeightStore: WeightSource {
    public func weightTensor(_ name: String) -> Tensor? { try? tensor(name) }
}
