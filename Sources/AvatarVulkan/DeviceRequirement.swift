import Foundation

/// The device policy of `[device]`: which device avatard may run on. A mismatch is an error, never a
/// silent fallback to the CPU driver.
public struct DeviceRequirement: Sendable, Equatable {
    /// nil = any type.
    public var type: VulkanDeviceType?
    /// Explicit device index (from `avatard devices`).
    public var index: Int?
    /// Explicit device: a case-insensitive substring of the device name (e.g. "H100", "llvmpipe").
    public var name: String?

    public init(type: VulkanDeviceType? = nil, index: Int? = nil, name: String? = nil) {
        self.type = type
        self.index = index
        self.name = name
    }

    /// From the config value discrete | integrated | cpu | any (an unknown value is treated as "any";
    /// use `init(parsing:index:name:)` to reject it).
    public init(configValue: String, index: Int?, name: String? = nil) {
        self.type = configValue == "any" ? nil : VulkanDeviceType(rawValue: configValue)
        self.index = index
        self.name = name
    }

    /// From the config value, rejecting anything but discrete | integrated | virtual | cpu | other | any.
    public init(parsing value: String, index: Int? = nil, name: String? = nil) throws(DeviceSelectionError) {
        guard value == "any" || VulkanDeviceType(rawValue: value) != nil else { throw .unknownType(value) }
        self.init(configValue: value, index: index, name: name)
    }

    /// Picks the device: the explicit index or name, else the most preferred type (discrete, integrated,
    /// virtual, CPU). With `type` set, the chosen device must have that type.
    public func select(from devices: [VulkanDeviceInfo]) throws(DeviceSelectionError) -> VulkanDeviceInfo {
        guard let first = devices.first else { throw .noDevices }
        var candidates = devices
        if let index {
            candidates = candidates.filter { $0.index == index }
            guard !candidates.isEmpty else { throw .noSuchIndex(index, found: devices) }
        }
        if let name {
            candidates = candidates.filter { $0.name.range(of: name, options: .caseInsensitive) != nil }
            guard !candidates.isEmpty else { throw .noSuchName(name, found: devices) }
        }
        if let type {
            let matching = candidates.filter { $0.type == type }
            guard !matching.isEmpty else { throw .typeMismatch(required: type, found: candidates) }
            candidates = matching
        }
        return candidates.min { ($0.type.rank, $0.index) < ($1.type.rank, $1.index) } ?? first
    }
}

/// Why no device was selected; names what was found.
public enum DeviceSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    case noDevices
    case noSuchIndex(Int, found: [VulkanDeviceInfo])
    case noSuchName(String, found: [VulkanDeviceInfo])
    case typeMismatch(required: VulkanDeviceType, found: [VulkanDeviceInfo])
    case unknownType(String)

    public var description: String {
        func list(_ d: [VulkanDeviceInfo]) -> String { d.map { "#\($0.index) \($0.name) (\($0.type.rawValue))" }.joined(separator: ", ") }
        switch self {
        case .noDevices: return "no Vulkan device found (is a Vulkan driver installed, and is the render node accessible?)"
        case let .noSuchIndex(i, found): return "no Vulkan device with index \(i); found: \(list(found))"
        case let .noSuchName(n, found): return "no Vulkan device whose name contains '\(n)'; found: \(list(found))"
        case let .typeMismatch(required, found):
            return "require_device_type = \(required.rawValue), but found: \(list(found)); refusing to start on another device type"
        case let .unknownType(v):
            return "unknown device type '\(v)' (expected discrete, integrated, virtual, cpu, other or any)"
        }
    }
}
