import Foundation

extension TenantManager {
    /// Deletes a tenant.
    ///
    /// Without purge the tenant becomes `cancelled`: no scope can enter it, and
    /// `updateStatus(id, to: .active)` restores it within the retention period. With purge the
    /// deletion is a durable job: the tenant becomes `deleting` (which blocks every scope), each
    /// registered purger runs in order and then the registry's own, which erases the name and
    /// admin e-mail; the receipt is stored and the tenant ends as a `deleted` tombstone. After a
    /// crash, calling this again (or ``resumeInterruptedDeletions()``) resumes from the first
    /// purger that did not finish. Calling it on a `deleted` tenant returns the stored receipt.
    ///
    /// - Returns: the receipt of the purge, or nil without purge.
    /// - Throws: ``InvalidTransitionError`` (for example a cancel of a `deleting` tenant),
    ///   ``PurgeFailedError`` when a purger fails (the job stays resumable),
    ///   ``TenantNotFoundError``.
    @discardableResult
    public func deleteTenant(_ id: TenantID, purgeData: Bool = false) async throws -> PurgeReceipt? {
        guard purgeData else {
            _ = try await changeStatus(id, to: .cancelled, reason: nil)
            return nil
        }

        // The status is read and changed in one atomic update, because another caller (in this
        // process or another) may have started or finished the same deletion meanwhile.
        let (current, started) = try await changeStatus(id, to: .deleting, reason: nil) { $0.status == .deleted }
        return try await continuePurge(current, started: started)
    }

    /// Runs the purge after the move to `deleting`: records its start when this caller made
    /// the move, resumes a `deleting` tenant, and returns the stored receipt of a `deleted` one.
    private func continuePurge(_ current: Tenant, started: Bool) async throws -> PurgeReceipt {
        if current.status == .deleted {
            return try await storedReceipt(current.id)
        }
        if started {
            FaultInjection.reach("purge.after-deleting")
            try await record(.purgeStarted, tenant: current.id)
            publish(.purgeStarted(current.id))
        }
        return try await runPurge(current.id)
    }

    /// Returns the receipt stored for a `deleted` tenant.
    private func storedReceipt(_ id: TenantID) async throws -> PurgeReceipt {
        guard let receipt = try await purgeJobs.job(for: id)?.receipt else {
            throw TenantStateError(tenantID: id, status: .deleted, operation: "read the purge receipt")
        }
        return receipt
    }

    /// Resumes every deletion with purge that a crash or a failed purger interrupted, and
    /// returns their receipts. Services call it at start-up; `purgeExpired()` calls it first.
    @discardableResult
    public func resumeInterruptedDeletions() async throws -> [PurgeReceipt] {
        var receipts: [PurgeReceipt] = []
        var cursor: TenantID?
        repeat {
            let page = try await store.list(TenantQuery(status: .deleting, after: cursor, limit: 100))
            for tenant in page.tenants {
                logger.info("resuming interrupted deletion", ["tenant.id": tenant.id.rawValue])
                receipts.append(try await runPurge(tenant.id))
            }
            cursor = page.nextCursor
        } while cursor != nil
        return receipts
    }

    /// Purges every cancelled tenant whose retention period has ended, one deletion job per
    /// tenant, after resuming interrupted deletions. Returns every receipt.
    @discardableResult
    public func purgeExpired() async throws -> [PurgeReceipt] {
        var receipts = try await resumeInterruptedDeletions()
        let cutoff = clock.now().addingTimeInterval(-retentionPeriod.timeInterval)
        var expired: [TenantID] = []
        var cursor: TenantID?
        repeat {
            let page = try await store.list(TenantQuery(status: .cancelled, after: cursor, limit: 100))
            expired += page.tenants.filter { ($0.deletedAt ?? .distantFuture) < cutoff }.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil

        for id in expired {
            // The update checks expiry again, because another manager (one with a longer
            // retention period, or another process) may have restored the tenant since the
            // listing.
            let (current, started) = try await changeStatus(id, to: .deleting, reason: nil) { tenant in
                tenant.status != .cancelled || (tenant.deletedAt ?? .distantFuture) >= cutoff
            }
            guard started || current.status == .deleting || current.status == .deleted else {
                logger.info("tenant no longer expired; not purged", ["tenant.id": id.rawValue, "tenant.status": current.status.rawValue])
                continue
            }
            receipts.append(try await continuePurge(current, started: started))
        }
        return receipts
    }

    /// Runs (or resumes) the purge job of a `deleting` tenant and marks it `deleted`.
    func runPurge(_ id: TenantID) async throws -> PurgeReceipt {
        let now = clock.now().truncatedToMilliseconds
        var job = try await purgeJobs.job(for: id) ?? PurgeJob(tenantID: id, startedAt: now, requestedBy: currentPrincipal()?.id)
        if job.receipt == nil {
            try await purgeJobs.save(job)
            job = try await runPurgers(job)
        }
        // The first receipt stored wins, so a purge that ran twice at once returns one receipt.
        let receipt = try await purgeJobs.job(for: id)?.receipt ?? job.receipt!

        FaultInjection.reach("purge.before-deleted")
        let (_, marked) = try await changeStatus(id, to: .deleted, reason: nil)
        guard marked else { return receipt }
        try await record(.tenantDeleted, tenant: id, detail: "removed=\(receipt.totalRemoved)")
        publish(.deleted(id, receipt: receipt))
        logger.info("tenant purged", ["tenant.id": id.rawValue, "purge.removed": "\(receipt.totalRemoved)"])
        return receipt
    }

    private func runPurgers(_ started: PurgeJob) async throws -> PurgeJob {
        var job = started
        let id = job.tenantID
        let all: [any TenantPurger] = purgers.withLock { $0 } + [RegistryPurger(store: store)]
        let finished = Set(job.completedSteps.map(\.purger))

        for purger in all where !finished.contains(purger.name) {
            FaultInjection.reach("purge.before-purger")
            let removed: Int
            do {
                removed = try await purger.purge(id)
            } catch {
                logger.error("purger failed", ["tenant.id": id.rawValue, "purge.purger": purger.name, "error": "\(error)"])
                await recordRefusal(.purgerFinished, tenant: id, outcome: .failed, detail: "purger=\(purger.name)")
                throw PurgeFailedError(tenantID: id, purger: purger.name, underlying: error)
            }
            job.completedSteps.append(PurgeStep(purger: purger.name, removed: removed, finishedAt: clock.now().truncatedToMilliseconds))
            try await purgeJobs.save(job)
            try await record(.purgerFinished, tenant: id, detail: "purger=\(purger.name) removed=\(removed)")
            FaultInjection.reach("purge.after-purger")
        }

        job.receipt = PurgeReceipt(
            tenantID: id, startedAt: job.startedAt, completedAt: clock.now().truncatedToMilliseconds,
            requestedBy: job.requestedBy, steps: job.completedSteps)
        try await purgeJobs.save(job)
        FaultInjection.reach("purge.after-receipt")
        return job
    }
}
