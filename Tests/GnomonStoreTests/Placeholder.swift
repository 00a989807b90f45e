import Testing

@Test("the Store test target builds") func storeBuilds() {
    #expect(Bool(true))
}
