/// Operator misuse or missing resources, reported to the caller.
public enum OperatorError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingShader(String)
    case missingWeight(String)
    case shape(String)
    case plan(String)
    /// No variant stores this combination of operand element types (fp16 activations cover HuBERT's and ICS-A2M's operators).
    case elementType(String)

    public var description: String {
        switch self {
        case .missingShader(let n): "shader variant '\(n)' is not in the SPIR-V resources (run scripts/build-shaders.sh)"
        case .missingWeight(let n): "no weight named '\(n)'"
        case .shape(let m): "shape error: \(m)"
        case .plan(let m): "network plan error: \(m)"
        case .elementType(let m): "element types: \(m)"
        }
    }
}
