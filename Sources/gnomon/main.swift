import GnomonClient

// TODO: replace with the noun-verb command line once the SDK's calls exist.
print("gnomon \(GnomonClientVersion.current)")
