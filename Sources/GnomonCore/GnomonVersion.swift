/// The version of this build of Gnomon, shared by server, SDK and CLI.
public enum GnomonVersion {
    /// The release this source tree will become, in semantic-versioning form.
    public static let current = "0.1.0-dev"

    /// The wire protocol generation spoken by this build, announced through ALPN.
    public static let protocolName = "gnomon/1"
}
