/// The few facts avatard reads from a SPIR-V module before creating its pipeline: the push-constant block
/// size and the descriptor bindings, so a host struct that drifted from its shader is an error at pipeline
/// creation instead of garbage on the GPU.
public struct SPIRVReflection: Sendable, Equatable {
    /// Bytes of the push-constant block (0 when the shader has none).
    public let pushConstantSize: Int
    /// Binding numbers of descriptor set 0 that the module declares.
    public let bindings: [Int]
    /// The bindings declared as texel buffers (`samplerBuffer`); the others are storage buffers.
    public let texelBindings: Set<Int>
    /// The bindings the shader never writes: texel buffers and `readonly` storage buffers (every member of
    /// the block decorated NonWritable). Command sequences place barriers from this.
    public let readOnlyBindings: Set<Int>

    public init(spirv bytes: [UInt8]) throws(VulkanError) {
        guard bytes.count >= 20, bytes.count % 4 == 0 else { throw .usage("SPIR-V of \(bytes.count) bytes is not a module") }
        let words = stride(from: 0, to: bytes.count, by: 4).map {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
        }
        guard words[0] == 0x0723_0203 else { throw .usage("not SPIR-V (magic \(String(words[0], radix: 16)))") }
        var scalarSize: [UInt32: Int] = [:]        // int/float/vector types → bytes
        var structMembers: [UInt32: [UInt32]] = [:]
        var memberOffsets: [UInt32: [Int: Int]] = [:]
        var pointers: [UInt32: (storage: UInt32, type: UInt32)] = [:]
        var variables: [(type: UInt32, id: UInt32, storage: UInt32)] = []
        var bindingOf: [UInt32: Int] = [:]
        var imageDim: [UInt32: UInt32] = [:]           // OpTypeImage → Dim
        var nonWritable: Set<UInt32> = []                // variables decorated NonWritable
        var nonWritableMembers: [UInt32: Set<Int>] = [:] // struct → members decorated NonWritable
        var sampledImage: [UInt32: UInt32] = [:]       // OpTypeSampledImage → image type
        var i = 5
        while i < words.count {
            let count = Int(words[i] >> 16), op = words[i] & 0xFFFF
            guard count > 0, i + count <= words.count else { throw .usage("malformed SPIR-V instruction at word \(i)") }
            let w = Array(words[i..<(i + count)])
            switch op {
            case 21 where count >= 3, 22 where count >= 3: scalarSize[w[1]] = Int(w[2]) / 8                   // OpTypeInt, OpTypeFloat
            case 23 where count >= 4: scalarSize[w[1]] = (scalarSize[w[2]] ?? 4) * Int(w[3])  // OpTypeVector
            case 25 where count >= 4: imageDim[w[1]] = w[3]                                      // OpTypeImage
            case 27 where count >= 3: sampledImage[w[1]] = w[2]                                // OpTypeSampledImage
            case 30: structMembers[w[1]] = Array(w.dropFirst(2))                              // OpTypeStruct
            case 32 where count >= 4: pointers[w[1]] = (w[2], w[3])                           // OpTypePointer
            case 59 where count >= 4: variables.append((w[1], w[2], w[3]))                   // OpVariable
            case 71 where count >= 4 && w[2] == 33: bindingOf[w[1]] = Int(w[3])               // OpDecorate Binding
            case 71 where count >= 3 && w[2] == 24: nonWritable.insert(w[1])                    // OpDecorate NonWritable
            case 72 where count >= 4 && w[3] == 24: nonWritableMembers[w[1], default: []].insert(Int(w[2])) // member NonWritable
            case 72 where count >= 5 && w[3] == 35: memberOffsets[w[1], default: [:]][Int(w[2])] = Int(w[4]) // Offset
            default: break
            }
            i += count
        }
        var size = 0
        for v in variables where v.storage == 9 {   // PushConstant
            guard let pointer = pointers[v.type], let members = structMembers[pointer.type] else { continue }
            let offsets = memberOffsets[pointer.type] ?? [:]
            for (m, type) in members.enumerated() {
                size = max(size, (offsets[m] ?? 0) + (scalarSize[type] ?? 4))
            }
        }
        pushConstantSize = size
        bindings = variables.compactMap { bindingOf[$0.id] }.sorted()
        texelBindings = Set(variables.compactMap { v -> Int? in
            guard v.storage == 0, let pointer = pointers[v.type] else { return nil }   // UniformConstant
            let image = sampledImage[pointer.type] ?? pointer.type
            return imageDim[image] == 5 ? bindingOf[v.id] : nil                       // Dim Buffer
        })
        let texel = texelBindings
        readOnlyBindings = Set(variables.compactMap { v -> Int? in
            guard let binding = bindingOf[v.id] else { return nil }
            if texel.contains(binding) || nonWritable.contains(v.id) { return binding }
            guard let pointer = pointers[v.type], let members = structMembers[pointer.type], !members.isEmpty else { return nil }
            let readOnly = nonWritableMembers[pointer.type] ?? []
            return (0..<members.count).allSatisfy(readOnly.contains) ? binding : nil
        })
    }
}
