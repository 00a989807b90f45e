extension OptionParser.Values {
    /// Returns an option's value as a `host:port` address.
    ///
    /// - Parameter name: The option's long name without dashes.
    /// - Throws: ``UsageError`` when the host is missing, an IPv6 host lacks brackets, or the
    ///   port is not 0 to 65535.
    public func hostAndPort(_ name: String) throws(UsageError) -> HostAndPort? {
        guard let text = self.string(name) else {
            return nil
        }
        switch HostAndPort.parse(text) {
        case .success(let address):
            return address

        case .failure(let expected):
            throw self.invalidValue(name, expected: expected)
        }
    }
}
