internal import CGStreamerShims
internal import CGStreamer

/// Puts client-settable string values into a parsed pipeline: every readable string property of every
/// element (entering bins the description made) whose value contains a binding's token gets the token
/// replaced by the value and set back. The values never pass through `gst_parse`, so they cannot add
/// elements or properties. A token found nowhere is an error (the preset used a string option somewhere
/// other than an element's string property, e.g. inside caps).
enum PipelineBindings {
    static func apply(_ bindings: [String: String], to bin: UnsafeMutablePointer<GstElement>) throws(OutputError) {
        guard !bindings.isEmpty else { return }
        var found = Set<String>()
        visit(bin, bindings: bindings, found: &found)
        if let missing = bindings.keys.first(where: { !found.contains($0) }) {
            throw .parse("a client-settable string option (token \(missing)) must be the value of an element's string property")
        }
    }

    private static func visit(_ bin: UnsafeMutablePointer<GstElement>, bindings: [String: String], found: inout Set<String>) {
        var node = avd_gst_bin_children(UnsafeMutableRawPointer(bin).assumingMemoryBound(to: GstBin.self))
        while let current = node {
            if let raw = current.pointee.data {
                let child = raw.assumingMemoryBound(to: GstElement.self)
                let factory = avd_gst_element_factory_name(child).map { String(cString: $0) }
                if (factory == nil || factory == "bin"), avd_gst_is_bin(raw) != 0 {
                    visit(child, bindings: bindings, found: &found)
                } else {
                    bind(child, bindings: bindings, found: &found)
                }
            }
            node = current.pointee.next
        }
    }

    private static func bind(_ element: UnsafeMutablePointer<GstElement>, bindings: [String: String], found: inout Set<String>) {
        var count: guint = 0
        guard let specs = avd_g_object_list_properties(UnsafeMutableRawPointer(element), &count) else { return }
        defer { g_free(specs) }
        for i in 0..<Int(count) {
            guard let spec = specs[i], avd_g_param_spec_is_readable_string(spec) != 0,
                  let cName = g_param_spec_get_name(spec),
                  let raw = avd_g_object_get_string(UnsafeMutableRawPointer(element), cName) else { continue }
            let current = String(cString: raw)
            g_free(raw)
            var updated = current
            for (token, value) in bindings where updated.contains(token) {
                updated = updated.replacing(token, with: value)
                found.insert(token)
            }
            if updated != current { avd_g_object_set_string(UnsafeMutableRawPointer(element), cName, updated) }
        }
    }
}
