// swift-tools-version: 6.1
// avatard: a real-time streaming avatar daemon (Opus over WebSocket in, talking-face video out through GStreamer).
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "avatard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "avatard", targets: ["avatard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C system libraries (one per pkg-config file) and a thin shim per library (macros, variadics).
        .systemLibrary(name: "CGStreamer", pkgConfig: "gstreamer-1.0",
                       providers: [.apt(["libgstreamer1.0-dev"])]),
        .systemLibrary(name: "CGStreamerApp", pkgConfig: "gstreamer-app-1.0",
                       providers: [.apt(["libgstreamer-plugins-base1.0-dev"])]),
        .systemLibrary(name: "CGStreamerWebRTC", pkgConfig: "gstreamer-webrtc-1.0",
                       providers: [.apt(["libgstreamer-plugins-bad1.0-dev"])]),
        .systemLibrary(name: "CVulkan", pkgConfig: "vulkan", providers: [.apt(["libvulkan-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .target(name: "CVulkanShims", dependencies: ["CVulkan"]),
        .target(name: "CGStreamerShims", dependencies: ["CGStreamer", "CGStreamerApp", "CGStreamerWebRTC"],
                linkerSettings: [.linkedLibrary("gstwebrtc-1.0"), .linkedLibrary("gstsdp-1.0")]),
        .target(name: "COpusShims", dependencies: ["COpus"]),

        // Formats and wrappers over the C libraries.
        .target(name: "AvatarFormats", swiftSettings: strict),
        .target(name: "AvatarVulkan",
                dependencies: ["CVulkan", "CVulkanShims"],
                swiftSettings: strict),
        .target(name: "AvatarMedia",
                dependencies: ["AvatarFormats", "CGStreamer", "CGStreamerApp", "CGStreamerShims", "COpus", "COpusShims",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),

        // Operators on the engine.
        .target(name: "AvatarOperators",
                dependencies: ["AvatarVulkan", "AvatarFormats"],
                resources: [.copy("SPIRV")],
                swiftSettings: strict),

        // The typed model graph on the operators: symbolic values, builder calls, the planner.
        .target(name: "AvatarGraph", dependencies: ["AvatarOperators", "AvatarVulkan"], swiftSettings: strict),

        // Stage interfaces every model implements (audio → features → motion → frames).
        .target(name: "AvatarStages", dependencies: ["AvatarFormats"], swiftSettings: strict),

        // Models on the operators: audio front-ends + audio-to-motion, the face model + rasterizer,
        // and the avatars composed from them.
        .target(name: "AvatarMotion",
                dependencies: ["AvatarGraph", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarBundle", "AvatarStages"],
                swiftSettings: strict),
        .target(name: "AvatarFace",
                dependencies: ["AvatarGraph", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarStages"],
                swiftSettings: strict),
        .target(name: "AvatarRenderer",
                dependencies: ["AvatarGraph", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarBundle"],
                swiftSettings: strict),
        .target(name: "AvatarModels",
                dependencies: ["AvatarMotion", "AvatarFace", "AvatarRenderer", "AvatarOperators", "AvatarBundle", "AvatarStages", "AvatarFormats"],
                swiftSettings: strict),

        // Bundles, protocol, configuration.
        .target(name: "AvatarBundle", dependencies: ["AvatarFormats"], swiftSettings: strict),
        .target(name: "AvatarProtocol", dependencies: ["AvatarFormats"], swiftSettings: strict),
        .target(name: "AvatarConfig", swiftSettings: strict),

        // Session pipeline, server, CLI.
        .target(name: "AvatarPipeline",
                dependencies: ["AvatarFormats", "AvatarMedia", "AvatarProtocol", "AvatarConfig", "AvatarStages",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Metrics", package: "swift-metrics")],
                swiftSettings: strict),
        .target(name: "AvatarServer",
                dependencies: ["AvatarPipeline", "AvatarProtocol", "AvatarConfig",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "WSCore", package: "swift-websocket"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio"),
                               .product(name: "NIOWebSocket", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), "AvatarMedia"],
                // The browser page, compiled into the binary.
                resources: [.embedInCode("Web/index.html"), .embedInCode("Web/app.js"),
                            .embedInCode("Web/capture-worklet.js"), .embedInCode("Web/style.css")],
                swiftSettings: strict),
        .target(name: "AvatarClient",
                dependencies: ["AvatarProtocol",
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "WSClient", package: "swift-websocket"),
                               .product(name: "NIOWebSocket", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .executableTarget(name: "avatard",
                          dependencies: ["AvatarModels", "AvatarMotion", "AvatarFace", "AvatarServer", "AvatarPipeline", "AvatarClient",
                                         "AvatarStages", "AvatarOperators", "AvatarMedia", "AvatarFormats",
                                         "AvatarConfig", "AvatarBundle", "AvatarProtocol", "AvatarVulkan", "AvatarGraph", "AvatarRenderer",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),

        // Tests (Swift Testing). Test doubles live here only.
        .target(name: "AvatarTestSupport", dependencies: ["AvatarFormats", "AvatarStages", "AvatarMedia", "AvatarPipeline"],
                path: "Tests/AvatarTestSupport"),
        .testTarget(name: "AvatarPipelineTests",
                    dependencies: ["AvatarPipeline", "AvatarStages", "AvatarMedia", "AvatarConfig", "AvatarProtocol",
                                   "AvatarTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AvatarFormatsTests", dependencies: ["AvatarFormats"], resources: [.copy("Numpy")]),
        .testTarget(name: "AvatarVulkanTests", dependencies: ["AvatarVulkan", "AvatarOperators", "AvatarGraph", "AvatarFormats"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "AvatarMediaTests", dependencies: ["AvatarMedia", "AvatarFormats"]),
        .testTarget(name: "AvatarMotionTests",
                    dependencies: ["AvatarMotion", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarStages",
                                   "AvatarBundle", "AvatarTestSupport"]),
        .testTarget(name: "AvatarFaceTests",
                    dependencies: ["AvatarFace", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarMedia",
                                   "AvatarStages"]),
        .testTarget(name: "AvatarModelsTests",
                    dependencies: ["AvatarModels", "AvatarStages", "AvatarBundle", "AvatarOperators", "AvatarVulkan",
                                   "AvatarMotion", "AvatarFormats", "AvatarPipeline", "AvatarConfig", "AvatarTestSupport",
                                   .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AvatarRendererTests",
                    dependencies: ["AvatarRenderer", "AvatarGraph", "AvatarOperators", "AvatarVulkan", "AvatarFormats", "AvatarBundle"]),
        .testTarget(name: "AvatarProtocolTests", dependencies: ["AvatarProtocol", "AvatarFormats"]),
        .testTarget(name: "AvatarConfigTests", dependencies: ["AvatarConfig"]),
        .testTarget(name: "AvatarBundleTests", dependencies: ["AvatarBundle", "AvatarFormats"]),
        .testTarget(name: "AvatarServerTests",
                    dependencies: ["AvatarTestSupport", "AvatarServer", "AvatarModels", "AvatarOperators", "AvatarVulkan",
                                   "CGStreamer", "CGStreamerApp", "AvatarPipeline", "AvatarStages", "AvatarProtocol", "AvatarConfig",
                                   "AvatarBundle", "AvatarMedia", "AvatarClient",
                                   .product(name: "HTTPTypes", package: "swift-http-types"),
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOWebSocket", package: "swift-nio"),
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "WSClient", package: "swift-websocket")]),
    ]
)
