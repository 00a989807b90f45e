import Testing

@Test("the Server test target builds") func serverBuilds() {
    #expect(Bool(true))
}
