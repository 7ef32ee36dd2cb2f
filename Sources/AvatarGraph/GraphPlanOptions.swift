public import AvatarVulkan

/// How a graph is planned.
public struct GraphPlanOptions: Sendable {
    /// Where inputs and outputs live.
    public enum IOPlacement: Sendable {
        /// Discrete GPUs stage, everything else binds host memory directly.
        case automatic
        /// Bound in host-visible memory (CPU drivers and integrated GPUs: no copies).
        case direct
        /// Host-visible staging copied to and from device-local memory inside the command buffer.
        case staged
    }

    /// A GPU timestamp after every node (`GraphNetwork.timings`, `groupTimings`).
    public var timestamps: Bool
    public var io: IOPlacement

    public init(timestamps: Bool = false, io: IOPlacement = .automatic) {
        self.timestamps = timestamps
        self.io = io
    }

    /// Whether the device gets staged inputs/outputs and device-local temporaries under this choice.
    func stages(on device: VulkanDevice) -> Bool {
        switch io {
        case .direct: return false
        case .staged: return true
        case .automatic: return device.info.type == .discrete
        }
    }
}
