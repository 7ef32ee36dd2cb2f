public import AvatarOperators

extension Graph {
    /// Area-weighted vertex normals [N, 3] of vertices [N, 3] over the vertex → faces adjacency (CSR `offsets`
    /// [N+1], `adjacent`, uint32).
    public func vertexNormals(_ vertices: GraphValue, triangles: GraphValue, offsets: GraphValue, adjacent: GraphValue) throws -> GraphValue {
        let n = vertices.shape[0]
        try require(vertices.rank == 2 && vertices.shape[1] == 3 && offsets.count == n + 1, "vertex_normals",
                    "vertices \(vertices.shape), offsets \(offsets.shape)")
        let ops = self.ops
        return try node("vertex_normals", reads: [vertices, triangles, offsets, adjacent], output: [n, 3]) { seq, b, y in
            try ops.vertexNormals(seq, vertices: b[vertices], triangles: b[triangles], offsets: b[offsets], adjacent: b[adjacent],
                                  normals: b[y], vertexCount: n)
        }
    }

    /// Vertices [N, 3] turned by a head pose: v + w·(R(v − p) − (v − p)) with per-vertex `weights` [N] and
    /// `pose` [12] (R row-major, then the pivot p), typically a per-frame input so the plan replays with new angles.
    public func headPose(_ vertices: GraphValue, weights: GraphValue, pose: GraphValue) throws -> GraphValue {
        let n = vertices.shape[0]
        try require(vertices.rank == 2 && vertices.shape[1] == 3 && weights.count == n && pose.count == 12, "head_pose",
                    "vertices \(vertices.shape), weights \(weights.shape), pose \(pose.shape) (needs 12 values)")
        let ops = self.ops
        return try node("head_pose", reads: [vertices, weights, pose], output: [n, 3]) { seq, b, y in
            try ops.headPose(seq, vertices: b[vertices], weights: b[weights], pose: b[pose], posed: b[y], vertexCount: n)
        }
    }

    /// Face index per pixel [height, width] (uint32, 0xFFFFFFFF = none) of triangles [F, 3] over vertices [N, 3]
    /// seen by `camera`: nearest depth, then the lowest triangle at that depth.
    public func rasterize(_ vertices: GraphValue, triangles: GraphValue, width: Int, height: Int, camera: RasterCamera) throws -> GraphValue {
        try require(vertices.rank == 2 && vertices.shape[1] == 3 && triangles.rank == 2 && triangles.shape[1] == 3
                    && triangles.elementType == .uint32, "rasterize", "vertices \(vertices.shape), triangles \(triangles.shape) \(triangles.elementType)")
        let count = triangles.shape[0]
        let ops = self.ops
        let produced = try node("rasterize", reads: [vertices, triangles], outputs: [[height, width], [height, width]],
                                types: [.uint32, .uint32]) { _, _ in }
        let (face, depth) = (produced[0], produced[1])
        nodes[nodes.count - 1].record = { seq, b in
            try ops.rasterize(seq, vertices: b[vertices], triangles: b[triangles], triangleCount: count, depth: b[depth], face: b[face],
                              width: width, height: height, camera: camera)
        }
        return face
    }

    /// SECC map [3, H, W] from a face buffer (background and `excluded` faces → −1).
    public func seccMap(_ vertices: GraphValue, triangles: GraphValue, face: GraphValue, excluded: GraphValue, ncc: GraphValue,
                        camera: RasterCamera) throws -> GraphValue {
        let (h, w) = (face.shape[0], face.shape[1])
        try require(face.rank == 2 && ncc.shape == vertices.shape, "secc_map", "face \(face.shape), ncc \(ncc.shape), vertices \(vertices.shape)")
        let ops = self.ops
        return try node("secc_map", reads: [vertices, triangles, face, excluded, ncc], output: [3, h, w]) { seq, b, y in
            try ops.seccMap(seq, vertices: b[vertices], triangles: b[triangles], face: b[face], excluded: b[excluded], ncc: b[ncc], y: b[y],
                            width: w, height: h, camera: camera)
        }
    }

    /// The shaded preview [H, W, 3] (sRGB in [0, 1]) from a face buffer rasterized at ss× the size.
    public func shadePreview(_ vertices: GraphValue, triangles: GraphValue, face: GraphValue, normals: GraphValue, albedo: GraphValue,
                             material: GraphValue, width: Int, height: Int, supersampling ss: Int, camera: RasterCamera, zLip: Float,
                             background: (Float, Float, Float)) throws -> GraphValue {
        try require(face.shape == [height * ss, width * ss] && normals.shape == vertices.shape && albedo.shape == vertices.shape,
                    "shade_preview", "face \(face.shape) for \(width)×\(height) ss \(ss), normals \(normals.shape), albedo \(albedo.shape)")
        let ops = self.ops
        return try node("shade_preview", reads: [vertices, triangles, face, normals, albedo, material], output: [height, width, 3]) { seq, b, y in
            try ops.shadePreview(seq, vertices: b[vertices], triangles: b[triangles], face: b[face], normals: b[normals], albedo: b[albedo],
                                 material: b[material], rgb: b[y], width: width, height: height, supersampling: ss, camera: camera,
                                 zLip: zLip, background: background)
        }
    }

    /// sRGB [H, W, 3] → I420 bytes (BT.601 limited range), packed 4 per uint32.
    public func rgbToI420(_ rgb: GraphValue) throws -> GraphValue {
        try require(rgb.rank == 3 && rgb.shape[2] == 3 && rgb.shape[1] % 8 == 0 && rgb.shape[0] % 2 == 0, "rgb_to_i420",
                    "rgb \(rgb.shape) needs a width multiple of 8 and an even height")
        let (h, w) = (rgb.shape[0], rgb.shape[1])
        let ops = self.ops
        return try node("rgb_to_i420", reads: [rgb], output: [w * h * 3 / 2 / 4], type: .uint32) { seq, b, y in
            try ops.rgbToI420(seq, rgb: b[rgb], i420: b[y], width: w, height: h)
        }
    }
}
