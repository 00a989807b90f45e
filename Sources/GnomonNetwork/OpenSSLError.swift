import COpenSSL

/// One entry of OpenSSL's per-thread error queue, copied out as text.
///
/// OpenSSL reports why a call failed by pushing entries onto a queue that belongs to the calling
/// thread. A call made after an earlier failure would otherwise report that older failure too,
/// so every call into OpenSSL that can fail is preceded by ``clearQueue()`` and followed, when it
/// failed, by ``drainQueue()``.
struct OpenSSLError: Sendable, Hashable, CustomStringConvertible {
    /// OpenSSL's packed error code.
    var code: UInt
    /// The reason alone, such as `no application protocol`.
    var reason: String
    /// The whole entry as OpenSSL prints it, with any detail the failing call attached.
    var description: String

    /// Forgets every entry the calling thread's queue holds.
    static func clearQueue() {
        ERR_clear_error()
    }

    /// Removes and returns every entry of the calling thread's queue, oldest first.
    static func drainQueue() -> [OpenSSLError] {
        var errors: [OpenSSLError] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 {
                return errors
            }
            errors.append(OpenSSLError(code: code, data: (flags & ERR_TXT_STRING) != 0 ? data : nil))
        }
    }

    private init(code: UInt, data: UnsafePointer<CChar>?) {
        self.code = code
        self.reason = ERR_reason_error_string(code).map { String(cString: $0) } ?? "reason \(ERR_GET_REASON(code))"

        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        self.description = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let data, data.pointee != 0 {
            self.description += " (\(String(cString: data)))"
        }
    }
}
