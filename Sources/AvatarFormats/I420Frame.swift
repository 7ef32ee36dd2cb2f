/// A raw video frame in I420 (planar Y, then U and V at half resolution), the format the output
/// pipelines' video appsrc takes without conversion.
public struct I420Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Y plane (width×height), then U and V ((width/2)×(height/2) each).
    public var data: [UInt8]

    public static func byteCount(width: Int, height: Int) -> Int { width * height + 2 * (width / 2) * (height / 2) }

    /// A frame filled with one colour (Y, U, V).
    public init(width: Int, height: Int, y: UInt8 = 16, u: UInt8 = 128, v: UInt8 = 128) {
        precondition(width > 0 && height > 0 && width % 2 == 0 && height % 2 == 0, "I420 needs even, positive sizes")
        self.width = width
        self.height = height
        let luma = width * height
        let chroma = (width / 2) * (height / 2)
        var data = [UInt8](repeating: y, count: luma + 2 * chroma)
        data.replaceSubrange(luma..<(luma + chroma), with: repeatElement(u, count: chroma))
        data.replaceSubrange((luma + chroma)..<(luma + 2 * chroma), with: repeatElement(v, count: chroma))
        self.data = data
    }

    public init(width: Int, height: Int, data: [UInt8]) {
        precondition(data.count == Self.byteCount(width: width, height: height), "I420 data has the wrong size")
        self.width = width
        self.height = height
        self.data = data
    }

    /// Converts packed RGBA (8 bits per channel) with BT.601 limited-range coefficients.
    public init(rgba: [UInt8], width: Int, height: Int) {
        precondition(rgba.count == width * height * 4, "RGBA data has the wrong size")
        self.init(width: width, height: height)
        let luma = width * height
        let cw = width / 2
        let chroma = cw * (height / 2)
        rgba.withUnsafeBufferPointer { src in
            data.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    for x in 0..<width {
                        let i = (y * width + x) * 4
                        let r = Int(src[i]), g = Int(src[i + 1]), b = Int(src[i + 2])
                        dst[y * width + x] = UInt8(clamping: ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16)
                    }
                }
                for cy in 0..<(height / 2) {
                    for cx in 0..<cw {
                        var r = 0, g = 0, b = 0
                        for dy in 0...1 {
                            for dx in 0...1 {
                                let i = ((cy * 2 + dy) * width + cx * 2 + dx) * 4
                                r += Int(src[i]); g += Int(src[i + 1]); b += Int(src[i + 2])
                            }
                        }
                        r /= 4; g /= 4; b /= 4
                        dst[luma + cy * cw + cx] = UInt8(clamping: ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128)
                        dst[luma + chroma + cy * cw + cx] = UInt8(clamping: ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128)
                    }
                }
            }
        }
    }

    /// Luma at (x, y).
    public func luma(x: Int, y: Int) -> UInt8 { data[y * width + x] }
}
