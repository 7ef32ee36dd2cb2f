public import AvatarOperators
public import AvatarVulkan
import AvatarGraph

/// The read-only, per-avatar half of the SECC renderer (docs/avatars.md §4.1): the identity-applied mean shape,
/// the expression basis, `secc_triangles` (the eyes are holes) and the NCC on the device. Sessions render
/// through their own `SECCPass`.
public final class SECCRenderer: @unchecked Sendable {
    // @unchecked: immutable after init; the device buffers are only read by the passes.
    public let face: BFMFaceModel
    public let size: Int
    public let device: VulkanDevice
    public let ops: Operators
    /// The SECC camera at `size` px: u = S/2 + f·x/z', v = S/2 − f·y/z', z' = 10 − z, f = 1015·S/224 (§4.1).
    public let camera: RasterCamera
    let storage: DeviceBuffer
    /// exp_basis with its columns padded to a multiple of 4 ([3N, paddedExpCount]) for the vec4 matmul kernel.
    let expBasis: BufferSlice
    let paddedExpCount: Int
    let base: BufferSlice
    let triangles: BufferSlice
    let ncc: BufferSlice

    /// `identity`: the avatar's `idCount` identity coefficients (empty = the mean face). `size`: S of the
    /// [3, S, S] maps (512 in production).
    public init(face: BFMFaceModel, identity: [Float], size: Int, device: VulkanDevice, ops: Operators) throws {
        guard size > 0 else { throw FaceModelError("SECC size \(size) must be positive") }
        self.face = face
        self.size = size
        self.device = device
        self.ops = ops
        camera = PreviewCamera.secc(width: size, height: size)
        let n = face.vertexCount, e = face.expCount, e4 = (e + 3) / 4 * 4
        paddedExpCount = e4
        var padded = [Float](repeating: 0, count: 3 * n * e4)
        for r in 0..<(3 * n) { for k in 0..<e { padded[r * e4 + k] = face.expBasis[r * e + k] } }
        let neutral = try face.vertices(id: identity)
        let alignment = device.bufferAlignment
        func bytes(_ count: Int) -> Int { (max(count, 1) * 4 + alignment - 1) / alignment * alignment }
        let sizes = [padded.count, 3 * n, face.seccTriangles.count, 3 * n]
        storage = try DeviceBuffer(device: device, byteCount: sizes.map(bytes).reduce(0, +), placement: .hostMapped)
        var slices: [BufferSlice] = []
        var offset = 0
        for count in sizes {
            slices.append(BufferSlice(buffer: storage, offset: offset, byteCount: count * 4))
            offset += bytes(count)
        }
        expBasis = slices[0]; base = slices[1]; triangles = slices[2]; ncc = slices[3]
        try expBasis.write(padded)
        try base.write(neutral)
        try face.seccTriangles.withUnsafeBytes { try triangles.write(bytes: $0) }
        try ncc.write(face.ncc)
    }

    /// expression [1, E4] → vertices → face index [S, S] (uint32, 0xFFFFFFFF = none) → SECC [3, S, S].
    /// `excluded` [F] (uint32) is an input so one plan serves frames with and without the first-face quirk.
    func graph() throws -> Graph {
        let g = Graph(name: "secc", ops: ops)
        let n = face.vertexCount, f = face.seccTriangleCount
        let basis = try g.constant(expBasis, shape: [3 * n, paddedExpCount], .float32)
        let mean = try g.constant(base, shape: [3 * n], .float32)
        let tri = try g.constant(triangles, shape: [f, 3], .uint32)
        let colours = try g.constant(ncc, shape: [n, 3], .float32)
        let coefficients = try g.input("expression", [1, paddedExpCount])
        let excluded = try g.input("excluded", [f], .uint32)
        let vertices = try g.group("vertices") {
            try g.reshape(try g.add(try g.matmul(coefficients, basis, transposeB: true), mean), [n, 3])
        }
        let faces = try g.group("rasterize") {
            try g.rasterize(vertices, triangles: tri, width: size, height: size, camera: camera)
        }
        let secc = try g.group("secc") {
            try g.seccMap(vertices, triangles: tri, face: faces, excluded: excluded, ncc: colours, camera: camera)
        }
        try g.output("secc", secc)
        try g.output("faces", faces)
        return g
    }
}
