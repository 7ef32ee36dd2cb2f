public import AvatarVulkan

/// A pinhole camera in pixels: u = cx + f·x/(distance − z), v = cy − f·y/(distance − z).
public struct RasterCamera: Sendable, Equatable {
    public var focal: Float
    public var cx: Float
    public var cy: Float
    public var distance: Float

    public init(focal: Float, cx: Float, cy: Float, distance: Float) {
        self.focal = focal
        self.cx = cx
        self.cy = cy
        self.distance = distance
    }
}

extension Operators {
    /// Triangle rasterization into a face-index buffer (uint per pixel, 0xFFFFFFFF = none): clear, nearest
    /// depth per pixel, then the lowest triangle index at exactly that depth (tools/demo/raster_ref.py rules).
    /// `vertices` [N, 3] floats, `triangles` [F, 3] uint32, `depth`/`face` scratch of width·height words.
    public func rasterize(_ seq: CommandSequence, vertices: BufferSlice, triangles: BufferSlice, triangleCount: Int,
                          depth: BufferSlice, face: BufferSlice, width: Int, height: Int, camera: RasterCamera) throws {
        try check(width > 0 && height > 0 && triangleCount > 0, "rasterize \(triangleCount) triangles at \(width)×\(height)")
        try check(depth.count >= width * height && face.count >= width * height, "rasterize buffers hold fewer than \(width)×\(height)")
        try check(triangles.count >= 3 * triangleCount, "rasterize triangle buffer too small")
        let clear = try library.pipeline(Shader.rasterClear)
        try seq.dispatch(clear, buffers: [depth, face], push: RasterCountPush(n: Self.u(width * height)),
                         groups: Self.groups(width * height, local: 256))
        let push = RasterTrianglesPush(triangles: Self.u(triangleCount), width: Self.u(width), height: Self.u(height),
                                       f: camera.focal, cx: camera.cx, cy: camera.cy, distance: camera.distance)
        for pass in [Shader.rasterDepth, Shader.rasterFace] {
            let pipeline = try library.pipeline(pass)
            try seq.dispatch(pipeline, buffers: [vertices, triangles, depth, face], push: push, groups: Self.groups(triangleCount, local: 64))
        }
    }

    /// SECC map [3, H, W] from a face buffer (background and `excluded` faces → −1).
    public func seccMap(_ seq: CommandSequence, vertices: BufferSlice, triangles: BufferSlice, face: BufferSlice,
                        excluded: BufferSlice, ncc: BufferSlice, y: BufferSlice, width: Int, height: Int, camera: RasterCamera) throws {
        try check(y.count >= 3 * width * height, "secc output holds fewer than 3×\(width)×\(height)")
        let pipeline = try library.pipeline(Shader.rasterSecc)
        let push = RasterSECCPush(width: Self.u(width), height: Self.u(height), f: camera.focal, cx: camera.cx, cy: camera.cy,
                                  distance: camera.distance)
        try seq.dispatch(pipeline, buffers: [vertices, triangles, face, excluded, ncc, y], push: push,
                         groups: Self.groups(width * height, local: 64))
    }

    /// Area-weighted vertex normals over a vertex → faces adjacency (CSR `offsets` [N+1], `adjacent`).
    public func vertexNormals(_ seq: CommandSequence, vertices: BufferSlice, triangles: BufferSlice, offsets: BufferSlice,
                              adjacent: BufferSlice, normals: BufferSlice, vertexCount: Int) throws {
        try check(normals.count >= 3 * vertexCount && offsets.count >= vertexCount + 1, "vertex normals sizes")
        let pipeline = try library.pipeline(Shader.rasterNormals)
        try seq.dispatch(pipeline, buffers: [vertices, triangles, offsets, adjacent, normals], push: RasterCountPush(n: Self.u(vertexCount)),
                         groups: Self.groups(vertexCount, local: 64))
    }

    /// Head pose of a face model's rig: posed = v + w·(R(v − p) − (v − p)) per vertex. `vertices`/`posed` [N, 3],
    /// `weights` [N], `pose` 12 floats: R row-major (9) then the pivot p (3), read by the shader at run time.
    public func headPose(_ seq: CommandSequence, vertices: BufferSlice, weights: BufferSlice, pose: BufferSlice, posed: BufferSlice,
                         vertexCount: Int) throws {
        try check(vertices.count >= 3 * vertexCount && posed.count >= 3 * vertexCount && weights.count >= vertexCount && pose.count >= 12,
                  "head pose of \(vertexCount) vertices: vertices \(vertices.count), weights \(weights.count), pose \(pose.count) (needs 12), "
                  + "posed \(posed.count)")
        let pipeline = try library.pipeline(Shader.rasterPose)
        try seq.dispatch(pipeline, buffers: [vertices, weights, pose, posed], push: RasterCountPush(n: Self.u(vertexCount)),
                         groups: Self.groups(vertexCount, local: 64))
    }

    /// The shaded preview at width×height from a face buffer rasterized at (width·ss)×(height·ss) with the
    /// same camera scaled by ss; output sRGB [H, W, 3] in [0, 1].
    public func shadePreview(_ seq: CommandSequence, vertices: BufferSlice, triangles: BufferSlice, face: BufferSlice,
                             normals: BufferSlice, albedo: BufferSlice, material: BufferSlice, rgb: BufferSlice,
                             width: Int, height: Int, supersampling ss: Int, camera: RasterCamera, zLip: Float,
                             background: (Float, Float, Float)) throws {
        try check(ss >= 1 && ss <= 4, "supersampling \(ss) must be 1…4")
        try check(rgb.count >= 3 * width * height && face.count >= width * height * ss * ss, "shade sizes")
        let pipeline = try library.pipeline(Shader.rasterShade)
        let push = RasterShadePush(width: Self.u(width), height: Self.u(height), ss: Self.u(ss), f: camera.focal, cx: camera.cx,
                                   cy: camera.cy, distance: camera.distance, zLip: zLip,
                                   bgR: background.0, bgG: background.1, bgB: background.2)
        try seq.dispatch(pipeline, buffers: [vertices, triangles, face, normals, albedo, material, rgb], push: push,
                         groups: Self.groups(width * height, local: 64),
                         texelFormats: [0: .r32f, 1: .r32ui, 2: .r32ui, 3: .r32f, 4: .r32f, 5: .r32f])
    }

    /// sRGB [H, W, 3] → I420 bytes (BT.601 limited range) packed 4 per word; W must be a multiple of 8.
    public func rgbToI420(_ seq: CommandSequence, rgb: BufferSlice, i420: BufferSlice, width: Int, height: Int) throws {
        try check(width % 8 == 0 && height % 2 == 0, "I420 conversion needs a width multiple of 8 and an even height, got \(width)×\(height)")
        let words = width * height * 3 / 2 / 4
        try check(i420.count >= words && rgb.count >= 3 * width * height, "I420 conversion sizes")
        let pipeline = try library.pipeline(Shader.rgbToI420)
        try seq.dispatch(pipeline, buffers: [rgb, i420], push: RasterSizePush(width: Self.u(width), height: Self.u(height)),
                         groups: Self.groups(words, local: 64))
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

/// Push constants of the rasterizer shaders (Shaders/raster_*.comp, rgb_to_i420.comp), in the shaders' order.
public struct RasterCountPush: PushConstantBlock {
    public var n: UInt32
    public static let shaderSize = 4
}

public struct RasterTrianglesPush: PushConstantBlock {
    public var triangles, width, height: UInt32
    public var f, cx, cy, distance: Float
    public static let shaderSize = 28
}

public struct RasterSECCPush: PushConstantBlock {
    public var width, height: UInt32
    public var f, cx, cy, distance: Float
    public static let shaderSize = 24
}

public struct RasterShadePush: PushConstantBlock {
    public var width, height, ss: UInt32
    public var f, cx, cy, distance, zLip, bgR, bgG, bgB: Float
    public static let shaderSize = 44
}

public struct RasterSizePush: PushConstantBlock {
    public var width, height: UInt32
    public static let shaderSize = 8
}
