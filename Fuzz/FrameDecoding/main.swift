import GnomonProtocol

/// Reads one input as a byte stream arriving in chunks, and checks what the decoder makes of it.
///
/// libFuzzer calls this for every input it tries. The decoder's frames and errors are checked
/// against ``ExpectedFrames``, and every frame goes to both connection state machines, whose
/// actions are checked by ``ConnectionMachines``; a broken rule traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FrameStreamInput(UnsafeBufferPointer(start: data, count: size))
    var run = DecodingRun(input)
    run.run()
    return 0
}
