import Testing

@Test("the Core test target builds") func coreBuilds() {
    #expect(Bool(true))
}
