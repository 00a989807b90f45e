import Testing

@testable import GnomonStore

@Suite("Tenant quotas")
struct TenantQuotasTests {
    @Test("zeros and values up to each maximum are valid")
    func validRange() throws {
        try TenantQuotas().validate()
        let largest = TenantQuotas(
            submitRatePerSecond: 1_000_000,
            submitBurst: 10_000_000,
            maxPendingJobs: 1_000_000_000_000,
            maxSchedules: 10_000_000,
            maxPayloadBytes: 64 * 1_024 * 1_024,
            maxConcurrentRuns: 10_000_000,
            maxSecrets: 1_000_000
        )
        try largest.validate()
        try TenantQuotas(submitRatePerSecond: 0.001).validate()
    }

    @Test(
        "a quota out of range is refused with its name, its value and the range accepted",
        arguments: [
            (TenantQuotas(submitRatePerSecond: -1), "submit_rate_per_second is -1; expected 0"),
            (TenantQuotas(submitRatePerSecond: .nan), "submit_rate_per_second is nan; expected 0"),
            (TenantQuotas(submitRatePerSecond: .infinity), "submit_rate_per_second is inf; expected 0"),
            (TenantQuotas(submitRatePerSecond: 1_000_001), "to 1000000 submissions per second"),
            (TenantQuotas(submitBurst: 10_000_001), "submit_burst is 10000001; expected 0"),
            (TenantQuotas(maxPendingJobs: -5), "max_pending_jobs is -5; expected 0"),
            (TenantQuotas(maxPendingJobs: 1_000_000_000_001), "to 1000000000000 jobs"),
            (TenantQuotas(maxSchedules: .max), "max_schedules is 9223372036854775807"),
            (TenantQuotas(maxPayloadBytes: 64 * 1_024 * 1_024 + 1), "to 67108864 bytes"),
            (TenantQuotas(maxConcurrentRuns: -1), "max_concurrent_runs is -1"),
            (TenantQuotas(maxSecrets: 1_000_001), "max_secrets is 1000001; expected 0 (the deployment's default) to"),
        ]
    )
    func outOfRange(quotas: TenantQuotas, expected: String) {
        let error = #expect(throws: StoreError.self) { try quotas.validate() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
        #expect(quotas.violations().count == 1)
    }

    @Test("every wrong quota is named at once")
    func allNamed() {
        let quotas = TenantQuotas(submitRatePerSecond: -1, submitBurst: -1, maxSecrets: -1)
        #expect(quotas.violations().map(\.field) == [.submitRatePerSecond, .submitBurst, .maxSecrets])
    }

    @Test("resolving fills each zero from the defaults and keeps what was set")
    func resolved() {
        let defaults = TenantQuotas(submitRatePerSecond: 100, submitBurst: 200, maxPendingJobs: 10_000, maxSecrets: 50)
        let own = TenantQuotas(submitRatePerSecond: 2.5, maxPendingJobs: 7)
        #expect(
            own.resolved(over: defaults)
                == TenantQuotas(submitRatePerSecond: 2.5, submitBurst: 200, maxPendingJobs: 7, maxSecrets: 50)
        )
    }

    @Test("tenant ids are checked as the schema's domain checks them")
    func tenantIDs() {
        for valid in ["a", "acme", "acme-2", "a" + String(repeating: "-", count: 62)] {
            #expect(TenantStore.isValidID(valid), "\(valid)")
        }
        for invalid in ["", "Acme", "2acme", "-acme", "acme_2", "acmé", String(repeating: "a", count: 64)] {
            #expect(!TenantStore.isValidID(invalid), "\(invalid)")
        }
    }
}
