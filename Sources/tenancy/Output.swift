import Foundation
import Tenancy

/// Writes command output: results to standard output, errors to standard error.
struct Console: Sendable {
    func write(_ text: String) {
        print(text)
    }

    func writeError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes `value` as pretty-printed JSON with sorted keys and ISO 8601 times.
    func writeJSON(_ value: some Encodable) throws {
        write(try JSONOutput.string(value))
    }
}

enum JSONOutput {
    static func string(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Formats a time as ISO 8601 in UTC with milliseconds, the precision the registry stores.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// A table with a header row and columns padded to the widest cell.
struct TextTable {
    let headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    init(columns: [String]) {
        self.headers = columns
    }

    mutating func append(_ row: String...) {
        append(cells: row)
    }

    mutating func append(cells row: [String]) {
        precondition(row.count == headers.count, "a row needs one cell per column")
        rows.append(row)
    }

    func render() -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            let line = row.indices.map { column in
                row[column] + String(repeating: " ", count: widths[column] - row[column].count)
            }.joined(separator: "  ")
            return String(line.reversed().drop(while: { $0 == " " }).reversed())
        }.joined(separator: "\n")
    }

    /// Cuts a cell to `maximum` characters, marking the cut with "...".
    static func truncated(_ text: String, to maximum: Int) -> String {
        text.count <= maximum ? text : String(text.prefix(maximum - 3)) + "..."
    }
}

/// Label and value pairs, one per line, with the values aligned.
struct FieldList {
    private(set) var fields: [(label: String, value: String)] = []

    mutating func append(_ label: String, _ value: String?) {
        fields.append((label, value ?? "-"))
    }

    func render() -> String {
        let width = fields.map(\.label.count).max() ?? 0
        return fields.map { field in
            field.label + ":" + String(repeating: " ", count: width - field.label.count + 2) + field.value
        }.joined(separator: "\n")
    }
}
