/// One method of the protocol: its wire name, its shape and its message types.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// How a method's responses flow.
    public enum Kind: Sendable, Hashable {
        /// One request, one response.
        case unary
        /// One request, then any number of stream messages and an end.
        case serverStreaming
    }

    /// The name on the wire, such as `gnomon.v1.JobService/SubmitJob`.
    public let fullName: String
    public let kind: Kind
    public let requestType: any ProtoMessage.Type
    public let responseType: any ProtoMessage.Type

    /// Creates a descriptor; the generated table holds one for every method.
    public init(
        fullName: String,
        kind: Kind,
        requestType: any ProtoMessage.Type,
        responseType: any ProtoMessage.Type
    ) {
        self.fullName = fullName
        self.kind = kind
        self.requestType = requestType
        self.responseType = responseType
    }

    /// The service part of the name, such as `gnomon.v1.JobService`.
    public var serviceName: Substring {
        self.fullName.prefix { $0 != "/" }
    }

    /// The method part of the name, such as `SubmitJob`.
    public var methodName: Substring {
        self.fullName.drop { $0 != "/" }.dropFirst()
    }

    /// Finds a method by its wire name.
    ///
    /// - Parameter fullName: A name such as `gnomon.v1.JobService/SubmitJob`.
    /// - Returns: The method, or `nil` when the protocol has no such method.
    public static func named(_ fullName: String) -> MethodDescriptor? {
        Self.byName[fullName]
    }

    private static let byName: [String: MethodDescriptor] = Dictionary(
        uniqueKeysWithValues: Self.all.map { ($0.fullName, $0) }
    )

    public var description: String { self.fullName }

    public static func == (lhs: MethodDescriptor, rhs: MethodDescriptor) -> Bool {
        lhs.fullName == rhs.fullName
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.fullName)
    }
}
