import Testing

@Test("the Postgres test target builds") func postgresBuilds() {
    #expect(Bool(true))
}
