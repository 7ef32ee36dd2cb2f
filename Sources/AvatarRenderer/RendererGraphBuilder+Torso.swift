public import AvatarGraph
import AvatarOperators

/// The warp-based torso model (upstream WarpBasedTorsoModelMediaPipe; reference `Renderer.torso`, docs/renderer.md
/// §3 quirks): appearance features from the reference torso, keypoint motions, an hourglass and 7³ fuser that
/// predict per-voxel motion weights, a generator over the warped features, and the occlusion_2 alpha.
extension RendererGraphBuilder {
    static let torsoAppearanceKeys = torsoModel + "appearance_extractor."
    static let torsoMotionKeys = torsoModel + "motion_field_estimator."
    static let torsoGeneratorKeys = torsoModel + "deform_based_generator."

    /// Appearance features fs [app_c, app_d, T, T] (masked when mul_torso_mask) and the segmap channels [2, T, T] from
    /// the torso image resized to sr_res (torso256 [3, sr, sr]) and segmap [6, img, img]. Depends only on the identity.
    public func torsoAppearance(torso256: GraphValue, segmap: GraphValue) throws -> (features: GraphValue, seg: GraphValue) {
        let (sr, img, t, ae) = (c.srRes, c.img, c.torsoRes, Self.torsoAppearanceKeys)
        try torsoRequire(torso256.shape == [3, sr, sr] && segmap.shape == [6, img, img],
                    "torso appearance needs torso256 [3, \(sr), \(sr)] and segmap [6, \(img), \(img)], got \(torso256.shape) and \(segmap.shape)")
        return try g.group("torso_appearance") {
            // Segmap channels 2 and 4 (the torso and neck classes).
            let plane = img * img
            let seg = try g.gather(segmap, shape: [2, img, img], strides: [2 * plane, img, 1], offset: 2 * plane, label: "segmap_torso")
            var x = torso256
            if c.torsoIn == 5 { x = try g.concat([x, try g.resize(seg, to: (sr, sr), mode: .bilinear)], axis: 0) }
            x = try g.activation(.relu, try conv(x, ae + "in_conv.", out: c.appCh[0], kernel: 7))
            for i in 0..<(c.appCh.count - 1) {
                x = try g.activation(.relu, try conv(x, "\(ae)down.\(i).layers.0.", out: c.appCh[i + 1], kernel: 3))
                x = try g.pool2d(x, .avg, kernel: (2, 2), stride: (2, 2))
            }
            x = try conv(x, ae + "mid_conv.", out: c.appC * c.appD, kernel: 1)
            try torsoRequire(x.shape == [c.appC * c.appD, t, t], "appearance extractor ends at \(x.shape), expected [\(c.appC * c.appD), \(t), \(t)]")
            var fs = try res(try g.reshape(x, [c.appC, c.appD, t, t]), ae + "res.", c.appRes)
            let seg64 = try g.resize(seg, to: (t, t), mode: .bilinear)
            if c.mulTorsoMask {
                // dilate = reflect pad + max_pool(k, 1): a reflected index always lies inside the clipped window,
                // so the max equals max_pool with −inf padding (needs pad < T, as reflect padding does).
                let pad = (c.dilate - 1) / 2
                try torsoRequire(pad < t, "torso mask dilation \(c.dilate) needs a reflect pad below the feature size \(t)")
                let summed = try g.add(try g.view(seg64, elementOffset: 0, shape: [t, t]), try g.view(seg64, elementOffset: t * t, shape: [t, t]))
                let mask = try g.pool2d(summed, .max, kernel: (c.dilate, c.dilate), stride: (1, 1), padding: (pad, pad))
                fs = try g.mul(fs, mask)
            }
            return (fs, seg64)
        }
    }

    /// The torso model: rgb [3, sr, sr], hidden [gen_ch.last, sr, sr], alpha [1, sr, sr] from the appearance, kp_s/kp_d [68, 3]
    /// (as fed to the model), and the head rgb/weights resized to sr_res ([3, sr, sr], [1, sr, sr]).
    public func torsoModel(appearance: (features: GraphValue, seg: GraphValue), kpS: GraphValue, kpD: GraphValue,
                           headRGB: GraphValue, headWeights: GraphValue) throws -> TorsoOutputs {
        let (sr, t, d, me, ge) = (c.srRes, c.torsoRes, c.appD, Self.torsoMotionKeys, Self.torsoGeneratorKeys)
        let fs = appearance.features, seg64 = appearance.seg
        try torsoRequire(fs.shape == [c.appC, d, t, t] && seg64.shape == [2, t, t],
                    "torso appearance must be [\(c.appC), \(d), \(t), \(t)] and [2, \(t), \(t)], got \(fs.shape) and \(seg64.shape)")
        try torsoRequire(kpS.shape == [68, 3] && kpD.shape == [68, 3], "torso keypoints must be [68, 3], got \(kpS.shape) and \(kpD.shape)")
        try torsoRequire(headRGB.shape == [3, sr, sr] && headWeights.shape == [1, sr, sr],
                    "torso head inputs must be [3, \(sr), \(sr)] and [1, \(sr), \(sr)], got \(headRGB.shape) and \(headWeights.shape)")
        let k1 = c.kpNum + 1
        let (fused, logits) = try g.group("torso_motion") {
            // compress(cat[fs, seg64 repeated over D]) → fc [4, D, T, T].
            let segD = try g.gather(seg64, shape: [2, d, t, t], strides: [t * t, 0, t, 1], label: "seg_over_depth")
            let fc = try conv3d(try g.concat([fs, segD], axis: 0), me + "compress.", out: 4, kernel: 1)
            let inp = try torsoMotionInput(fc: fc, kpS: kpS, kpD: kpD)
            // Hourglass without skips: conv3d + ReLU + AvgPool(1,2,2) down, nearest(1,2,2) + conv3d + ReLU up.
            let y = try g.group("hourglass") {
                var y = inp
                for (i, ch) in c.hgDown.enumerated() {
                    y = try g.activation(.relu, try conv3d(y, "\(me)down.\(i).layers.0.", out: ch, kernel: 3))
                    y = try g.pool2d(y, .avg, kernel: (2, 2), stride: (2, 2))
                }
                for (i, ch) in c.hgUp.enumerated() {
                    y = try g.resize(y, to: (2 * y.dim(-2), 2 * y.dim(-1)), mode: .nearest)
                    y = try g.activation(.relu, try conv3d(y, "\(me)up.\(i).layers.1.", out: ch, kernel: 3))
                }
                return y
            }
            try torsoRequire(y.shape == [c.hgUp.last!, d, t, t], "hourglass ends at \(y.shape), expected [\(c.hgUp.last!), \(d), \(t), \(t)]")
            let head = try g.group("head") { try torsoHeadFeatures(rgb: headRGB, weights: headWeights) }
            let fused = try g.group("fuser") { try torsoHeadFuser(try g.concat([inp, y], axis: 0), head: head) }
            return (fused, try g.group("mask") { try conv3d(fused, me + "mask_conv.", out: k1, kernel: 7) })
        }
        // The softmax over the keypoint motions and the sampling grid stay fp32 (coordinates).
        let deformation = try fp32 { try torsoDeformation(logits: try g.cast(logits, to: .float32), kpS: kpS, kpD: kpD) }
        let occlusion = try g.group("torso_occlusion") {
            let o = try conv(try g.reshape(fused, [c.headHid * d, t, t]), me + "occlusion_conv2.", out: 1, kernel: 7)
            return try torsoGradientScale(try g.activation(.sigmoid, o))
        }
        return try g.group("torso_generator") {
            let warped = try asActivation(try fp32 { try g.gridSample3D(try g.cast(fs, to: .float32), grid: deformation, border: true, alignCorners: true) })
            var x = try leakyRelu(try conv(try g.reshape(warped, [c.appC * d, t, t]), ge + "in_conv.", out: c.genCh[0], kernel: 3), slope: 0.2)
            x = try res(try conv(x, ge + "mid_conv.", out: c.genCh[0], kernel: 1), ge + "res.", c.genRes)
            for i in 0..<(c.genCh.count - 1) {
                x = try g.resize(x, to: (2 * x.dim(-2), 2 * x.dim(-1)), mode: .nearest)
                x = try g.activation(.relu, try conv(x, "\(ge)up.\(i).layers.1.", out: c.genCh[i + 1], kernel: 3))
            }
            try torsoRequire(x.shape == [c.genCh.last!, sr, sr], "generator ends at \(x.shape), expected [\(c.genCh.last!), \(sr), \(sr)]")
            let rgb = try conv(x, ge + "out_conv.", out: 3, kernel: 7)
            let p = Self.torsoModel + "occlusion_2_predictor."
            var o = try g.concat([x, try g.resize(occlusion, to: (sr, sr), mode: .bilinear)], axis: 0)
            o = try g.activation(.relu, try conv(o, p + "0.", out: c.occHid, kernel: 3))
            o = try g.activation(.relu, try conv(o, p + "2.", out: c.occHid, kernel: 3))
            // The torso alpha is a fusion alpha: its sigmoid and storage are fp32.
            let logit = try conv(o, p + "4.", out: 1, kernel: 3)
            let alpha = try fp32 { try g.activation(.sigmoid, try g.cast(logit, to: .float32)) }
            return TorsoOutputs(rgb: rgb, hidden: x, alpha: alpha)
        }
    }

    /// Heat maps and warped features of the K+1 keypoint motions: [(K+1)·5, D, T, T], channel k·5 + {heat, fc 0..3}.
    func torsoMotionInput(fc: GraphValue, kpS: GraphValue, kpD: GraphValue) throws -> GraphValue {
        let (ch, d, h, w) = (fc.shape[0], fc.shape[1], fc.shape[2], fc.shape[3])
        let landmarks = c.kpIndex, variance = c.kpVariance
        try torsoRequire(c.motionIn == (landmarks.count + 1) * (1 + ch), "motion input \(c.motionIn) channels for \(landmarks.count) keypoints and \(ch) features")
        let ops = g.ops
        // The kernel reads and writes fp32 (keypoint geometry, sampling coordinates); fp16 activations are cast around it.
        let fc32 = try g.cast(fc, to: .float32)
        return try asActivation(try g.node("torso_motion_input", reads: [kpS, kpD, fc32], output: [c.motionIn, d, h, w]) { seq, b, y in
            try ops.torsoMotionInput(seq, kpS: b[kpS], kpD: b[kpD], fc: b[fc32], y: b[y], channels: ch, size: (d, h, w),
                                     landmarks: landmarks, variance: variance)
        })
    }

    /// Σ_k motion_k·softmax_k(logits) with the gradient-scale expression: the generator's sampling grid [D·T·T, 3].
    func torsoDeformation(logits: GraphValue, kpS: GraphValue, kpD: GraphValue) throws -> GraphValue {
        let (d, h, w) = (logits.shape[1], logits.shape[2], logits.shape[3])
        let landmarks = c.kpIndex
        try torsoRequire(logits.shape[0] == landmarks.count + 1, "mask logits \(logits.shape) for \(landmarks.count) keypoints")
        let ops = g.ops
        return try g.node("torso_deformation", reads: [kpS, kpD, logits], output: [d * h * w, 3]) { seq, b, y in
            try ops.torsoDeformation(seq, kpS: b[kpS], kpD: b[kpD], logits: b[logits], y: b[y], size: (d, h, w), landmarks: landmarks)
        }
    }

    /// tgt_head_fuser, the 7³ conv over cat[x, head repeated over D]. The head channels are constant along D, so their
    /// share is computed in 2-D: P_kz = conv2d(head, W_head[:, :, kz]) for the KD depth taps, then for each output depth
    /// the sum of the taps that land inside the volume (zero padding cuts the rest) — a [D, KD] 0/1 band matrix
    /// times P. At full size that replaces 36 % of the fuser's 64 G multiply-adds with 1.4 G.
    func torsoHeadFuser(_ x: GraphValue, head: GraphValue) throws -> GraphValue {
        let name = Self.torsoMotionKeys + "tgt_head_fuser."
        let (cv, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (ch, cout, k) = (head.shape[0], c.headHid, 7)
        try torsoRequire(head.shape == [ch, h, w], "head features \(head.shape) for the fuser over \(x.shape)")
        let tap = k * k * k, cin = cv + ch
        let weight = try self.weight(name + "weight", [cout, cin, k, k, k])
        // Weight slices stay fp32 under fp16 activations, and so does the small band product of the head share.
        let wx = try g.reshape(try fp32 { try g.gather(weight, shape: [cout, cv * tap], strides: [cin * tap, 1], label: "fuser_weight_volume") },
                               [cout, cv, k, k, k])
        let volume = try g.conv3dRows(x, weight: wx, bias: try self.weight(name + "bias", [cout]))
        // W_head regrouped as [kz, cout, ch, ky·kx] → KD stacked 2-D kernels.
        let wh = try fp32 {
            try g.gather(weight, shape: [k, cout, ch, k * k], strides: [k * k, cin * tap, tap, 1], offset: cv * tap, label: "fuser_weight_head")
        }
        let taps = try g.conv2d(head, weight: try g.reshape(wh, [k * cout, ch, k, k]), bias: nil)
        let pad = k / 2
        var band = [Float](repeating: 0, count: d * k)
        for od in 0..<d { for kz in 0..<k where (0..<d).contains(od + kz - pad) { band[od * k + kz] = 1 } }
        let headShare = try fp32 {
            let summed = try g.matmul(try g.constant("fuser_depth_band", values: band, shape: [d, k]),
                                      try g.reshape(taps, [k, cout * h * w]))
            return try g.permute(try g.reshape(summed, [d, cout, h * w]), [1, 0, 2])
        }
        return try g.add(volume, try g.reshape(headShare, [cout, d, h, w]))
    }

    /// The target head encoder: cat[rgb, weights] resized (bilinear, no AA) to img/4, CNA 7×7, NAC ResBlocks,
    /// resized to the torso feature size → [head_hid, T, T].
    func torsoHeadFeatures(rgb: GraphValue, weights: GraphValue) throws -> GraphValue {
        let (px, t, me) = (c.headResPx, c.torsoRes, Self.torsoMotionKeys)
        var h = try g.resize(try g.concat([try asActivation(rgb), try asActivation(weights)], axis: 0), to: (px, px), mode: .bilinear)
        h = try g.activation(.relu, try conv(h, me + "tgt_head_encoder.0.", out: c.headHid, kernel: 7))
        for i in stride(from: 1, through: c.headRes, by: 1) {
            let p = "\(me)tgt_head_encoder.\(i).layers."
            h = try g.add(h, try nac(try nac(h, p + "0."), p + "1."))
        }
        return try g.resize(h, to: (t, t), mode: .bilinear)
    }

    /// Upstream's x·0.1 + x.detach()·0.9, kept as written (it differs from x by rounding).
    func torsoGradientScale(_ x: GraphValue) throws -> GraphValue {
        let flat = try g.reshape(x, [x.count, 1])
        let a = try g.mul(flat, try g.constant("grad_scale_0.1", values: [0.1], shape: [1]))
        let b = try g.mul(flat, try g.constant("grad_scale_0.9", values: [0.9], shape: [1]))
        return try g.reshape(try g.add(a, b), x.shape)
    }

    func torsoRequire(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw RendererError(message()) }
    }
}
