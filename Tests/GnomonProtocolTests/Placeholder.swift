import Testing

@Test("the Protocol test target builds") func protocolBuilds() {
    #expect(Bool(true))
}
