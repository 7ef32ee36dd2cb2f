/// A TOML 1.0 parser for configuration files: tables, arrays of tables, dotted and quoted keys, basic/literal
/// (multi-line) strings, integers (decimal, hex, octal, binary, underscores), floats (incl. inf/nan), booleans,
/// arrays and inline tables. Date-times are rejected with a clear error (avatard's configuration has none).
public struct TOMLParser {
    private let chars: [Character]
    private var pos = 0
    private var line = 1
    private var lineStart = 0
    /// Arrays and inline tables open at the current point, and the limit on that (and on dotted keys): the
    /// parser and the values it builds recurse per level, so a hostile file 50,000 levels deep would
    /// overflow the stack instead of getting an error.
    private var depth = 0
    public static let maxDepth = 64

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(text)
        return try parser.document()
    }

    private init(_ text: String) { chars = Array(text) }

    // MARK: document structure

    private mutating func document() throws(TOMLError) -> TOMLTable {
        var root = TOMLTable()
        var current: [String] = []
        var definedTables: Set<[String]> = []
        while true {
            skipWhitespaceAndComments(newlines: true)
            guard let c = peek() else { break }
            if c == "[" {
                let headerLine = line
                advance()
                let isArray = peek() == "["
                if isArray { advance() }
                skipInlineSpace()
                let path = try keyPath()
                skipInlineSpace()
                try expect("]")
                if isArray { try expect("]") }
                try endOfLine()
                if isArray {
                    try appendArrayTable(&root, path: path, line: headerLine)
                } else {
                    guard !definedTables.contains(path) else {
                        throw TOMLError(line: headerLine, column: 1, message: "table [\(path.joined(separator: "."))] is defined twice")
                    }
                    definedTables.insert(path)
                    try ensureTable(&root, path: path, line: headerLine)
                }
                current = path
            } else {
                let keyLine = line
                let path = try keyPath()
                skipInlineSpace()
                try expect("=")
                skipInlineSpace()
                let value = try value()
                try endOfLine()
                try insert(&root, tablePath: current, keyPath: path, value: value, line: keyLine)
            }
        }
        return root
    }

    private func error(_ message: String) -> TOMLError {
        TOMLError(line: line, column: pos - lineStart + 1, message: message)
    }

    private func peek(_ offset: Int = 0) -> Character? {
        pos + offset < chars.count ? chars[pos + offset] : nil
    }

    private mutating func advance() {
        if pos < chars.count, chars[pos] == "\n" {
            line += 1
            lineStart = pos + 1
        }
        pos += 1
    }

    private mutating func expect(_ c: Character) throws(TOMLError) {
        guard peek() == c else { throw error("expected '\(c)'\(peek().map { ", found '\($0)'" } ?? " before end of file")") }
        advance()
    }

    private mutating func skipInlineSpace() {
        while let c = peek(), c == " " || c == "\t" { advance() }
    }

    private mutating func skipWhitespaceAndComments(newlines: Bool) {
        while let c = peek() {
            if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r\n" || c == "\r")) {
                advance()
            } else if c == "#" {
                while let d = peek(), d != "\n", d != "\r\n" { advance() }
            } else {
                break
            }
        }
    }

    private mutating func endOfLine() throws(TOMLError) {
        skipInlineSpace()
        if peek() == "#" { while let d = peek(), d != "\n", d != "\r\n" { advance() } }
        guard let c = peek() else { return }
        guard c == "\n" || c == "\r\n" || c == "\r" else { throw error("unexpected '\(c)' after value; expected end of line") }
        advance()
    }

    // MARK: keys

    private mutating func keyPath() throws(TOMLError) -> [String] {
        var parts = [try simpleKey()]
        while true {
            skipInlineSpace()
            guard peek() == "." else { break }
            advance()
            skipInlineSpace()
            parts.append(try simpleKey())
            if parts.count > Self.maxDepth { throw error("dotted key deeper than \(Self.maxDepth) levels") }
        }
        return parts
    }

    private mutating func simpleKey() throws(TOMLError) -> String {
        if peek() == "\"" { return try basicString() }
        if peek() == "'" { return try literalString() }
        var key = ""
        while let c = peek(), c.isASCII, c.isLetter || c.isNumber || c == "_" || c == "-" {
            key.append(c)
            advance()
        }
        guard !key.isEmpty else { throw error("expected a key\(peek().map { ", found '\($0)'" } ?? "")") }
        return key
    }

    // MARK: values

    private mutating func value() throws(TOMLError) -> TOMLValue {
        guard let c = peek() else { throw error("expected a value before end of file") }
        switch c {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .string(try multilineBasicString()) }
            return .string(try basicString())
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .string(try multilineLiteralString()) }
            return .string(try literalString())
        case "[": return try array()
        case "{": return try inlineTable()
        case "t", "f":
            if matchWord("true") { return .boolean(true) }
            if matchWord("false") { return .boolean(false) }
            throw error("unknown value; strings must be quoted")
        default:
            return try number()
        }
    }

    private mutating func matchWord(_ word: String) -> Bool {
        let w = Array(word)
        for (i, ch) in w.enumerated() where peek(i) != ch { return false }
        if let after = peek(w.count), after.isLetter || after.isNumber || after == "_" { return false }
        for _ in w { advance() }
        return true
    }

    private mutating func number() throws(TOMLError) -> TOMLValue {
        var text = ""
        while let c = peek(), c.isLetter || c.isNumber || "+-._:".contains(c) {
            text.append(c)
            advance()
        }
        guard !text.isEmpty else { throw error("expected a value\(peek().map { ", found '\($0)'" } ?? "")") }
        if text.contains(":") || (text.count >= 10 && text.dropFirst(4).first == "-" && text.first?.isNumber == true) {
            throw error("date/time values are not supported ('\(text)')")
        }
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.contains("__") || text.hasPrefix("_") || text.hasSuffix("_") {
            throw error("malformed number '\(text)'")
        }
        let clean = text.filter { $0 != "_" }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where clean.hasPrefix(prefix) {
            guard let v = Int64(clean.dropFirst(2), radix: radix) else { throw error("malformed number '\(text)'") }
            return .integer(v)
        }
        let isFloat = clean.contains(".") || ((clean.contains("e") || clean.contains("E")) && !clean.hasPrefix("0x"))
        if isFloat {
            guard let v = Double(clean), !clean.hasPrefix("."), !clean.hasSuffix(".") else {
                throw error("malformed float '\(text)'")
            }
            return .float(v)
        }
        let digits = clean.hasPrefix("+") || clean.hasPrefix("-") ? clean.dropFirst() : Substring(clean)
        if digits.count > 1 && digits.hasPrefix("0") { throw error("leading zeros are not allowed in '\(text)'") }
        guard let v = Int64(clean) else { throw error("malformed value '\(text)'; strings must be quoted") }
        return .integer(v)
    }

    private mutating func array() throws(TOMLError) -> TOMLValue {
        try expect("[")
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw error("arrays and inline tables nested deeper than \(Self.maxDepth) levels") }
        var items: [TOMLValue] = []
        while true {
            skipWhitespaceAndComments(newlines: true)
            if peek() == "]" { advance(); break }
            items.append(try value())
            skipWhitespaceAndComments(newlines: true)
            if peek() == "," { advance(); continue }
            try expect("]")
            break
        }
        return .array(items)
    }

    private mutating func inlineTable() throws(TOMLError) -> TOMLValue {
        let startLine = line
        try expect("{")
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw error("arrays and inline tables nested deeper than \(Self.maxDepth) levels") }
        var table = TOMLTable(line: startLine)
        skipInlineSpace()
        if peek() == "}" { advance(); return .table(table) }
        while true {
            skipInlineSpace()
            let keyLine = line
            let path = try keyPath()
            skipInlineSpace()
            try expect("=")
            skipInlineSpace()
            let v = try value()
            try insert(into: &table, keyPath: path[...], value: v, line: keyLine)
            skipInlineSpace()
            if peek() == "," { advance(); continue }
            try expect("}")
            break
        }
        return .table(table)
    }

    // MARK: strings

    private mutating func basicString() throws(TOMLError) -> String {
        try expect("\"")
        var s = ""
        while true {
            guard let c = peek() else { throw error("unterminated string") }
            if c == "\n" || c == "\r\n" { throw error("newline in a single-line string") }
            advance()
            if c == "\"" { return s }
            if c == "\\" { s.append(contentsOf: try escape()) } else { s.append(c) }
        }
    }

    private mutating func multilineBasicString() throws(TOMLError) -> String {
        for _ in 0..<3 { advance() }
        if peek() == "\n" || peek() == "\r\n" { advance() }
        var s = ""
        while true {
            guard let c = peek() else { throw error("unterminated multi-line string") }
            if c == "\"" && peek(1) == "\"" && peek(2) == "\"" {
                for _ in 0..<3 { advance() }
                while peek() == "\"" && s.count < Int.max { s.append("\""); advance() }
                return s
            }
            advance()
            if c == "\\" {
                // A line-ending backslash trims the newline and following whitespace.
                if let n = peek(), n == "\n" || n == "\r\n" || n == " " || n == "\t" {
                    var look = 0
                    while let w = peek(look), w == " " || w == "\t" { look += 1 }
                    if let w = peek(look), w == "\n" || w == "\r\n" {
                        while let w = peek(), w == " " || w == "\t" || w == "\n" || w == "\r\n" { advance() }
                        continue
                    }
                }
                s.append(contentsOf: try escape())
            } else {
                s.append(c)
            }
        }
    }

    private mutating func literalString() throws(TOMLError) -> String {
        try expect("'")
        var s = ""
        while true {
            guard let c = peek() else { throw error("unterminated literal string") }
            if c == "\n" || c == "\r\n" { throw error("newline in a single-line string") }
            advance()
            if c == "'" { return s }
            s.append(c)
        }
    }

    private mutating func multilineLiteralString() throws(TOMLError) -> String {
        for _ in 0..<3 { advance() }
        if peek() == "\n" || peek() == "\r\n" { advance() }
        var s = ""
        while true {
            guard let c = peek() else { throw error("unterminated multi-line literal string") }
            if c == "'" && peek(1) == "'" && peek(2) == "'" {
                for _ in 0..<3 { advance() }
                while peek() == "'" { s.append("'"); advance() }
                return s
            }
            advance()
            s.append(c)
        }
    }

    private mutating func escape() throws(TOMLError) -> String {
        guard let e = peek() else { throw error("unterminated escape") }
        advance()
        switch e {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let n = e == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<n {
                guard let h = peek(), h.isHexDigit else { throw error("bad unicode escape") }
                hex.append(h)
                advance()
            }
            guard let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw error("bad unicode escape") }
            return String(Character(scalar))
        default:
            throw error("unknown escape '\\\(e)'")
        }
    }

    // MARK: tables

    private func ensureTable(_ root: inout TOMLTable, path: [String], line: Int) throws(TOMLError) {
        try Self.walk(&root, path[...], line: line) { _ throws(TOMLError) in }
    }

    private func appendArrayTable(_ root: inout TOMLTable, path: [String], line: Int) throws(TOMLError) {
        let parent = path.dropLast()
        let last = path[path.count - 1]
        try Self.walk(&root, parent, line: line) { (table: inout TOMLTable) throws(TOMLError) in
            switch table[last] {
            case nil:
                table.set(last, .array([.table(TOMLTable(line: line))]), line: line)
            case .array(var items)?:
                items.append(.table(TOMLTable(line: line)))
                table.set(last, .array(items), line: table.line(of: last))
            default:
                throw TOMLError(line: line, column: 1, message: "key '\(last)' is not an array of tables")
            }
        }
    }

    private func insert(_ root: inout TOMLTable, tablePath: [String], keyPath: [String], value: TOMLValue, line: Int) throws(TOMLError) {
        try Self.walk(&root, tablePath[...], line: line) { (table: inout TOMLTable) throws(TOMLError) in
            try insert(into: &table, keyPath: keyPath[...], value: value, line: line)
        }
    }

    private func insert(into table: inout TOMLTable, keyPath: ArraySlice<String>, value: TOMLValue, line: Int) throws(TOMLError) {
        let key = keyPath[keyPath.startIndex]
        if keyPath.count == 1 {
            guard table[key] == nil else { throw TOMLError(line: line, column: 1, message: "key '\(key)' is defined twice") }
            table.set(key, value, line: line)
            return
        }
        var sub: TOMLTable
        switch table[key] {
        case nil: sub = TOMLTable(line: line)
        case .table(let t)?: sub = t
        default: throw TOMLError(line: line, column: 1, message: "key '\(key)' is not a table")
        }
        try insert(into: &sub, keyPath: keyPath.dropFirst(), value: value, line: line)
        table.set(key, .table(sub), line: table[key] == nil ? line : table.line(of: key))
    }

    /// Walks (creating as needed) to the table at `path`; the last element of an array of tables is entered.
    private static func walk(_ table: inout TOMLTable, _ path: ArraySlice<String>, line: Int,
                             _ body: (inout TOMLTable) throws(TOMLError) -> Void) throws(TOMLError) {
        guard let key = path.first else { try body(&table); return }
        switch table[key] {
        case nil:
            var sub = TOMLTable(line: line)
            try walk(&sub, path.dropFirst(), line: line, body)
            table.set(key, .table(sub), line: line)
        case .table(var sub)?:
            try walk(&sub, path.dropFirst(), line: line, body)
            table.set(key, .table(sub), line: table.line(of: key))
        case .array(var items)?:
            guard case .table(var sub)? = items.last else {
                throw TOMLError(line: line, column: 1, message: "key '\(key)' is not a table")
            }
            try walk(&sub, path.dropFirst(), line: line, body)
            items[items.count - 1] = .table(sub)
            table.set(key, .array(items), line: table.line(of: key))
        default:
            throw TOMLError(line: line, column: 1, message: "key '\(key)' is not a table")
        }
    }
}
