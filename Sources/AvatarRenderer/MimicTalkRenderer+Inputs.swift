public import Foundation
import AvatarFormats

extension MimicTalkRenderer {
    /// The `.npy` files of `directory`: known names only, each float32 C-order of its documented shape.
    public func readInputs(_ directory: URL) throws -> [String: [Float]] {
        let shapes = inputShapes
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw RendererError("inputs directory \(directory.path): cannot list (\(error.localizedDescription))")
        }
        for file in files.sorted() where file.hasSuffix(".npy") && shapes[String(file.dropLast(4))] == nil {
            throw RendererError("\(file): unknown input name (expected \(shapes.keys.sorted().joined(separator: ", ")))")
        }
        var values: [String: [Float]] = [:]
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(name + ".npy")
            guard FileManager.default.fileExists(atPath: url.path) else {
                if isOptional(name) { continue }
                throw RendererError("\(name).npy: missing from \(directory.path) (expected shape \(shape))")
            }
            let array: NumpyArray
            do { array = try NumpyArray(contentsOf: url) } catch { throw RendererError("\(error)") }
            guard array.shape == shape else {
                throw RendererError("\(name).npy: shape \(array.shape), expected \(shape)")
            }
            guard array.values.allSatisfy(\.isFinite) else { throw RendererError("\(name).npy: contains NaN or Inf") }
            values[name] = array.values
        }
        return values
    }
}
