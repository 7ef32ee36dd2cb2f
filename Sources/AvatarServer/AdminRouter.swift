import AvatarPipeline
import Foundation
import Hummingbird
import Prometheus

/// The admin listener: /livez, /readyz, /metrics, /v1/avatars.
enum AdminRouter {
    static func make(readiness: Readiness, registry: SessionRegistry, avatars: AvatarRegistry,
                     metrics: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        let process = ProcessMetrics(registry: metrics)
        // Liveness never touches the GPU: it must not flap under load.
        router.get("/livez") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: .init(string: "ok\n")))
        }
        router.get("/readyz") { _, _ in
            let reasons = readiness.current(registry: registry)
            var fields: [String: Any] = ["ready": reasons.isEmpty, "reasons": reasons,
                                         "sessions_active": registry.activeCount, "max_sessions": registry.maxSessions,
                                         "sessions_available": registry.available]
            if let budget = registry.capacity.budget {
                fields["device_load"] = (registry.load * 1000).rounded() / 1000
                fields["device_budget"] = (budget * 1000).rounded() / 1000
            }
            let body = json(fields)
            return Response(status: reasons.isEmpty ? .ok : .serviceUnavailable,
                            headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: body)))
        }
        router.get("/metrics") { _, _ in
            process.update()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: .init(bytes: metrics.emitToBuffer())))
        }
        router.get("/v1/avatars") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: .init(string: json(avatarList(avatars)))))
        }
        return router
    }

    /// `{"avatars": [...]}`: name, description, video size/fps, styles, motion dimensions of each loaded avatar.
    static func avatarList(_ avatars: AvatarRegistry) -> [String: Any] {
        let list: [[String: Any]] = avatars.names.compactMap { name in
            guard let a = avatars[name] else { return nil }
            var entry: [String: Any] = [
                "name": a.name, "description": a.description,
                "video": ["width": a.width, "height": a.height, "fps": a.fps],
                "styles": a.styles, "motion_dimensions": a.motionNames.count, "renders_video": a.rendersVideo,
            ]
            if let d = a.defaultStyle { entry["default_style"] = d }
            return entry
        }
        return ["avatars": list]
    }

    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
