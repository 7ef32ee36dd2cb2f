import AvatarOperators

/// Cameras of the face model (spec §4.1; tools/demo/raster_ref.py): the SECC camera (distance 10, focal 1015
/// at 224 px, centred) and the preview's wider one (focal 800 at 224 px, model y = −0.10 at the image centre).
public enum PreviewCamera {
    public static let distance: Float = 10

    public static func secc(width: Int, height: Int) -> RasterCamera {
        RasterCamera(focal: 1015 * Float(width) / 224, cx: Float(width) / 2, cy: Float(height) / 2, distance: distance)
    }

    public static func preview(width: Int, height: Int, focal224: Float = 800, centerY: Float = -0.10) -> RasterCamera {
        let f = focal224 * Float(width) / 224
        return RasterCamera(focal: f, cx: Float(width) / 2, cy: Float(height) / 2 + f * centerY / (distance - 0.3), distance: distance)
    }
}
