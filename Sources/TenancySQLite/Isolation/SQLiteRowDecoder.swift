import Foundation

extension SQLiteRow {
    /// Decodes the row into a `Decodable` type whose property names match the column names.
    ///
    /// Integers, floating-point numbers, strings, booleans (stored as 0 or 1), `Data` (blobs),
    /// `Date` (integer milliseconds since 1970) and optionals (NULL) decode; nested types do
    /// not.
    public func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        try Value(from: RowDecoder(row: self))
    }
}

/// A `Decoder` over one row; only keyed containers of single values are supported.
private struct RowDecoder: Decoder {
    let row: SQLiteRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a row decodes into a keyed type"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a row decodes into a keyed type"))
    }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: SQLiteRow
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { row.columnNames.compactMap(Key.init(stringValue:)) }

    func contains(_ key: Key) -> Bool {
        row.columns.indexes[key.stringValue] != nil
    }

    private func value(_ key: Key) throws -> SQLiteValue {
        guard let index = row.columns.indexes[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "no column named '\(key.stringValue)'"))
        }
        return row.values[index]
    }

    private func mismatch<T>(_ type: T.Type, _ key: Key) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: [key], debugDescription: "column '\(key.stringValue)' does not hold a \(type)"))
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try value(key) == .null
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        guard case .integer(let value) = try value(key) else { throw mismatch(type, key) }
        return value != 0
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        guard case .text(let value) = try value(key) else { throw mismatch(type, key) }
        return value
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        switch try value(key) {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: throw mismatch(type, key)
        }
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        Float(try decode(Double.self, forKey: key))
    }

    func decode<T: BinaryInteger & Decodable>(integer type: T.Type, forKey key: Key) throws -> T {
        guard case .integer(let value) = try value(key), let exact = T(exactly: value) else { throw mismatch(type, key) }
        return exact
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(integer: type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(integer: type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(integer: type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(integer: type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(integer: type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(integer: type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(integer: type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(integer: type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(integer: type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(integer: type, forKey: key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let stored = try value(key)
        if type == Data.self, case .blob(let bytes) = stored { return Data(bytes) as! T }
        if type == Date.self, case .integer(let milliseconds) = stored {
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000) as! T
        }
        if type == UUID.self, case .text(let text) = stored, let uuid = UUID(uuidString: text) { return uuid as! T }
        if type == SQLiteValue.self { return stored as! T }
        // Types that decode from one value (enums with raw values, TenantID) get it here.
        return try T(from: ValueDecoder(value: stored, key: key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw mismatch(type, key)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw mismatch([Any].self, key)
    }

    func superDecoder() throws -> any Decoder { RowDecoder(row: row) }

    func superDecoder(forKey key: Key) throws -> any Decoder { RowDecoder(row: row) }
}

/// A `Decoder` over one column value, for types that decode from a single value.
private struct ValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: SQLiteValue
    let key: any CodingKey
    var codingPath: [any CodingKey] { [key] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Nested: CodingKey>(keyedBy type: Nested.Type) throws -> KeyedDecodingContainer<Nested> {
        throw mismatch(type)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw mismatch([Any].self) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    private func mismatch<T>(_ type: T.Type) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: [key], debugDescription: "column '\(key.stringValue)' does not hold a \(type)"))
    }

    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .integer(let number) = value else { throw mismatch(type) }
        return number != 0
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .text(let text) = value else { throw mismatch(type) }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .real(let number): return number
        case .integer(let number): return Double(number)
        default: throw mismatch(type)
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<T: BinaryInteger>(_ type: T.Type) throws -> T {
        guard case .integer(let number) = value, let exact = T(exactly: number) else { throw mismatch(type) }
        return exact
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
}
