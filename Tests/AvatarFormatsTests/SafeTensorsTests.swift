import AvatarFormats
import Foundation
import Testing

@Suite struct SafeTensorsTests {
    func write(_ w: SafeTensorsWriter) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors")
        try w.write(to: url)
        return url
    }

    @Test func roundTripsTensorsThroughTheMapping() throws {
        var w = SafeTensorsWriter()
        w.add("a", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        w.add("idx", shape: [3], int32s: [7, -8, 9])
        w.metadata["format"] = "pt"
        let f = try SafeTensorsFile(url: try write(w))
        #expect(f.names == ["a", "idx"])
        #expect(f.metadata["format"] == "pt")
        #expect(try f.tensor("a", shape: [2, 3], dtype: .f32).floats() == [1, 2, 3, 4, 5, 6])
        #expect(try f.tensor("idx").ints() == [7, -8, 9])
    }

    @Test func errorsNameFileTensorAndShapes() throws {
        var w = SafeTensorsWriter()
        w.add("w", shape: [4], floats: [0, 0, 0, 0])
        let url = try write(w)
        let f = try SafeTensorsFile(url: url)
        #expect(throws: SafeTensorsError.shapeMismatch(path: url.path, name: "w", expected: [2, 2], found: [4])) {
            try f.tensor("w", shape: [2, 2])
        }
        #expect(throws: SafeTensorsError.missingTensor(path: url.path, name: "v")) { try f.tensor("v") }
    }

    @Test(arguments: ["truncated", "bad json", "offsets out of range", "size mismatch"])
    func rejectsCorruptFiles(kind: String) throws {
        var w = SafeTensorsWriter()
        w.add("w", shape: [4], floats: [1, 2, 3, 4])
        var data = try w.data()
        switch kind {
        case "truncated": data = data.prefix(6)
        case "bad json": data[9] = UInt8(ascii: "?")
        case "offsets out of range": data = data.prefix(data.count - 4)
        default:
            let length = Int(data[0]) | Int(data[1]) << 8
            let header = String(decoding: data[8..<(8 + length)], as: UTF8.self).replacingOccurrences(of: "[4]", with: "[5]")
            data = Data(data[0..<8]) + Data(header.utf8) + Data(data[(8 + length)...])
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(url: url) }
    }

    @Test func convertsHalfPrecision() throws {
        // Hand-written header with an F16 tensor [2] = (1.0, -2.0).
        let json = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        var data = Data()
        var n = UInt64(json.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(Data(json.utf8))
        data.append(contentsOf: [0x00, 0x3C, 0x00, 0xC0])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("h-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        #expect(try SafeTensorsFile(url: url).tensor("h").floats() == [1.0, -2.0])
    }
}
