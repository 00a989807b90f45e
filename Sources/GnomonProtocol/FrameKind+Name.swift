extension V1.FrameKind {
    /// The short protocol name, such as `REQUEST`; `KIND_<number>` for a kind this build does not know.
    public var name: String {
        switch self {
        case .unspecified: return "UNSPECIFIED"
        case .request: return "REQUEST"
        case .response: return "RESPONSE"
        case .streamMessage: return "STREAM_MESSAGE"
        case .end: return "END"
        case .cancel: return "CANCEL"
        case .ping: return "PING"
        case .goaway: return "GOAWAY"
        case .unrecognized(let value): return "KIND_\(value)"
        }
    }

    /// Whether a peer may send this kind at all; unspecified and unknown kinds break the protocol.
    var isKnown: Bool {
        switch self {
        case .unspecified, .unrecognized: return false
        case .request, .response, .streamMessage, .end, .cancel, .ping, .goaway: return true
        }
    }
}

extension String {
    /// The string shortened for quoting in a message sent back to the peer or logged.
    ///
    /// Peers control these strings and a frame may be megabytes long, so a quote is bounded.
    func truncatedForMessage(limit: Int = 128) -> String {
        self.utf8.count <= limit ? self : String(decoding: self.utf8.prefix(limit), as: UTF8.self) + "…"
    }
}
