import CLibPQ

/// Facts about the libpq this build is linked against.
public enum LibPQ {
    /// The libpq version as a number, such as `150018` for 15.18.
    public static var version: Int {
        Int(PQlibVersion())
    }
}
