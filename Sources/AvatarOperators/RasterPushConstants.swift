/// Push constants of the rasterizer shaders (Shaders/raster_*.comp, rgb_to_i420.comp), in the shaders' order.
public struct RasterCountPush: Sendable {
    public var n: UInt32
    public static let shaderSize = 4
}

public struct RasterTrianglesPush: Sendable {
    public var triangles, width, height: UInt32
    public var f, cx, cy, distance: Float
    public static let shaderSize = 28
}

public struct RasterSECCPush: Sendable {
    public var width, height: UInt32
    public var f, cx, cy, distance: Float
    public static let shaderSize = 24
}

public struct RasterShadePush: Sendable {
    public var width, height, ss: UInt32
    public var f, cx, cy, distance, zLip, bgR, bgG, bgB: Float
    public static let shaderSize = 44
}

public struct RasterSizePush: Sendable {
    public var width, height: UInt32
    public static let shaderSize = 8
}
