import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarVulkan
import Foundation

/// Tests/Fixtures/motion (written by tools/make_motion_fixtures.py): configurations, weight recipes and
/// golden outputs of the PyTorch reference. Weights are regenerated from the recipes (RecipeWeights).
enum MotionFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/motion")

    nonisolated(unsafe) static let json: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("fixtures.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static func model(_ name: String) -> [String: Any] { (json["models"] as! [String: Any])[name] as! [String: Any] }
    static var probe: [String: Any] { json["case"] as! [String: Any] }
    static var streamPlan: [String: Int] { json["stream_plan"] as! [String: Int] }

    static func file(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(url: directory.appendingPathComponent(model(name)["file"] as! String))
    }

    static func manifestConfig(_ name: String) throws -> [String: JSONValue] {
        let data = try JSONSerialization.data(withJSONObject: model(name)["config"]!)
        return try JSONDecoder().decode([String: JSONValue].self, from: data)
    }

    /// Writes the model's recipe weights (plus rotary.inv_freq) to a temporary safetensors file;
    /// `reshape` replaces the shapes of some tensors (refusal tests).
    static func recipeFile(_ name: String, invFreq: [Float]? = nil, reshape: [String: [Int]] = [:]) throws -> URL {
        var writer = SafeTensorsWriter()
        for entry in model(name)["recipe"] as! [[String: Any]] {
            let shape = reshape[entry["name"] as! String] ?? entry["shape"] as! [Int]
            let values = RecipeWeights.generate(name: entry["name"] as! String, count: shape.reduce(1, *),
                                                scale: entry["scale"] as! Double, offset: entry["offset"] as! Double)
            writer.add(entry["name"] as! String, shape: shape, floats: values)
        }
        if let invFreq { writer.add("rotary.inv_freq", shape: [invFreq.count], floats: invFreq) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recipe-\(name)-\(UUID().uuidString).safetensors")
        try writer.write(to: url)
        return url
    }

    /// inv_freq as upstream builds it in float32: 1 / θ^(arange(0, d, 2)/d).
    static func invFreq(dimHead: Int, theta: Float = 50000) -> [Float] {
        stride(from: 0, to: dimHead, by: 2).map { 1 / Foundation.powf(theta, Float($0) / Float(dimHead)) }
    }

    static func inputRecipe(_ name: String, _ key: String) -> [Float] {
        let entry = (model(name)["input_recipe"] as! [[String: Any]]).first { ($0["name"] as! String) == key }!
        let shape = entry["shape"] as! [Int]
        return RecipeWeights.generate(name: key, count: shape.reduce(1, *), scale: entry["scale"] as! Double,
                                      offset: entry["offset"] as! Double)
    }

    /// Port tolerance for an output (docs/motion.md §5): 10 × the reference's own float32 deviation plus
    /// 1e-5 × the largest golden magnitude (summation order on the GPU differs from PyTorch's).
    static func tolerance(_ name: String, _ output: String) -> Double {
        let errors = model(name)["f32_error"] as! [String: [String: Double]]
        return 10 * errors[output]!["max_abs"]! + 1e-5 * errors[output]!["max_abs_golden"]!
    }

    /// The float32 noise floor of an output: the reference's own float32-vs-float64 deviation.
    static func floor(_ name: String, _ output: String) -> Double {
        let errors = model(name)["f32_error"] as! [String: [String: Double]]
        return errors[output]!["max_abs"]!
    }
}

/// One device for the suite's GPU tests.
enum MotionGPU {
    static let shared: Result<(VulkanDevice, Operators), any Error> = Result {
        let device = try VulkanDevice()
        return (device, Operators(library: ShaderLibrary(device: device)))
    }
    static func get() throws -> (VulkanDevice, Operators) { try shared.get() }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
}
