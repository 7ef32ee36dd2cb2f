/// What avatard knows about a physical device before opening it.
public struct VulkanDeviceInfo: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var type: VulkanDeviceType
    public var vendorID: UInt32
    public var deviceID: UInt32
    public var driverName: String
    public var driverInfo: String
    public var apiVersion: String
    public var driverVersion: UInt32
    /// Subgroup size, fp16 arithmetic and storage, cooperative matrix extension.
    public var subgroupSize: UInt32
    /// Subgroup operation classes supported in compute shaders: basic, vote, arithmetic, ballot, shuffle,
    /// shuffle_relative, clustered, quad.
    public var subgroupOperations: [String]
    public var shaderFloat16: Bool
    public var storageBuffer16BitAccess: Bool
    public var cooperativeMatrix: Bool
    public var maxComputeSharedMemory: UInt32
    public var pipelineCacheUUID: [UInt8]

    public init(index: Int, name: String, type: VulkanDeviceType, vendorID: UInt32, deviceID: UInt32, driverName: String,
                driverInfo: String, apiVersion: String, driverVersion: UInt32, subgroupSize: UInt32,
                subgroupOperations: [String] = [], shaderFloat16: Bool,
                storageBuffer16BitAccess: Bool, cooperativeMatrix: Bool, maxComputeSharedMemory: UInt32,
                pipelineCacheUUID: [UInt8]) {
        self.index = index
        self.name = name
        self.type = type
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.driverName = driverName
        self.driverInfo = driverInfo
        self.apiVersion = apiVersion
        self.driverVersion = driverVersion
        self.subgroupSize = subgroupSize
        self.subgroupOperations = subgroupOperations
        self.shaderFloat16 = shaderFloat16
        self.storageBuffer16BitAccess = storageBuffer16BitAccess
        self.cooperativeMatrix = cooperativeMatrix
        self.maxComputeSharedMemory = maxComputeSharedMemory
        self.pipelineCacheUUID = pipelineCacheUUID
    }
}
