import Testing

@Test("the Network test target builds") func networkBuilds() {
    #expect(Bool(true))
}
