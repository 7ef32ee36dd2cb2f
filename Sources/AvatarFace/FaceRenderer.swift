public import AvatarGraph
public import AvatarOperators
public import AvatarVulkan
import Foundation

/// The read-only, per-avatar half of the rasterizer: a face model's static data on the device (expression
/// basis, identity-applied mean shape, triangles, NCC, excluded faces, linear albedo, specular and region per
/// vertex, vertex → faces adjacency). Sessions render through their own `FaceRenderPass`.
public final class FaceRenderer: @unchecked Sendable {
    // @unchecked: immutable after init; the device buffers are only read by the passes.
    public let face: FaceModel
    public let device: VulkanDevice
    public let ops: Operators
    let buffer: DeviceBuffer
    /// exp_basis with its columns padded to a multiple of 4 ([3N, paddedExpCount]) so the vertex update is one
    /// row-vector × matrix product on the engine's vec4 (texel) matmul kernel.
    let expBasis: BufferSlice
    let paddedExpCount: Int
    let base: BufferSlice
    let triangles: BufferSlice
    let excluded: BufferSlice
    let ncc: BufferSlice
    let albedo: BufferSlice
    let material: BufferSlice
    let adjacencyOffsets: BufferSlice
    let adjacency: BufferSlice
    /// `pose_weight` [N] of the pose rig (nil without one).
    let poseWeight: BufferSlice?
    /// Front-most z of the lips at neutral (the preview's mouth-interior occlusion reference).
    let zLip: Float

    public init(face: FaceModel, identity: [Float] = [], device: VulkanDevice, ops: Operators) throws {
        self.face = face
        self.device = device
        self.ops = ops
        let n = face.vertexCount, f = face.triangleCount
        var offsets = [UInt32](repeating: 0, count: n + 1)
        for v in face.triangles { offsets[Int(v) + 1] += 1 }
        for i in 0..<n { offsets[i + 1] += offsets[i] }
        var fill = offsets
        var adjacent = [UInt32](repeating: 0, count: face.triangles.count)
        for t in 0..<f {
            for k in 0..<3 {
                let v = Int(face.triangles[3 * t + k])
                adjacent[Int(fill[v])] = UInt32(t)
                fill[v] += 1
            }
        }
        var excludedFlags = [UInt32](repeating: 0, count: f)
        for t in face.eyeFaces { excludedFlags[t] = 1 }
        func toLinear(_ c: Float) -> Float { c <= 0.04045 ? c / 12.92 : Float(Foundation.pow((Double(c) + 0.055) / 1.055, 2.4)) }
        let linearAlbedo = face.vertexColor.map(toLinear)
        var materials = [Float](repeating: 0, count: 2 * n)
        for v in 0..<n {
            materials[2 * v] = face.regionSpecular[face.vertexRegion[v]]
            materials[2 * v + 1] = Float(face.vertexRegion[v])
        }
        let neutral = face.vertices(id: identity)
        let lipZ = (0..<n).filter { face.vertexRegion[$0] == 1 }.map { neutral[3 * $0 + 2] }
        zLip = lipZ.max() ?? (0..<n).map { neutral[3 * $0 + 2] }.max() ?? 0

        let alignment = device.bufferAlignment
        func bytes(_ count: Int) -> Int { (max(count, 1) * 4 + alignment - 1) / alignment * alignment }
        let e = face.expCount, e4 = (e + 3) / 4 * 4
        paddedExpCount = e4
        var padded = [Float](repeating: 0, count: 3 * n * e4)
        for r in 0..<(3 * n) { for k in 0..<e { padded[r * e4 + k] = face.expBasis[r * e + k] } }
        let sizes = [padded.count, 3 * n, 3 * f, f, 3 * n, 3 * n, 2 * n, n + 1, adjacent.count, face.poseWeight == nil ? 0 : n]
        let storage = try DeviceBuffer(device: device, byteCount: sizes.map(bytes).reduce(0, +), placement: .hostMapped)
        var slices: [BufferSlice] = []
        var offset = 0
        for count in sizes {
            slices.append(BufferSlice(buffer: storage, offset: offset, byteCount: count * 4))
            offset += bytes(count)
        }
        buffer = storage
        expBasis = slices[0]; base = slices[1]; triangles = slices[2]; excluded = slices[3]
        ncc = slices[4]; albedo = slices[5]; material = slices[6]
        adjacencyOffsets = slices[7]; adjacency = slices[8]
        poseWeight = face.poseWeight == nil ? nil : slices[9]
        try expBasis.write(padded)
        try base.write(neutral)
        try Self.write(face.triangles, to: triangles)
        try Self.write(excludedFlags, to: excluded)
        try ncc.write(face.ncc)
        try albedo.write(linearAlbedo)
        try material.write(materials)
        try Self.write(offsets, to: adjacencyOffsets)
        try Self.write(adjacent, to: adjacency)
        if let poseWeight, let weights = face.poseWeight { try poseWeight.write(weights) }
    }

    static func write(_ values: [UInt32], to slice: BufferSlice) throws {
        try values.withUnsafeBytes { try slice.write(bytes: $0) }
    }
}

/// The renderer's device data as constants of one graph.
struct FaceGraphConstants {
    let expBasis, base, triangles, excluded, ncc, albedo, material, adjacencyOffsets, adjacency: GraphValue
    let poseWeight: GraphValue?
}

extension FaceRenderer {
    func graphConstants(_ g: Graph) throws -> FaceGraphConstants {
        let n = face.vertexCount, f = face.triangleCount
        return FaceGraphConstants(
            expBasis: try g.constant(expBasis, shape: [3 * n, paddedExpCount], .float32),
            base: try g.constant(base, shape: [3 * n], .float32),
            triangles: try g.constant(triangles, shape: [f, 3], .uint32),
            excluded: try g.constant(excluded, shape: [f], .uint32),
            ncc: try g.constant(ncc, shape: [n, 3], .float32),
            albedo: try g.constant(albedo, shape: [n, 3], .float32),
            material: try g.constant(material, shape: [n, 2], .float32),
            adjacencyOffsets: try g.constant(adjacencyOffsets, shape: [n + 1], .uint32),
            adjacency: try g.constant(adjacency, shape: [3 * f], .uint32),
            poseWeight: try poseWeight.map { try g.constant($0, shape: [n], .float32) })
    }

    /// Vertices [N, 3] of expression `exp` (in the face model's column order, missing = 0) turned by `rotation`, computed
    /// on the device by the frame's own passes (expression, then the pose rig); the posed geometry the preview shades.
    public func posedVertices(exp: [Float], rotation: HeadRotation) throws -> [Float] {
        guard let pivot = face.posePivot else { throw FaceModelError("the face model has no tensor 'pose_pivot' / 'pose_weight' (no pose rig)") }
        let g = Graph(name: "posed_vertices", ops: ops)
        let c = try graphConstants(g)
        let coefficients = try g.input("coefficients", [1, paddedExpCount])
        let pose = try g.input("pose", [12])
        try g.output("vertices", try posedVertices(g, constants: c, coefficients: coefficients, pose: pose))
        let network = try g.plan()
        var padded = [Float](repeating: 0, count: paddedExpCount)
        for (k, value) in exp.prefix(face.expCount).enumerated() { padded[k] = value }
        try network.write("coefficients", padded)
        try network.write("pose", rotation.passValues(pivot: pivot))
        try network.run()
        return try network.read("vertices")
    }

    /// Expression pass (V = base + exp_basis·exp), then the pose rig when `pose` is given.
    func posedVertices(_ g: Graph, constants c: FaceGraphConstants, coefficients: GraphValue, pose: GraphValue?) throws -> GraphValue {
        let n = face.vertexCount
        let vertices = try g.group("vertices") {
            try g.reshape(try g.add(try g.matmul(coefficients, c.expBasis, transposeB: true), c.base), [n, 3])
        }
        guard let pose else { return vertices }
        guard let weights = c.poseWeight else { throw FaceModelError("the face model has no tensor 'pose_weight' (no pose rig)") }
        return try g.group("pose") { try g.headPose(vertices, weights: weights, pose: pose) }
    }

    /// SECC map [3, H, W] (spec §4.2) of the given vertices [N, 3] with the SECC camera. No pose is applied here:
    /// callers pass canonical vertices (or, in tests, posed ones from `posedVertices`).
    public func seccMap(vertices: [Float], width: Int, height: Int) throws -> [Float] {
        guard vertices.count == 3 * face.vertexCount else {
            throw FaceModelError("secc needs \(3 * face.vertexCount) vertex values, got \(vertices.count)")
        }
        let g = Graph(name: "secc", ops: ops)
        let c = try graphConstants(g)
        let v = try g.input("vertices", [face.vertexCount, 3])
        let camera = PreviewCamera.secc(width: width, height: height)
        let faces = try g.rasterize(v, triangles: c.triangles, width: width, height: height, camera: camera)
        try g.output("secc", try g.seccMap(v, triangles: c.triangles, face: faces, excluded: c.excluded, ncc: c.ncc, camera: camera))
        let network = try g.plan()
        try network.write("vertices", vertices)
        try network.run()
        return try network.read("secc")
    }
}
