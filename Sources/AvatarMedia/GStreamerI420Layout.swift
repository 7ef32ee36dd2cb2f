/// Where GStreamer expects the planes of a `width`×`height` I420 buffer without a video meta: rows
/// padded to 4 bytes (so packed frames need a plane-by-plane copy unless width is a multiple of 8).
struct GStreamerI420Layout: Sendable {
    let strideY: Int
    let strideC: Int
    let offsetU: Int
    let offsetV: Int
    let size: Int

    init(width: Int, height: Int) {
        strideY = (width + 3) & ~3
        strideC = ((width + 1) / 2 + 3) & ~3
        let h = (height + 1) & ~1
        offsetU = strideY * h
        offsetV = offsetU + strideC * (h / 2)
        size = offsetV + strideC * (h / 2)
    }

    /// Copies packed planes (`byteCount` bytes) into a buffer of `size` bytes in this layout.
    func copy(packed: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, width: Int, height: Int) {
        let cw = width / 2, ch = height / 2
        if strideY == width && strideC == cw {
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: packed[0..<min(packed.count, size)]))
            return
        }
        for row in 0..<height {
            let src = UnsafeRawBufferPointer(rebasing: packed[(row * width)..<(row * width + width)])
            UnsafeMutableRawBufferPointer(rebasing: out[(row * strideY)...]).copyMemory(from: src)
        }
        let luma = width * height
        for (plane, offset) in [(0, offsetU), (1, offsetV)] {
            let planeStart = luma + plane * cw * ch
            for row in 0..<ch {
                let from = planeStart + row * cw
                let src = UnsafeRawBufferPointer(rebasing: packed[from..<(from + cw)])
                UnsafeMutableRawBufferPointer(rebasing: out[(offset + row * strideC)...]).copyMemory(from: src)
            }
        }
    }
}
