public import AvatarFormats
public import AvatarOperators
public import AvatarStages
import AvatarGraph
import AvatarVulkan

/// One session's rasterizer: the whole frame (expression → vertices → head pose → normals → rasterize at ss× →
/// shade → I420) is a graph planned once per slot and replayed per frame; only the coefficients (and the 12 pose
/// values) go up and the I420 bytes come back. The lights stay fixed to the camera while the head turns. Two slots keep two frames in flight (`submit` / `complete`).
public final class FaceRenderPass: FrameStage {
    public let renderer: FaceRenderer
    public let width: Int
    public let height: Int
    public let supersampling: Int
    /// Motion coefficient index → face expression column (nil = not driven).
    private let mapping: [Int?]
    /// Motion coefficient indices of head_pitch, head_yaw, head_roll (nil = not driven, 0); empty when the session
    /// drives no head pose (the frame then has no pose pass).
    private let poseIndices: [Int?]
    private let slots: [GraphNetwork]
    private var submitted = 0
    private var completed = 0

    public var framesInFlight: Int { slots.count }

    /// `motionNames`: the names of the motion coefficients the session produces (mapped by name onto the face
    /// model's expression columns; with no names, coefficients are taken in the face model's order). Names
    /// `head_pitch`, `head_yaw`, `head_roll` (`HeadRotation`, 1 = 10°) drive the face model's pose rig; a face model
    /// without one (no `pose_pivot` / `pose_weight`) refuses them.
    /// `timestamps`: record GPU time per pass (`passTimings()`), for benchmarks.
    public init(renderer: FaceRenderer, width: Int, height: Int, supersampling: Int = 2, motionNames: [String] = [],
                background: (Float, Float, Float) = (0.80, 0.83, 0.86), timestamps: Bool = false, framesInFlight: Int = 2) throws {
        guard width % 8 == 0, height % 2 == 0, width > 0, height > 0 else {
            throw FaceModelError("preview size \(width)×\(height) must have a width multiple of 8 and an even height")
        }
        self.renderer = renderer
        self.width = width
        self.height = height
        self.supersampling = supersampling
        let face = renderer.face
        mapping = motionNames.isEmpty ? (0..<face.expCount).map { $0 } : motionNames.map { face.expNames.firstIndex(of: $0) }
        let pose = HeadRotation.motionNames.map { motionNames.firstIndex(of: $0) }
        poseIndices = pose.contains { $0 != nil } ? pose : []
        if !poseIndices.isEmpty && !face.hasPoseRig {
            let driven = HeadRotation.motionNames.filter(motionNames.contains).joined(separator: ", ")
            throw FaceModelError("motion names \(driven) drive the head pose, but the face model has no tensors 'pose_pivot' and "
                                 + "'pose_weight' (its pose rig; tools/demo/make_head.py writes them)")
        }
        let graph = try Self.graph(renderer: renderer, width: width, height: height, supersampling: supersampling, background: background,
                                   posed: !poseIndices.isEmpty)
        slots = try (0..<max(1, framesInFlight)).map { _ in try graph.plan(GraphPlanOptions(timestamps: timestamps)) }
        for slot in slots {
            try slot.write("coefficients", [Float](repeating: 0, count: renderer.paddedExpCount))
            if let pivot = face.posePivot, !poseIndices.isEmpty { try slot.write("pose", HeadRotation.identity.passValues(pivot: pivot)) }
        }
    }

    /// The frame as a graph (one line a pass).
    static func graph(renderer r: FaceRenderer, width: Int, height: Int, supersampling ss: Int,
                      background: (Float, Float, Float), posed: Bool = false) throws -> Graph {
        let g = Graph(name: "preview", ops: r.ops)
        let constants = try r.graphConstants(g)
        let coefficients = try g.input("coefficients", [1, r.paddedExpCount])
        let pose = posed ? try g.input("pose", [12]) : nil
        let camera = PreviewCamera.preview(width: width * ss, height: height * ss)
        let vertices = try r.posedVertices(g, constants: constants, coefficients: coefficients, pose: pose)
        let normals = try g.group("normals") {
            try g.vertexNormals(vertices, triangles: constants.triangles, offsets: constants.adjacencyOffsets, adjacent: constants.adjacency)
        }
        let face = try g.group("rasterize") {
            try g.rasterize(vertices, triangles: constants.triangles, width: width * ss, height: height * ss, camera: camera)
        }
        let rgb = try g.group("shade") {
            try g.shadePreview(vertices, triangles: constants.triangles, face: face, normals: normals, albedo: constants.albedo,
                               material: constants.material, width: width, height: height, supersampling: ss, camera: camera,
                               zLip: r.zLip, background: background)
        }
        try g.output("i420", try g.group("i420") { try g.rgbToI420(rgb) })
        return g
    }

    /// GPU time per pass of the last completed frame (empty without `timestamps` or timestamp support).
    public func passTimings() -> [(label: String, seconds: Double)] {
        slots[(completed + slots.count - 1) % slots.count].groupTimings().map { ($0.group, $0.seconds) }
    }

    /// Starts rendering one frame of motion (waits first when every slot is in flight).
    public func submit(_ motion: MotionFrame) throws {
        guard submitted - completed < slots.count else {
            throw FaceModelError("\(slots.count) frames are in flight; complete one before submitting another")
        }
        var exp = [Float](repeating: 0, count: renderer.paddedExpCount)
        for (i, column) in mapping.enumerated() where i < motion.coefficients.count {
            if let column { exp[column] = motion.coefficients[i] }
        }
        let slot = slots[submitted % slots.count]
        try slot.write("coefficients", exp)
        if !poseIndices.isEmpty, let pivot = renderer.face.posePivot {
            let angles = poseIndices.map { index in index.flatMap { $0 < motion.coefficients.count ? motion.coefficients[$0] : nil } ?? 0 }
            try slot.write("pose", HeadRotation(motionUnits: angles[0], yaw: angles[1], roll: angles[2]).passValues(pivot: pivot))
        }
        try slot.submit()
        submitted += 1
    }

    /// Waits for the oldest submitted frame and reads it back.
    public func complete() throws -> I420Frame {
        guard completed < submitted else { throw FaceModelError("no frame was submitted") }
        let slot = slots[completed % slots.count]
        completed += 1
        try slot.wait()
        var bytes = [UInt8](repeating: 0, count: I420Frame.byteCount(width: width, height: height))
        try bytes.withUnsafeMutableBytes { try slot.read("i420", into: $0) }
        return I420Frame(width: width, height: height, data: bytes)
    }
}
