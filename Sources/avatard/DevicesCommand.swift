import ArgumentParser
import AvatarConfig
import AvatarVulkan
import Foundation

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List Vulkan devices and show which one avatard would choose.")

    @Option(name: .long, help: "Configuration file whose [device] policy to apply.")
    var config: String?

    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.")
    var require: String?

    @Option(name: .long, help: "Explicit device index.")
    var index: Int?

    @Option(name: .long, help: "Explicit device: a case-insensitive substring of its name.")
    var name: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        var policy = try ConfigFile.load(config).device
        if let require { policy.requireDeviceType = require }
        if let index { policy.index = index }
        let devices: [VulkanDeviceInfo]
        do { devices = try VulkanInstance.enumerate() } catch {
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let requirement: DeviceRequirement
        do { requirement = try DeviceRequirement(parsing: policy.requireDeviceType, index: policy.index, name: name) } catch {
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        let chosen = Result { () throws(DeviceSelectionError) in try requirement.select(from: devices) }
        if json {
            let list: [[String: Any]] = devices.map { d in
                ["index": d.index, "name": d.name, "type": d.type.rawValue, "driver": d.driverName, "driver_info": d.driverInfo,
                 "api": d.apiVersion, "vendor_id": d.vendorID, "device_id": d.deviceID, "subgroup_size": d.subgroupSize, "subgroup_operations": d.subgroupOperations,
                 "fp16_arithmetic": d.shaderFloat16, "fp16_storage": d.storageBuffer16BitAccess,
                 "cooperative_matrix": d.cooperativeMatrix, "chosen": (try? chosen.get())?.index == d.index]
            }
            let data = try JSONSerialization.data(withJSONObject: ["devices": list], options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for d in devices {
                let mark = (try? chosen.get())?.index == d.index ? "*" : " "
                print("\(mark) #\(d.index) \(d.name) [\(d.type.rawValue)] driver \(d.driverName) (\(d.driverInfo)), Vulkan \(d.apiVersion)")
                print("     subgroup \(d.subgroupSize) (\(d.subgroupOperations.joined(separator: " "))), fp16 arithmetic \(d.shaderFloat16 ? "yes" : "no"), fp16 storage \(d.storageBuffer16BitAccess ? "yes" : "no"), cooperative matrix \(d.cooperativeMatrix ? "yes" : "no"), shared memory \(d.maxComputeSharedMemory / 1024) KiB")
            }
        }
        switch chosen {
        case .success(let d):
            if !json { print("chosen: #\(d.index) \(d.name) (policy: require_device_type = \(policy.requireDeviceType)\(policy.index.map { ", index = \($0)" } ?? "")\(name.map { ", name ~ \($0)" } ?? ""))") }
        case .failure(let error):
            // The same verdict as `serve`: the configured policy cannot be met here (EX_CONFIG).
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
    }
}
