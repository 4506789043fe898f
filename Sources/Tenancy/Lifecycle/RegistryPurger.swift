/// The registry's own purger: erases personal data from the tenant's record, leaving the
/// tombstone (id, status, tier, times).
struct RegistryPurger: TenantPurger {
    let store: any TenantStore

    var name: String { "registry" }

    func purge(_ tenantID: TenantID) async throws -> Int {
        let before = try await store.tenant(tenantID)
        guard let before else { return 0 }
        let hadPersonalData = !before.name.isEmpty || before.adminEmail != nil || !before.metadata.isEmpty
            || before.suspensionReason != nil
        try await store.update(tenantID) { tenant in
            var erased = tenant
            erased.name = ""
            erased.adminEmail = nil
            erased.metadata = [:]
            erased.suspensionReason = nil
            erased.config = TenantConfig()
            return erased
        }
        return hadPersonalData ? 1 : 0
    }
}
