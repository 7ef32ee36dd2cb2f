import AvatarConfig
import Testing

@Suite struct TOMLParserTests {
    @Test func parsesTheConfigurationSubset() throws {
        let text = """
        # comment
        title = "avatard"   # trailing comment
        [server]
        listen = "0.0.0.0:8080"
        tokens = ["a", 'b',
                  "c",]
        [limits]
        max_sessions = 1_000
        max_buffer_seconds = 2.5
        flag = true
        hex = 0x1F
        [output.presets."my-rtp"]
        mode = 'live'
        pipeline = \"\"\"
        x264enc ! \\
           rtph264pay\"\"\"
        inline = { a = 1, b = "two" }
        [[arr]]
        x = 1
        [[arr]]
        x = 2
        """
        let root = try TOMLParser.parse(text)
        #expect(root["title"] == .string("avatard"))
        guard case .table(let server)? = root["server"] else { Issue.record("no server table"); return }
        #expect(server["tokens"] == .array([.string("a"), .string("b"), .string("c")]))
        #expect(server.line(of: "listen") == 4)
        guard case .table(let limits)? = root["limits"] else { Issue.record("no limits"); return }
        #expect(limits["max_sessions"] == .integer(1000))
        #expect(limits["max_buffer_seconds"] == .float(2.5))
        #expect(limits["flag"] == .boolean(true))
        #expect(limits["hex"] == .integer(31))
        guard case .table(let output)? = root["output"], case .table(let presets)? = output["presets"],
              case .table(let rtp)? = presets["my-rtp"] else { Issue.record("no preset"); return }
        #expect(rtp["pipeline"] == .string("x264enc ! rtph264pay"))
        guard case .table(let inline)? = rtp["inline"] else { Issue.record("no inline table"); return }
        #expect(inline["a"] == .integer(1) && inline["b"] == .string("two"))
        guard case .array(let arr)? = root["arr"] else { Issue.record("no array of tables"); return }
        #expect(arr.count == 2)
    }

    @Test(arguments: [
        ("a = \n", 1),
        ("x = 1\ny = \"unterminated\n", 2),
        ("[t]\na = 1\n[t]\n", 3),
        ("a = 1\na = 2\n", 2),
        ("a = bare\n", 1),
        ("a = 1979-05-27T07:32:00Z\n", 1),
        ("a = 01\n", 1),
        ("a = 1 b = 2\n", 1),
    ])
    func reportsErrorsWithLines(text: String, line: Int) {
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
        }
    }
}

/// Hostile nesting is an error with a line, never a stack overflow.
@Suite struct TOMLDepthTests {
    @Test(arguments: [
        "a = " + String(repeating: "[", count: 50_000),
        "a = " + String(repeating: "{b = ", count: 50_000),
        "a" + String(repeating: ".a", count: 50_000) + " = 1",
        "[a" + String(repeating: ".a", count: 50_000) + "]",
    ])
    func deepNestingIsAnError(text: String) {
        #expect {
            try TOMLParser.parse(text)
        } throws: { error in
            (error as? TOMLError)?.message.contains("deeper than") == true
        }
    }

    @Test func nestingUpToTheLimitParses() throws {
        let text = "a = " + String(repeating: "[", count: 64) + "1" + String(repeating: "]", count: 64)
        _ = try TOMLParser.parse(text)
    }
}
