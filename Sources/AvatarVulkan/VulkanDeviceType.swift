/// Physical device types, named as in the configuration (`require_device_type`).
public enum VulkanDeviceType: String, Sendable, CaseIterable, Comparable {
    case discrete, integrated, virtual, cpu, other

    /// Preference order: discrete, integrated, virtual, CPU.
    var rank: Int {
        switch self {
        case .discrete: 0
        case .integrated: 1
        case .virtual: 2
        case .cpu: 3
        case .other: 4
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}
