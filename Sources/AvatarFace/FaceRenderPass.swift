public import AvatarMedia
public import AvatarOperators
public import AvatarStages
import AvatarVulkan

/// One session's rasterizer: the whole frame (expression → vertices → normals → rasterize at ss× → shade →
/// I420) is one command sequence recorded once and replayed per frame; only the coefficients go up and the
/// I420 bytes come back. Also renders SECC maps (the MimicTalk renderer's input) on request.
public final class FaceRenderPass: FrameStage {
    public let renderer: FaceRenderer
    public let width: Int
    public let height: Int
    public let supersampling: Int
    /// Motion coefficient index → face expression column (nil = not driven).
    private let mapping: [Int?]
    private let arena: BufferArena
    private let coefficients: BufferSlice
    private let vertices: BufferSlice
    private let i420: BufferSlice
    private let sequence: CommandSequence

    /// `motionNames`: the names of the motion coefficients the session produces (mapped by name onto the face
    /// model's expression columns; with no names, coefficients are taken in the face model's order).
    /// `timestamps`: record GPU time per pass (`passTimings()`), for benchmarks.
    public init(renderer: FaceRenderer, width: Int, height: Int, supersampling: Int = 2, motionNames: [String] = [],
                background: (Float, Float, Float) = (0.80, 0.83, 0.86), timestamps: Bool = false) throws {
        guard width % 8 == 0, height % 2 == 0, width > 0, height > 0 else {
            throw FaceModelError("preview size \(width)×\(height) must have a width multiple of 8 and an even height")
        }
        self.renderer = renderer
        self.width = width
        self.height = height
        self.supersampling = supersampling
        let face = renderer.face
        mapping = motionNames.isEmpty ? (0..<face.expCount).map { $0 } : motionNames.map { face.expNames.firstIndex(of: $0) }
        let device = renderer.device, ops = renderer.ops
        let n = face.vertexCount
        let ws = width * supersampling, hs = height * supersampling
        let words = width * height * 3 / 2 / 4
        let floats = [renderer.paddedExpCount, 3 * n, 3 * n, 3 * n, ws * hs, ws * hs, 3 * width * height, words]
        arena = try BufferArena(device: device, byteCount: floats.map { ($0 * 4 + device.bufferAlignment) / device.bufferAlignment * device.bufferAlignment + device.bufferAlignment }.reduce(0, +))
        coefficients = try arena.allocate(floats: renderer.paddedExpCount)
        let delta = try arena.allocate(floats: 3 * n)
        vertices = try arena.allocate(floats: 3 * n)
        let normals = try arena.allocate(floats: 3 * n)
        let depth = try arena.allocate(floats: ws * hs)
        let faceBuffer = try arena.allocate(floats: ws * hs)
        let rgb = try arena.allocate(floats: 3 * width * height)
        i420 = try arena.allocate(floats: words)
        try coefficients.write([Float](repeating: 0, count: renderer.paddedExpCount))
        let camera = PreviewCamera.preview(width: ws, height: hs)
        sequence = try CommandSequence(device: device, timestamps: timestamps ? 8 : 0)
        func mark(_ label: String) throws { if timestamps { try sequence.timestamp(label) } }
        try mark("start")
        // delta[1, 3N] = coefficients[1, E4] · exp_basisᵀ (exp_basis is [3N, E4], a Linear weight's layout).
        try ops.matmul(sequence, a: coefficients, b: renderer.expBasis, c: delta, m: 1, n: 3 * n, k: renderer.paddedExpCount, transposeB: true)
        try ops.binary(sequence, .add, a: delta, b: renderer.base, y: vertices, count: 3 * n)
        try mark("vertices")
        try ops.vertexNormals(sequence, vertices: vertices, triangles: renderer.triangles, offsets: renderer.adjacencyOffsets,
                              adjacent: renderer.adjacency, normals: normals, vertexCount: n)
        try mark("normals")
        try ops.rasterize(sequence, vertices: vertices, triangles: renderer.triangles, triangleCount: face.triangleCount,
                          depth: depth, face: faceBuffer, width: ws, height: hs, camera: camera)
        try mark("rasterize")
        try ops.shadePreview(sequence, vertices: vertices, triangles: renderer.triangles, face: faceBuffer, normals: normals,
                             albedo: renderer.albedo, material: renderer.material, rgb: rgb, width: width, height: height,
                             supersampling: supersampling, camera: camera, zLip: renderer.zLip, background: background)
        try mark("shade")
        try ops.rgbToI420(sequence, rgb: rgb, i420: i420, width: width, height: height)
        try mark("i420")
    }

    /// GPU time per pass of the last frame (empty without `timestamps` or timestamp support).
    public func passTimings() -> [(label: String, seconds: Double)] { sequence.timings() }

    /// Renders one frame of motion.
    public func render(_ motion: MotionFrame) throws -> I420Frame {
        var exp = [Float](repeating: 0, count: renderer.paddedExpCount)
        for (i, column) in mapping.enumerated() where i < motion.coefficients.count {
            if let column { exp[column] = motion.coefficients[i] }
        }
        try coefficients.write(exp)
        try sequence.run()
        var bytes = [UInt8](repeating: 0, count: I420Frame.byteCount(width: width, height: height))
        try bytes.withUnsafeMutableBytes { try i420.read(into: $0) }
        return I420Frame(width: width, height: height, data: bytes)
    }
}
