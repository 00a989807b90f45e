import Testing

@Test("the Client test target builds") func clientBuilds() {
    #expect(Bool(true))
}
