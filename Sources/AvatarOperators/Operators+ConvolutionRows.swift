public import AvatarVulkan

extension Operators {
    /// Whether `conv2dRows` runs this convolution: groups 1, stride 1, W % 4 == 0, Cout % 4 == 0 and a kernel
    /// whose horizontal taps fit the kernel's 16-column input window (padX ≤ 4, KW − 1 − padX ≤ 4).
    public static func conv2dRowsSupports(w: Int, cout: Int, kernel: (Int, Int), padding: (Int, Int)) -> Bool {
        w % 4 == 0 && cout % 4 == 0 && kernel.0 > 0 && kernel.1 > 0 && padding.0 >= 0 && padding.1 >= 0 && padding.1 <= 4
            && kernel.1 - 1 - padding.1 <= 4
    }

    /// Conv2d (groups 1, stride 1) with tap-major weights [Cin, KH, KW, Cout]: 16 channels × a run of 8 or 16
    /// adjacent pixels of one row per invocation (`tile`, nil = `RowsTile.preferred`), input rows and weights read
    /// 4 floats per texel fetch (conv2d_rows.comp). `type`: of x and y (fp16 x is read through RGBA16F texels;
    /// weights stay fp32; fp16 runs the 8-pixel tile, its only fp16 variant).
    public func conv2dRows(_ seq: CommandSequence, x: BufferSlice, tapMajorWeight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                           cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), padding: (Int, Int),
                           type: Tensor.ElementType = .float32, tile: RowsTile? = nil) throws {
        try check(Self.conv2dRowsSupports(w: w, cout: cout, kernel: kernel, padding: padding),
                  "conv2d_rows needs W % 4 == 0, Cout % 4 == 0, padX ≤ 4 and KW − 1 − padX ≤ 4 (W \(w), Cout \(cout), kernel \(kernel), padding \(padding))")
        let oh = Self.convOutput(h, kernel: kernel.0, stride: 1, padding: padding.0)
        let ow = Self.convOutput(w, kernel: kernel.1, stride: 1, padding: padding.1)
        try check(oh > 0 && ow > 0, "conv2d_rows output is empty")
        try check(Self.elements(x, type) >= cin * h * w && tapMajorWeight.count >= cin * kernel.0 * kernel.1 * cout
                  && Self.elements(y, type) >= cout * oh * ow,
                  "conv2d_rows sizes")
        if let bias { try check(bias.count >= cout, "conv2d_rows bias too small") }
        let align = device.texelAlignment
        try check(x.texelViewable(alignment: align, format: TexelFormat(type)) && tapMajorWeight.texelViewable(alignment: align),
                  "conv2d_rows input and weights must be texel-aligned slices")
        let push = Conv2dPush(cin: Self.u(cin), h: Self.u(h), w: Self.u(w), cout: Self.u(cout), oh: Self.u(oh), ow: Self.u(ow),
                              kh: Self.u(kernel.0), kw: Self.u(kernel.1), strideY: 1, strideX: 1, padY: Self.u(padding.0),
                              padX: Self.u(padding.1), groups: 1, hasBias: bias == nil ? 0 : 1)
        let wx = Self.subgroupWidth(device), wy = 2
        let tile = type == .float16 ? .r8c16 : tile ?? .preferred(ow: ow, kw: kernel.1)
        let variant = type == .float16 ? Shader.conv2dRowsH : try tile.variant
        let pipeline = try library.pipeline(variant, specialization: [Self.u(wx), Self.u(wy), Self.u(kernel.1), Self.u(padding.1)])
        let runs = oh * ((ow + tile.run - 1) / tile.run)
        try seq.dispatch(pipeline, buffers: [x, tapMajorWeight, bias ?? tapMajorWeight, y], push: push,
                         groups: ((runs + wx - 1) / wx, (cout + tile.channels * wy - 1) / (tile.channels * wy), 1),
                         texelFormats: [0: TexelFormat(type)])
    }
}

extension Operators {
    /// Whether `conv3dRows` runs this convolution: the `conv2dRowsSupports` conditions on the last two axes.
    public static func conv3dRowsSupports(w: Int, cout: Int, kernel: (Int, Int, Int), padding: (Int, Int, Int)) -> Bool {
        kernel.0 > 0 && padding.0 >= 0 && conv2dRowsSupports(w: w, cout: cout, kernel: (kernel.1, kernel.2), padding: (padding.1, padding.2))
    }

    /// Conv3d (groups 1, stride 1) with tap-major weights [Cin, KD, KH, KW, Cout]: 16 channels × a run of 8 or 16
    /// adjacent voxels of one (depth, row) line per invocation, or two 4-wide lines (`tile`, nil = `.pairs4` where
    /// it runs, else `RowsTile.preferred`); input rows and weights read 4 floats per texel fetch (conv3d_rows.comp,
    /// conv2d_rows with a depth axis).
    public func conv3dRows(_ seq: CommandSequence, x: BufferSlice, tapMajorWeight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                           cin: Int, size: (d: Int, h: Int, w: Int), cout: Int, kernel: (Int, Int, Int),
                           padding: (Int, Int, Int), tile: RowsTile? = nil) throws {
        try check(Self.conv3dRowsSupports(w: size.w, cout: cout, kernel: kernel, padding: padding),
                  "conv3d_rows needs W % 4 == 0, Cout % 4 == 0, padW ≤ 4 and KW − 1 − padW ≤ 4 (W \(size.w), Cout \(cout), kernel \(kernel), padding \(padding))")
        let od = Self.convOutput(size.d, kernel: kernel.0, stride: 1, padding: padding.0)
        let oh = Self.convOutput(size.h, kernel: kernel.1, stride: 1, padding: padding.1)
        let ow = Self.convOutput(size.w, kernel: kernel.2, stride: 1, padding: padding.2)
        try check(od > 0 && oh > 0 && ow > 0, "conv3d_rows output is empty")
        let taps = kernel.0 * kernel.1 * kernel.2
        try check(x.count >= cin * size.d * size.h * size.w && tapMajorWeight.count >= cin * taps * cout && y.count >= cout * od * oh * ow,
                  "conv3d_rows sizes")
        if let bias { try check(bias.count >= cout, "conv3d_rows bias too small") }
        let align = device.texelAlignment
        try check(x.texelViewable(alignment: align) && tapMajorWeight.texelViewable(alignment: align),
                  "conv3d_rows input and weights must be texel-aligned slices")
        let push = Conv3dPush(cin: Self.u(cin), d: Self.u(size.d), h: Self.u(size.h), w: Self.u(size.w), cout: Self.u(cout),
                              od: Self.u(od), oh: Self.u(oh), ow: Self.u(ow), kd: Self.u(kernel.0), kh: Self.u(kernel.1),
                              kw: Self.u(kernel.2), strideD: 1, strideH: 1, strideW: 1, padD: Self.u(padding.0), padH: Self.u(padding.1),
                              padW: Self.u(padding.2), groups: 1, hasBias: bias == nil ? 0 : 1)
        let wx = Self.subgroupWidth(device), wy = 2
        let tile = tile ?? (RowsTile.pairs4.runs(w: size.w, oh: oh, ow: ow) ? .pairs4 : .preferred(ow: ow, kw: kernel.2))
        try check(tile.runs(w: size.w, oh: oh, ow: ow), "conv3d_rows tile \(tile) needs rows 4 wide and an even number of them (W \(size.w), OH \(oh), OW \(ow))")
        let pipeline = try library.pipeline(tile.variant3D, specialization: [Self.u(wx), Self.u(wy), Self.u(kernel.2), Self.u(padding.2)])
        let runs = tile == .pairs4 ? od * oh / 2 : od * oh * ((ow + tile.run - 1) / tile.run)
        try seq.dispatch(pipeline, buffers: [x, tapMajorWeight, bias ?? tapMajorWeight, y], push: push,
                         groups: ((runs + wx - 1) / wx, (cout + tile.channels * wy - 1) / (tile.channels * wy), 1))
    }
}

extension Operators {
    /// The row-run kernels' tile per invocation: `run` adjacent output pixels × `channels` output channels. 16-pixel
    /// runs halve the window fetches per FMA and run 3×3 kernels ~1.25× faster on lavapipe (bench kernels
    /// --cpu-time); 8-pixel runs stay for narrow rows and wide kernels (a 7³ kernel gains nothing from 16).
    /// `pairs4` (conv3d only, rows 4 wide, an even number of them) covers two 4-voxel lines per invocation instead
    /// of one 8-voxel run half idle.
    public enum RowsTile: String, Sendable, CaseIterable {
        case r8c16, r16c16, pairs4
        public var run: Int { self == .r16c16 ? 16 : 8 }
        public var channels: Int { 16 }

        /// The tile for an output row of `ow` pixels and a kernel `kw` wide.
        public static func preferred(ow: Int, kw: Int) -> RowsTile { ow >= 16 && kw <= 3 ? .r16c16 : .r8c16 }

        /// Whether the tile runs a conv with input rows `w` wide and an output `oh` × `ow`.
        public func runs(w: Int, oh: Int, ow: Int) -> Bool { self != .pairs4 || (w == 4 && ow == 4 && oh % 2 == 0) }

        var variant: ShaderVariant<Conv2dPush> {
            get throws {
                switch self {
                case .r8c16: Shader.conv2dRows
                case .r16c16: Shader.conv2dRowsR16C4
                case .pairs4: throw OperatorError.shape("conv2d_rows has no \(rawValue) tile")
                }
            }
        }
        var variant3D: ShaderVariant<Conv3dPush> {
            switch self {
            case .r8c16: Shader.conv3dRows
            case .r16c16: Shader.conv3dRowsR16C4
            case .pairs4: Shader.conv3dRowsPairs
            }
        }
    }
}
