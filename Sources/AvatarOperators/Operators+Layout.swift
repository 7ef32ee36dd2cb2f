public import AvatarVulkan

extension Operators {
    /// Strided copy over an index space of up to 4 dimensions (outermost first): element i of the space is
    /// read at srcOffset + Σ i_k·srcStrides_k and written at dstOffset + Σ i_k·dstStrides_k (elements).
    /// The sequence orders it by the element ranges it touches, so copies into disjoint parts of one buffer (the
    /// parts of a concat) need no barrier between them.
    /// `xType`/`yType` pick fp32 or fp16 storage on either side (a copy between the two converts).
    public func copy(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, shape: [Int], srcStrides: [Int], dstStrides: [Int],
                     srcOffset: Int = 0, dstOffset: Int = 0, xType: Tensor.ElementType = .float32, yType: Tensor.ElementType = .float32) throws {
        try check(!shape.isEmpty && shape.count <= 4 && srcStrides.count == shape.count && dstStrides.count == shape.count,
                  "copy takes 1–4 dimensions with matching strides")
        try check(shape.allSatisfy { $0 > 0 } && srcOffset >= 0 && dstOffset >= 0, "copy shape \(shape)")
        func extent(_ strides: [Int], _ offset: Int) -> Int { offset + zip(shape, strides).map { ($0 - 1) * $1 }.reduce(0, +) + 1 }
        let (xn, yn) = (Self.elements(x, xType), Self.elements(y, yType))
        try check(extent(srcStrides, srcOffset) <= xn, "copy reads past the source (\(xn) elements)")
        try check(extent(dstStrides, dstOffset) <= yn, "copy writes past the destination (\(yn) elements)")
        let pad = 4 - shape.count
        let s = [Int](repeating: 1, count: pad) + shape
        let a = [Int](repeating: 0, count: pad) + srcStrides
        let b = [Int](repeating: 0, count: pad) + dstStrides
        let pipeline = try library.pipeline(Self.copyVariant(x: xType, y: yType))
        let push = CopyPush(s0: Self.u(s[0]), s1: Self.u(s[1]), s2: Self.u(s[2]), s3: Self.u(s[3]),
                            a0: Self.u(a[0]), a1: Self.u(a[1]), a2: Self.u(a[2]), a3: Self.u(a[3]),
                            b0: Self.u(b[0]), b1: Self.u(b[1]), b2: Self.u(b[2]), b3: Self.u(b[3]),
                            srcOffset: Self.u(srcOffset), dstOffset: Self.u(dstOffset))
        let lowest = { (strides: [Int], offset: Int) in offset + zip(shape, strides).map { min(0, ($0 - 1) * $1) }.reduce(0, +) }
        try seq.dispatch(pipeline, buffers: [x, y], push: push, groups: Self.groups(shape.reduce(1, *), local: 256),
                         touched: [0: (lowest(srcStrides, srcOffset) * xType.byteSize)..<(extent(srcStrides, srcOffset) * xType.byteSize),
                                   1: (lowest(dstStrides, dstOffset) * yType.byteSize)..<(extent(dstStrides, dstOffset) * yType.byteSize)])
    }

    /// Row-major strides of a shape.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// y = x.permute(order) for x of `shape` (≤ 4 dimensions), written contiguously.
    public func permute(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, shape: [Int], order: [Int]) throws {
        try check(order.sorted() == Array(shape.indices), "permute order \(order) for \(shape.count) dimensions")
        let src = Self.strides(shape)
        let outShape = order.map { shape[$0] }
        try copy(seq, x: x, y: y, shape: outShape, srcStrides: order.map { src[$0] }, dstStrides: Self.strides(outShape))
    }

    /// y = x[..., start..<start+length, ...] along `axis`, written contiguously.
    public func slice(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, shape: [Int], axis: Int, start: Int, length: Int) throws {
        try check(axis >= 0 && axis < shape.count && start >= 0 && length > 0 && start + length <= shape[axis],
                  "slice \(start)..<\(start + length) of axis \(axis) in \(shape)")
        let src = Self.strides(shape)
        var outShape = shape
        outShape[axis] = length
        try copy(seq, x: x, y: y, shape: outShape, srcStrides: src, dstStrides: Self.strides(outShape), srcOffset: start * src[axis])
    }

    /// y = cat(parts, axis): each part (buffer, shape) is copied into its place (one dispatch per part; along
    /// axis 0 the parts are disjoint ranges and need no barrier between them).
    public func concat(_ seq: CommandSequence, parts: [(BufferSlice, [Int])], y: BufferSlice, axis: Int, type: Tensor.ElementType = .float32) throws {
        guard let first = parts.first?.1 else { throw OperatorError.shape("concat of nothing") }
        try check(axis >= 0 && axis < first.count, "concat axis \(axis) for rank \(first.count)")
        for (_, s) in parts {
            try check(s.count == first.count && s.indices.allSatisfy { $0 == axis || s[$0] == first[$0] }, "concat shapes \(parts.map(\.1))")
        }
        var outShape = first
        outShape[axis] = parts.map { $0.1[axis] }.reduce(0, +)
        let dst = Self.strides(outShape)
        var offset = 0
        for (buffer, s) in parts {
            try copy(seq, x: buffer, y: y, shape: s, srcStrides: Self.strides(s), dstStrides: dst, dstOffset: offset * dst[axis],
                     xType: type, yType: type)
            offset += s[axis]
        }
    }

    public enum ScanOp: String, Sendable { case sum = "cumsum", product = "cumprod" }

    /// Cumulative sum or product along rows of x [rows, d]; `exclusive` shifts by one (first = 0 or 1).
    public func cumulative(_ seq: CommandSequence, _ op: ScanOp, x: BufferSlice, y: BufferSlice, rows: Int, d: Int,
                           exclusive: Bool = false) throws {
        try check(rows > 0 && d > 0 && x.count >= rows * d && y.count >= rows * d, "\(op.rawValue) sizes")
        let pipeline = try library.pipeline(op == .sum ? Shader.cumsum : Shader.cumprod)
        try seq.dispatch(pipeline, buffers: [x, y], push: ScanPush(rows: Self.u(rows), d: Self.u(d), exclusive: exclusive ? 1 : 0),
                         groups: Self.groups(rows, local: 64))
    }

    /// Sorts each row of x [rows, d ≤ 128]: values into `y`, source indices (UInt32) into `indices`. Stable.
    public func sortRows(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, indices: BufferSlice, rows: Int, d: Int,
                         descending: Bool = false) throws {
        try check(rows > 0 && d > 0 && d <= 128, "sortRows sorts rows of 1…128 elements, got \(d)")
        try check(x.count >= rows * d && y.count >= rows * d && indices.byteCount >= rows * d * 4, "sortRows sizes")
        let pipeline = try library.pipeline(Shader.sortRows)
        try seq.dispatch(pipeline, buffers: [x, y, indices],
                         push: SortRowsPush(rows: Self.u(rows), d: Self.u(d), descending: descending ? 1 : 0),
                         groups: Self.groups(rows, local: 1))
    }

    /// torch.searchsorted per row: sorted [rows, ns], values [rows, nq] → indices [rows, nq] (UInt32).
    public func searchSorted(_ seq: CommandSequence, sorted: BufferSlice, values: BufferSlice, indices: BufferSlice,
                             rows: Int, sortedCount ns: Int, queryCount nq: Int, right: Bool) throws {
        try check(rows > 0 && ns > 0 && nq > 0, "searchSorted over an empty shape")
        try check(sorted.count >= rows * ns && values.count >= rows * nq && indices.byteCount >= rows * nq * 4, "searchSorted sizes")
        let pipeline = try library.pipeline(right ? Shader.searchsortedRight : Shader.searchsortedLeft)
        try seq.dispatch(pipeline, buffers: [sorted, values, indices],
                         push: SearchSortedPush(rows: Self.u(rows), ns: Self.u(ns), nq: Self.u(nq)),
                         groups: Self.groups(rows * nq, local: 64))
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

public struct CopyPush: PushConstantBlock {
    public var s0, s1, s2, s3: UInt32
    public var a0, a1, a2, a3: UInt32
    public var b0, b1, b2, b3: UInt32
    public var srcOffset, dstOffset: UInt32
    public static let shaderSize = 56
}

public struct ScanPush: PushConstantBlock {
    public var rows, d, exclusive: UInt32
    public static let shaderSize = 12
}

public struct SortRowsPush: PushConstantBlock {
    public var rows, d, descending: UInt32
    public static let shaderSize = 12
}

public struct SearchSortedPush: PushConstantBlock {
    public var rows, ns, nq: UInt32
    public static let shaderSize = 12
}
