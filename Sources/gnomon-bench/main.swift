import GnomonCore

// TODO: add the rpc and store benchmarks with the transport and store layers.
print("gnomon-bench \(GnomonVersion.current): no benchmarks yet")
