public import AvatarFormats

/// Sizes and switches of a MimicTalk person renderer, read from the bundle's `renderer.config` (docs/renderer.md
/// §4.2; written by `tools/convert.py person`). Defaults are the official sizes; every key present is checked.
public struct RendererConfig: Sendable, Equatable {
    public static let layout = "avatard-mimictalk-renderer-1"

    public var img = 512
    public var nerfRes = 128
    public var hid = 32
    public var depth = 1
    public var trigrid = false
    public var seccIn = 9
    public var mitDims = [32, 64, 160, 256]
    public var mitHeads = [1, 2, 5, 8]
    public var mitDepths = [2, 2, 2, 2]
    public var mitSR = [8, 4, 2, 1]
    public var mlpRatio = 4
    public var headDim = 256
    public var planeCNN = 256
    public var decoderHidden = 64
    public var samplesCoarse = 48
    public var samplesFine = 48
    public var boxWarp: Float = 1
    public var srCh = 256
    public var srLast = 128
    public var torsoIn = 5
    public var appCh = [64, 128, 256]
    public var appC = 32
    public var appD = 16
    public var appRes = 6
    public var kpNum = 4
    public var hgDown = [64, 128, 256, 512, 1024]
    public var hgUp = [512, 256, 128, 64, 32]
    public var headHid = 32
    public var headRes = 3
    public var genCh = [256, 128, 64]
    public var genRes = 6
    public var occHid = 32
    public var bgMid = 64
    public var fuseMid = 64
    public var dilate = 7
    public var mulTorsoMask = true
    public var headThreshold: Float = 1
    public var fuseMode = "v2"
    public var kpVariance: Float = 0.01

    public init() {}

    // Derived sizes (upstream's absolute 256/128/64 as ratios of the output size).
    public var planeRes: Int { img / 2 }
    public var srRes: Int { img / 2 }
    public var headResPx: Int { img / 4 }
    public var torsoRes: Int { img / 8 }
    public var planeCh: Int { hid * depth }
    public var motionIn: Int { (kpNum + 1) * 5 }
    public var rays: Int { nerfRes * nerfRes }
    /// The 68-point landmarks that drive the torso warp.
    public var kpIndex: [Int] { kpNum == 9 ? [0, 3, 6, 8, 10, 13, 16, 27, 33] : [0, 8, 16, 27] }

    /// From the manifest's `renderer.config`; refuses another layout and values outside what the port runs.
    public init(manifest config: [String: JSONValue]?) throws {
        let c = config ?? [:]
        func fail(_ message: String) -> RendererError { RendererError("renderer.config.\(message)") }
        guard let layout = c["layout"]?.string else { throw fail("layout is missing (expected \"\(Self.layout)\")") }
        guard layout == Self.layout else { throw fail("layout is \"\(layout)\"; this build reads \"\(Self.layout)\"") }
        let r = ManifestConfigReader(config, prefix: "", fail: fail)
        img = try r.int("img", img); nerfRes = try r.int("nerf_res", nerfRes); hid = try r.int("hid", hid)
        depth = try r.int("depth", depth); trigrid = try r.bool("trigrid", trigrid); seccIn = try r.int("secc_in", seccIn)
        mitDims = try r.ints("mit_dims", mitDims); mitHeads = try r.ints("mit_heads", mitHeads)
        mitDepths = try r.ints("mit_depths", mitDepths); mitSR = try r.ints("mit_sr", mitSR)
        mlpRatio = try r.int("mlp_ratio", mlpRatio); headDim = try r.int("head_dim", headDim); planeCNN = try r.int("plane_cnn", planeCNN)
        decoderHidden = try r.int("decoder_hidden", decoderHidden)
        samplesCoarse = try r.int("samples_coarse", samplesCoarse, min: 4); samplesFine = try r.int("samples_fine", samplesFine)
        boxWarp = Float(try r.double("box_warp", Double(boxWarp)))
        srCh = try r.int("sr_ch", srCh); srLast = try r.int("sr_last", srLast); torsoIn = try r.int("torso_in", torsoIn)
        appCh = try r.ints("app_ch", appCh); appC = try r.int("app_c", appC); appD = try r.int("app_d", appD)
        appRes = try r.int("app_res", appRes, min: 0); kpNum = try r.int("kp_num", kpNum)
        hgDown = try r.ints("hg_down", hgDown); hgUp = try r.ints("hg_up", hgUp)
        headHid = try r.int("head_hid", headHid); headRes = try r.int("head_res", headRes, min: 0)
        genCh = try r.ints("gen_ch", genCh); genRes = try r.int("gen_res", genRes, min: 0); occHid = try r.int("occ_hid", occHid)
        bgMid = try r.int("bg_mid", bgMid); fuseMid = try r.int("fuse_mid", fuseMid); dilate = try r.int("dilate", dilate)
        mulTorsoMask = try r.bool("mul_torso_mask", mulTorsoMask)
        headThreshold = Float(try r.double("head_threshold", Double(headThreshold)))
        kpVariance = Float(try r.double("kp_variance", Double(kpVariance)))
        fuseMode = try r.string("fuse_mode", fuseMode)
        try validate()
    }

    /// The combinations the port runs (the converter refuses the others already; a hand-edited manifest lands here).
    public func validate() throws {
        func fail(_ message: String) -> RendererError { RendererError("renderer.config.\(message)") }
        guard fuseMode == "v2" else { throw fail("fuse_mode \"\(fuseMode)\" is not supported (v2 only)") }
        guard seccIn == 9 || seccIn == 6 else { throw fail("secc_in must be 9 or 6, found \(seccIn)") }
        guard torsoIn == 5 || torsoIn == 3 else { throw fail("torso_in must be 5 or 3, found \(torsoIn)") }
        guard kpNum == 4 || kpNum == 9 else { throw fail("kp_num must be 4 or 9, found \(kpNum)") }
        guard depth == 1 || trigrid else { throw fail("depth \(depth) needs trigrid") }
        guard img % 32 == 0, nerfRes * 4 == img else { throw fail("img \(img) must be a multiple of 32 and 4 × nerf_res (\(nerfRes))") }
        guard [mitDims, mitHeads, mitDepths, mitSR].allSatisfy({ $0.count == 4 }) else {
            throw fail("mit_dims, mit_heads, mit_depths and mit_sr need 4 stages each")
        }
        guard zip(mitDims, mitHeads).allSatisfy({ $0 % $1 == 0 }) else { throw fail("mit_dims \(mitDims) not divisible by mit_heads \(mitHeads)") }
        guard samplesCoarse + samplesFine <= 128 else { throw fail("samples_coarse + samples_fine must be ≤ 128 (row sort)") }
        guard appCh.count >= 2, genCh.count >= 1, hgDown.count == hgUp.count else {
            throw fail("app_ch needs ≥ 2 entries, hg_down and hg_up the same length")
        }
        guard dilate % 2 == 1 else { throw fail("dilate must be odd, found \(dilate)") }
    }
}
