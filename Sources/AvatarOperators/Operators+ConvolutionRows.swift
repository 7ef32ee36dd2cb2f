public import AvatarVulkan

extension Operators {
    /// Whether `conv2dRows` runs this convolution: groups 1, stride 1, W % 4 == 0, Cout % 4 == 0 and a kernel
    /// whose horizontal taps fit the kernel's 16-column input window (padX ≤ 4, KW − 1 − padX ≤ 4).
    public static func conv2dRowsSupports(w: Int, cout: Int, kernel: (Int, Int), padding: (Int, Int)) -> Bool {
        w % 4 == 0 && cout % 4 == 0 && kernel.0 > 0 && kernel.1 > 0 && padding.0 >= 0 && padding.1 >= 0 && padding.1 <= 4
            && kernel.1 - 1 - padding.1 <= 4
    }

    /// Conv2d (groups 1, stride 1) with tap-major weights [Cin, KH, KW, Cout]: 16 channels × 8 adjacent pixels of
    /// one row per invocation, input rows and weights read 4 floats per texel fetch (conv2d_rows.comp). `type`: of x
    /// and y (fp16 x is read through RGBA16F texels; weights stay fp32).
    public func conv2dRows(_ seq: CommandSequence, x: BufferSlice, tapMajorWeight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                           cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), padding: (Int, Int),
                           type: Tensor.ElementType = .float32) throws {
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
        let pipeline = try library.pipeline(type == .float16 ? Shader.conv2dRowsH : Shader.conv2dRows, specialization: [Self.u(wx), Self.u(wy), Self.u(kernel.1), Self.u(padding.1)])
        let runs = oh * ((ow + 7) / 8)
        try seq.dispatch(pipeline, buffers: [x, tapMajorWeight, bias ?? tapMajorWeight, y], push: push,
                         groups: ((runs + wx - 1) / wx, (cout + 16 * wy - 1) / (16 * wy), 1), texelFormats: [0: TexelFormat(type)])
    }
}
