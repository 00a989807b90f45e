import Foundation

/// The rows and row count a statement returned, copied out of libpq.
public struct PostgresResult: Sendable {
    /// The column names, in order.
    public var columns: [String]
    /// The rows, each with its values in text format.
    public var rows: [PostgresRow]
    /// The rows the statement inserted, updated, deleted or returned.
    public var affectedRows: Int

    /// Creates a result; the connection builds these from libpq results.
    public init(columns: [String], rows: [PostgresRow], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The first row, if any.
    public var first: PostgresRow? { self.rows.first }
}

/// One row of a result; values are PostgreSQL's text output, `nil` for NULL.
public struct PostgresRow: Sendable {
    /// The row's values, in column order.
    public var values: [String?]
    private let columnIndex: [String: Int]

    /// Creates a row whose columns are found by `columnIndex`.
    public init(values: [String?], columnIndex: [String: Int]) {
        self.values = values
        self.columnIndex = columnIndex
    }

    /// The value of a column by position, `nil` for NULL.
    public subscript(_ index: Int) -> String? {
        self.values[index]
    }

    /// The value of a column by name, `nil` for NULL or an unknown column.
    public subscript(_ column: String) -> String? {
        self.columnIndex[column].flatMap { self.values[$0] }
    }

    /// A non-null text column.
    public func string(_ column: String) throws -> String {
        guard let index = self.columnIndex[column] else {
            throw StoreError(.unexpectedValue, "the result has no column '\(column)'")
        }
        guard let value = self.values[index] else {
            throw StoreError(.unexpectedValue, "column '\(column)' is NULL; expected a value")
        }
        return value
    }

    /// A non-null integer column.
    public func int64(_ column: String) throws -> Int64 {
        let text = try self.string(column)
        guard let value = Int64(text) else {
            throw StoreError(.unexpectedValue, "column '\(column)' holds '\(text)'; expected an integer")
        }
        return value
    }

    /// A non-null integer column that fits an `Int`.
    public func int(_ column: String) throws -> Int {
        Int(try self.int64(column))
    }

    /// A non-null boolean column.
    public func bool(_ column: String) throws -> Bool {
        switch try self.string(column) {
        case "t": return true
        case "f": return false
        case let text: throw StoreError(.unexpectedValue, "column '\(column)' holds '\(text)'; expected t or f")
        }
    }

    /// A non-null `bytea` column, decoded from PostgreSQL's hex output format.
    public func bytes(_ column: String) throws -> [UInt8] {
        let text = try self.string(column)
        guard let bytes = Self.decodeHex(text) else {
            throw StoreError(.unexpectedValue, "column '\(column)' is not bytea in hex format")
        }
        return bytes
    }

    private static func decodeHex(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension PostgresRow {
    /// A non-null column holding whole microseconds since the Unix epoch, as a date.
    ///
    /// Queries select `(extract(epoch FROM t) * 1000000)::bigint` for a `timestamptz` t, which
    /// is exact, rather than parse the text form.
    func date(microseconds column: String) throws -> Date {
        Date(timeIntervalSince1970: Double(try self.int64(column)) / 1_000_000)
    }

    /// A non-null `double precision` column.
    func double(_ column: String) throws -> Double {
        let text = try self.string(column)
        guard let value = Double(text) else {
            throw StoreError(.unexpectedValue, "column '\(column)' holds '\(text)'; expected a number")
        }
        return value
    }
}
