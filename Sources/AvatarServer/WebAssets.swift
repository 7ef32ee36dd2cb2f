/// The browser page, compiled into the binary (Package.swift embeds `Web/` with `.embedInCode`), so any
/// copy of the executable serves it without installed files.
enum WebAssets {
    struct Asset {
        let bytes: [UInt8]
        let contentType: String
    }

    static func asset(for path: String) -> Asset? {
        switch path {
        case "/", "/index.html": Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8")
        case "/app.js": Asset(bytes: PackageResources.app_js, contentType: "text/javascript; charset=utf-8")
        case "/capture-worklet.js": Asset(bytes: PackageResources.capture_worklet_js, contentType: "text/javascript; charset=utf-8")
        case "/style.css": Asset(bytes: PackageResources.style_css, contentType: "text/css; charset=utf-8")
        default: nil
        }
    }
}
