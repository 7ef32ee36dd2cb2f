public import AvatarGraph

/// The motion adapter (docs/renderer.md §1, reference `Renderer.secc_planes_raw`): SECC → prenet (1×1) → mit_b0
/// (MixVisionTransformer, 4 stages) → SegFormer head → to_plane_cnn → planes [3, hid·D, P, P], plus the learnable
/// tri-plane. Transformer tokens are [N, C] rows (N = H·W, row-major pixels); the convolutions inside (patch
/// embeddings, spatial reduction, Mix-FFN depthwise) run on [C, H, W] images, converted with one permute each way.
extension RendererGraphBuilder {
    /// to_plane_cnn output [3, hid·D, P, P] (bundle orientation, unflipped) from secc [secc_in, img, img]
    /// (channels: cond_cano, cond_src, cond_tgt for secc_in 9; cano, tgt for 6).
    public func seccPlanesRaw(_ secc: GraphValue) throws -> GraphValue {
        guard secc.shape == [c.seccIn, c.img, c.img] else {
            throw GraphError("\(g.name): motion adapter input secc is \(secc.shape), the config implies \([c.seccIn, c.img, c.img])")
        }
        return try g.group("motion_adapter") {
            let prenet = try conv(secc, Self.secc + "prenet.", out: 3, kernel: 1)
            var image = prenet
            var stages: [MixStageOutput] = []
            for s in 0..<4 {
                let out = try g.group("mit_stage\(s + 1)") { try mixStage(image, stage: s, needsImage: s < 3) }
                stages.append(out)
                if let next = out.image { image = next }
            }
            let fused = try g.group("segformer_head") { try segFormerHead(stages) }
            return try g.group("to_plane_cnn") { try toPlaneCNN(fused) }
        }
    }

    /// seccPlanesRaw + learnable_triplane: the planes the NeRF samples, fp32 under fp16 activations too (the NeRF
    /// samples them in fp32; the sum is rounded once).
    public func planes(secc: GraphValue) throws -> GraphValue {
        let raw = try seccPlanesRaw(secc)
        let triplane = try weight("learnable_triplane", raw.shape)
        return try fp32 { try g.add(try g.cast(raw, to: .float32), triplane) }
    }

    // MARK: mit_b0

    /// One stage's normalised tokens [H·W, C] (for the head) and, when a later stage needs it, the same as an
    /// image [C, H, W].
    struct MixStageOutput {
        let tokens: GraphValue
        let image: GraphValue?
        let size: (h: Int, w: Int)
    }

    /// Overlapping patch embedding (7×7 stride 4 pad 3 for stage 1, else 3×3 stride 2 pad 1) + LayerNorm, the
    /// stage's transformer blocks, the stage norm.
    func mixStage(_ x: GraphValue, stage s: Int, needsImage: Bool) throws -> MixStageOutput {
        let p = Self.secc + "mix_vit.", dim = c.mitDims[s]
        let embedded = try conv(x, "\(p)patch_embed\(s + 1).proj.", out: dim, kernel: s == 0 ? 7 : 3, stride: s == 0 ? 4 : 2,
                                padding: s == 0 ? 3 : 1)
        let (h, w) = (embedded.shape[1], embedded.shape[2])
        var tokens = try tokenNorm(try imageToTokens(embedded), "\(p)patch_embed\(s + 1).norm.", eps: 1e-5)
        for j in 0..<c.mitDepths[s] {
            tokens = try g.group("block\(j)") {
                try mixBlock(tokens, "\(p)block\(s + 1).\(j).", size: (h, w), heads: c.mitHeads[s], sr: c.mitSR[s])
            }
        }
        tokens = try tokenNorm(tokens, "\(p)norm\(s + 1).", eps: 1e-6)
        return MixStageOutput(tokens: tokens, image: needsImage ? try tokensToImage(tokens, h, w) : nil, size: (h, w))
    }

    /// x + Attn(LN(x)), then x + MixFFN(LN(x)) over tokens [N, C] of an H×W image.
    func mixBlock(_ x: GraphValue, _ b: String, size: (Int, Int), heads: Int, sr: Int) throws -> GraphValue {
        let (n, ch) = (x.shape[0], x.shape[1]), d = ch / heads
        let (h, w) = size
        let normed = try tokenNorm(x, b + "norm1.", eps: 1e-6)
        let q = try linear(normed, b + "attn.q.", out: ch)
        var kvSource = normed
        if sr > 1 {
            // Efficient self-attention: keys and values from the image reduced by a stride-sr convolution.
            let reduced = try conv(try tokensToImage(normed, h, w), b + "attn.sr.", out: ch, kernel: sr, stride: sr, padding: 0)
            kvSource = try tokenNorm(try imageToTokens(reduced), b + "attn.norm.", eps: 1e-5)
        }
        let kv = try linear(kvSource, b + "attn.kv.", out: 2 * ch)  // [Nk, 2C]: keys then values, head-major
        let perHead = { (t: GraphValue, offset: Int) in
            try g.gather(t, shape: [heads, t.shape[0], d], strides: [d, t.shape[1], 1], offset: offset, label: "split_heads")
        }
        let qh = heads == 1 ? try g.reshape(q, [1, n, d]) : try perHead(q, 0)
        let attended = try g.attention(q: qh, k: try perHead(kv, 0), v: try perHead(kv, ch), scale: 1 / Float(d).squareRoot(),
                                       fused: true)
        let merged = heads == 1 ? try g.reshape(attended, [n, ch])
            : try g.reshape(try g.gather(attended, shape: [n, heads, d], strides: [d, n * d, 1], label: "merge_heads"), [n, ch])
        let x1 = try g.add(x, try linear(merged, b + "attn.proj.", out: ch))
        // Mix-FFN: fc1 → 3×3 depthwise conv over the image → GELU → fc2.
        let hidden = ch * c.mlpRatio
        let expanded = try linear(try tokenNorm(x1, b + "norm2.", eps: 1e-6), b + "mlp.fc1.", out: hidden)
        let mixed = try conv(try tokensToImage(expanded, h, w), b + "mlp.dwconv.dwconv.", out: hidden, kernel: 3, groups: hidden)
        let activated = try g.gelu(try imageToTokens(mixed))
        return try g.add(x1, try linear(activated, b + "mlp.fc2.", out: ch))
    }

    /// LayerNorm over the channels of tokens [N, C] with `<name>weight` and `<name>bias`, one invocation per token
    /// (C is 32–256 here; a workgroup per row would spend its time in barriers on CPU devices).
    func tokenNorm(_ x: GraphValue, _ name: String, eps: Float) throws -> GraphValue {
        let d = x.dim(-1)
        return try g.rowLayerNorm(x, weight: try weight(name + "weight", [d]), bias: try weight(name + "bias", [d]), eps: eps)
    }

    /// [C, H, W] → tokens [H·W, C].
    func imageToTokens(_ x: GraphValue) throws -> GraphValue {
        try g.permute(try g.reshape(x, [x.shape[0], x.shape[1] * x.shape[2]]), [1, 0])
    }

    /// Tokens [H·W, C] → [C, H, W].
    func tokensToImage(_ t: GraphValue, _ h: Int, _ w: Int) throws -> GraphValue {
        try g.reshape(try g.permute(t, [1, 0]), [t.shape[1], h, w])
    }

    // MARK: SegFormer head and to_plane_cnn

    /// linear_c4..c1 (per-token linears), bilinearly upsampled (align_corners=False) to stage 1's size,
    /// concatenated c4, c3, c2, c1, then linear_fuse (1×1 conv with the BatchNorm folded) + ReLU → [head_dim, H1, W1].
    /// Computed as Σ_i up(linear_fuse_i(linear_c_i(f_i))) with linear_fuse_i the input-channel slice of part i:
    /// the same sum (per-pixel linear maps commute with a bilinear resize, whose weights sum to 1), but each
    /// stage is fused at its own resolution and nothing at stage 1's size is 4·head_dim channels wide.
    func segFormerHead(_ stages: [MixStageOutput]) throws -> GraphValue {
        let size = stages[0].size, hd = c.headDim
        let fuse = try g.reshape(try weight(Self.secc + "fuse_head.linear_fuse.weight", [hd, 4 * hd, 1, 1]), [hd, 4 * hd])  // fp32 weights
        let fuseBias = try weight(Self.secc + "fuse_head.linear_fuse.bias", [hd])
        var sum: GraphValue?
        for (part, i) in [4, 3, 2, 1].enumerated() {
            let stage = stages[i - 1]
            let projected = try linear(stage.tokens, "\(Self.secc)fuse_head.linear_c\(i).proj.", out: hd)
            let slice = try fp32 { try g.slice(fuse, axis: 1, start: part * hd, length: hd) }  // [out, in] of part i
            let fused = try g.matmul(projected, slice, transposeB: true, bias: i == 1 ? fuseBias : nil)
            let image = try tokensToImage(fused, stage.size.h, stage.size.w)
            let full = i == 1 ? image : try g.resize(image, to: size, mode: .bilinear)
            sum = try sum.map { try g.add($0, full) } ?? full
        }
        return try g.activation(.relu, sum!)
    }

    /// Three 3×3 convs with LeakyReLU 0.01, ×2 bilinear upsampling (align_corners=True), a final 3×3 conv to
    /// 3·hid·D channels, seen as [3, hid·D, P, P]. These four convs are ~95 % of the adapter's FLOPs: they run
    /// through the row-run kernel (`conv2dRows`).
    func toPlaneCNN(_ x: GraphValue) throws -> GraphValue {
        func conv3x3(_ x: GraphValue, _ name: String, out: Int) throws -> GraphValue {
            try g.conv2dRows(x, weight: try weight(name + "weight", [out, x.shape[0], 3, 3]), bias: try weight(name + "bias", [out]))
        }
        var y = x
        for i in [0, 2, 4] {
            y = try leakyRelu(try conv3x3(y, "\(Self.secc)to_plane_cnn.\(i).", out: c.planeCNN), slope: 0.01)
        }
        y = try g.resize(y, to: (2 * y.shape[1], 2 * y.shape[2]), mode: .bilinearAlignCorners)
        let planes = try conv3x3(y, Self.secc + "to_plane_cnn.7.", out: 3 * c.planeCh)
        return try g.reshape(planes, [3, c.planeCh, planes.shape[1], planes.shape[2]])
    }
}
