/// PostgreSQL array literals, for binding many values to one parameter such as `$1::text[]`.
///
/// The literal travels as a parameter like any other value; it is never part of SQL text.
public enum PostgresArray {
    /// A one-dimensional array literal of the given elements, `nil` for NULL.
    ///
    /// Every element is quoted, so commas, braces, quotes and backslashes inside it are data.
    public static func literal(_ elements: [String?]) -> PostgresValue {
        var text = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 {
                text.append(",")
            }
            guard let element else {
                text.append("NULL")
                continue
            }
            text.append("\"")
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" {
                    text.append("\\")
                }
                text.unicodeScalars.append(character)
            }
            text.append("\"")
        }
        text.append("}")
        return .text(text)
    }

    /// A one-dimensional array literal of bindable values, using each one's text form.
    ///
    /// - Throws: ``StoreError`` with code `invalidParameter` for an element that binds as bytes,
    ///   which have no text form in an array literal.
    public static func literal(values elements: [any PostgresBindable]) throws -> PostgresValue {
        let texts: [String?] = try elements.map { element in
            switch element.postgresValue {
            case .null: return nil
            case .text(let text): return text
            case .bytes:
                throw StoreError(.invalidParameter, "bytes cannot be an element of a text array literal")
            }
        }
        return self.literal(texts)
    }
}
