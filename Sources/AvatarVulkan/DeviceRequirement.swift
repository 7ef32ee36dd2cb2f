/// The device policy of `[device]`: which device avatard may run on. A mismatch is an error, never a
/// silent fallback to the CPU driver.
public struct DeviceRequirement: Sendable, Equatable {
    /// nil = any type.
    public var type: VulkanDeviceType?
    /// Explicit device index (from `avatard devices`).
    public var index: Int?

    public init(type: VulkanDeviceType? = nil, index: Int? = nil) {
        self.type = type
        self.index = index
    }

    /// From the config value discrete | integrated | cpu | any.
    public init(configValue: String, index: Int?) {
        self.type = configValue == "any" ? nil : VulkanDeviceType(rawValue: configValue)
        self.index = index
    }

    /// Picks the device: the explicit index, else the most preferred type (discrete, integrated, CPU).
    public func select(from devices: [VulkanDeviceInfo]) throws(DeviceSelectionError) -> VulkanDeviceInfo {
        guard !devices.isEmpty else { throw .noDevices }
        let chosen: VulkanDeviceInfo
        if let index {
            guard let d = devices.first(where: { $0.index == index }) else {
                throw .noSuchIndex(index, found: devices)
            }
            chosen = d
        } else if let type {
            guard let d = devices.filter({ $0.type == type }).first else { throw .typeMismatch(required: type, found: devices) }
            chosen = d
        } else {
            chosen = devices.min { ($0.type.rank, $0.index) < ($1.type.rank, $1.index) }!
        }
        if let type, chosen.type != type { throw .typeMismatch(required: type, found: [chosen]) }
        return chosen
    }
}

/// Why no device was selected; names what was found.
public enum DeviceSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    case noDevices
    case noSuchIndex(Int, found: [VulkanDeviceInfo])
    case typeMismatch(required: VulkanDeviceType, found: [VulkanDeviceInfo])

    public var description: String {
        func list(_ d: [VulkanDeviceInfo]) -> String { d.map { "#\($0.index) \($0.name) (\($0.type.rawValue))" }.joined(separator: ", ") }
        switch self {
        case .noDevices: return "no Vulkan device found (is a Vulkan driver installed, and is the render node accessible?)"
        case let .noSuchIndex(i, found): return "no Vulkan device with index \(i); found: \(list(found))"
        case let .typeMismatch(required, found):
            return "require_device_type = \(required.rawValue), but found: \(list(found)); refusing to start on another device type"
        }
    }
}
