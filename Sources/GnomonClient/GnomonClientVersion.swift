import GnomonCore

/// Facts about this build of the Gnomon SDK.
public enum GnomonClientVersion {
    /// The SDK's version, the same as the server it was built with.
    public static var current: String { GnomonVersion.current }
}
