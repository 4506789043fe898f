#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Foundation

/// Per-tenant file storage: each tenant gets its own directory under one root, and every name
/// is validated so no tenant can reach another tenant's files.
///
/// Names are relative paths such as `reports/2026/q4.pdf`. Absolute paths, `.` and `..`
/// components, empty components, backslashes and NUL bytes are rejected. Paths are walked one
/// component at a time with `openat` and `O_NOFOLLOW`, so a symbolic link anywhere in the path
/// is rejected at the moment of use (no check-then-open race). Writes go to a temporary file
/// that is renamed into place, so a reader never sees half a file.
///
/// Tenant code reads and writes the files of the tenant in scope; operators measure and purge
/// any tenant's files by id.
///
/// With a ``QuotaManager`` (`quotas`), the async ``write(_:to:)`` and ``delete(_:)`` keep the
/// `storage_bytes` gauge equal to the bytes stored. A write charges its growth before the file
/// lands, so a write that would pass the limit throws ``QuotaExceeded`` and stores nothing. A
/// shrinking write or a delete lowers the gauge.
public struct TenantFileStorage: Sendable {
    /// The directory holding one subdirectory per tenant.
    public let root: URL
    /// The manager charged for `storage_bytes`, or nil for storage without a quota.
    public let quotas: QuotaManager?

    /// The maximum length of a file name (the whole relative path), in bytes.
    public static let maximumNameLength = 1_024

    /// Opens the storage at `root`, creating the directory (mode 0700) when missing.
    ///
    /// - Parameter quotas: the manager that the async ``write(_:to:)`` and ``delete(_:)``
    ///   charge for the quota `storage_bytes`; nil stores files without a quota.
    /// - Throws: ``TenantFileError`` when the root cannot be created or is not a directory.
    public init(root: String, quotas: QuotaManager? = nil) throws {
        let url = URL(fileURLWithPath: root).standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TenantFileError(.io, "cannot create the file storage root: \(error.localizedDescription)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TenantFileError(.io, "the file storage root is not a directory")
        }
        self.root = url
        self.quotas = quotas
    }

    /// The directory of one tenant's files.
    public func directory(of tenantID: TenantID) -> URL {
        root.appendingPathComponent(tenantID.rawValue, isDirectory: true)
    }

    // MARK: - Tenant operations (the tenant in scope)

    /// Writes `data` to `name` in the current tenant's files, replacing any file there, and
    /// returns the change in the tenant's stored bytes (new size minus old size).
    ///
    /// This form charges no quota, so storage with ``quotas`` rejects it: call the async form.
    ///
    /// - Throws: ``NoTenantInScopeError``, ``TenantFileError`` for an invalid name, a symbolic
    ///   link in the path, an I/O failure, or storage with ``quotas``
    ///   (``TenantFileError/Code/quotaNotCharged``).
    @discardableResult
    public func write(_ data: Data, to name: String) throws -> Int {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.write")
        try requireNoQuotas(operation: "write")
        return try replaceFile(name, with: data, tenantID: tenant.id)
    }

    /// Writes `data` to `name` in the current tenant's files, replacing any file there, and
    /// returns the change in the tenant's stored bytes (new size minus old size).
    ///
    /// With ``quotas``, a write that grows the tenant's bytes charges the growth to
    /// `storage_bytes` before the file lands, and refunds the charge when the write fails. A
    /// write that shrinks them lowers the gauge after the file is replaced.
    ///
    /// - Throws: ``QuotaExceeded`` when the growth would pass the tenant's `storage_bytes`
    ///   limit, in which case the old file stays and nothing is charged. The errors of
    ///   ``QuotaManager/checkAndIncrement(_:tenantID:by:)`` for a suspended or unknown tenant,
    ///   ``NoTenantInScopeError``, and ``TenantFileError`` as the synchronous form. When
    ///   lowering the gauge fails after a shrinking write, the file is already replaced and
    ///   that error is thrown.
    @discardableResult
    public func write(_ data: Data, to name: String) async throws -> Int {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.write")
        guard let quotas else {
            return try replaceFile(name, with: data, tenantID: tenant.id)
        }

        // The growth is measured before the file lands, so a concurrent write to the same name
        // can make the real change differ. The gauge follows the real change downwards below.
        // NOTE: when the real change is larger than the charge, the gauge stays low by the
        // difference. Serialize writes to one name, or rebuild the gauge with
        // QuotaManager.reset and a charge of usage(of:).
        let growth = data.count - (try currentSize(of: name, tenantID: tenant.id) ?? 0)
        var charge: QuotaCharge?
        if growth > 0 {
            charge = try await quotas.checkAndIncrement(QuotaCatalog.storageBytes, tenantID: tenant.id, by: growth)
        }

        let change: Int
        do {
            change = try replaceFile(name, with: data, tenantID: tenant.id)
        } catch {
            if let charge {
                // The write error is the one the caller needs. A refund that fails too leaves
                // the gauge high by `growth` bytes.
                _ = try? await quotas.refund(charge)
            }
            throw error
        }

        let overcharge = max(growth, 0) - change
        if overcharge > 0 {
            try await quotas.decrement(QuotaCatalog.storageBytes, tenantID: tenant.id, by: overcharge)
        }
        return change
    }

    /// Writes the file through a temporary file renamed into place and returns the change in
    /// stored bytes.
    private func replaceFile(_ name: String, with data: Data, tenantID: TenantID) throws -> Int {
        let components = try Self.validatedComponents(name)
        let directory = try openTenantDirectory(tenantID, create: true)
        defer { close(directory) }
        let parent = try openParent(of: components, from: directory, create: true)
        defer { if parent != directory { close(parent) } }

        let last = components.last!
        let previousSize = Self.regularFileSize(last, in: parent) ?? 0
        let temporary = ".tenancy-tmp-\(UUID().uuidString)"
        let descriptor = openat(parent, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TenantFileError.fromErrno("create", name: name) }
        var written = 0
        let writeFailed = data.withUnsafeBytes { buffer -> Bool in
            while written < buffer.count {
                let result = Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 { return errno != EINTR }
                written += result
            }
            return false
        }
        if writeFailed || fsync(descriptor) != 0 {
            let error = TenantFileError.fromErrno("write", name: name)
            close(descriptor)
            unlinkat(parent, temporary, 0)
            throw error
        }
        close(descriptor)
        if Self.isSymbolicLinkOrDirectory(last, in: parent) {
            unlinkat(parent, temporary, 0)
            throw TenantFileError(.invalidName, "invalid file name: '\(last)' is a symbolic link or a directory")
        }
        guard renameat(parent, temporary, parent, last) == 0 else {
            let error = TenantFileError.fromErrno("rename", name: name)
            unlinkat(parent, temporary, 0)
            throw error
        }
        return data.count - previousSize
    }

    /// Reads the file `name` of the current tenant.
    ///
    /// - Throws: ``NoTenantInScopeError``, ``TenantFileError`` (``TenantFileError/Code/notFound``
    ///   when there is no such file).
    public func read(_ name: String) throws -> Data {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.read")
        let components = try Self.validatedComponents(name)
        let directory = try openTenantDirectory(tenant.id, create: false)
        defer { close(directory) }
        let parent = try openParent(of: components, from: directory, create: false)
        defer { if parent != directory { close(parent) } }

        let descriptor = openat(parent, components.last!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw TenantFileError.fromErrno("open", name: name) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw TenantFileError(.io, "cannot read file: \(error.localizedDescription)")
        }
    }

    /// Deletes the file `name` of the current tenant and returns the bytes it freed, or nil
    /// when there was no such file.
    ///
    /// This form lowers no quota gauge, so storage with ``quotas`` rejects it: call the async
    /// form.
    @discardableResult
    public func delete(_ name: String) throws -> Int? {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.delete")
        try requireNoQuotas(operation: "delete")
        return try deleteFile(name, tenantID: tenant.id)
    }

    /// Deletes the file `name` of the current tenant and returns the bytes it freed, or nil
    /// when there was no such file. With ``quotas``, the freed bytes are subtracted from the
    /// `storage_bytes` gauge.
    ///
    /// - Throws: ``NoTenantInScopeError``, ``TenantFileError``, or the error of
    ///   ``QuotaManager/decrement(_:tenantID:by:)``, thrown after the file is deleted.
    @discardableResult
    public func delete(_ name: String) async throws -> Int? {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.delete")
        let freed = try deleteFile(name, tenantID: tenant.id)
        if let quotas, let freed, freed > 0 {
            try await quotas.decrement(QuotaCatalog.storageBytes, tenantID: tenant.id, by: freed)
        }
        return freed
    }

    private func deleteFile(_ name: String, tenantID: TenantID) throws -> Int? {
        try withExistingParent(of: name, tenantID: tenantID) { parent, last in
            guard let size = Self.regularFileSize(last, in: parent) else { return nil }
            guard unlinkat(parent, last, 0) == 0 else { throw TenantFileError.fromErrno("delete", name: name) }
            return size
        }
    }

    /// Returns the size of the regular file `name` of a tenant, or nil when there is none,
    /// creating no directory.
    private func currentSize(of name: String, tenantID: TenantID) throws -> Int? {
        try withExistingParent(of: name, tenantID: tenantID) { parent, last in
            Self.regularFileSize(last, in: parent)
        }
    }

    /// Opens the existing directory that holds `name`'s last component and runs `body` with it
    /// and that component; returns nil, creating nothing, when a directory on the way is missing.
    private func withExistingParent<Result>(
        of name: String, tenantID: TenantID, _ body: (Int32, String) throws -> Result?
    ) throws -> Result? {
        let components = try Self.validatedComponents(name)
        let directory: Int32
        do {
            directory = try openTenantDirectory(tenantID, create: false)
        } catch let error as TenantFileError where error.code == .notFound {
            return nil
        }
        defer { close(directory) }
        let parent: Int32
        do {
            parent = try openParent(of: components, from: directory, create: false)
        } catch let error as TenantFileError where error.code == .notFound {
            return nil
        }
        defer { if parent != directory { close(parent) } }
        return try body(parent, components.last!)
    }

    private func requireNoQuotas(operation: String) throws {
        if quotas != nil {
            throw TenantFileError(
                .quotaNotCharged,
                "the synchronous TenantFileStorage.\(operation) cannot charge the storage_bytes quota of this storage: call 'try await storage.\(operation)(...)'")
        }
    }

    /// Returns the names of the current tenant's files, sorted.
    public func list() throws -> [String] {
        let tenant = try requireCurrentTenant(operation: "TenantFileStorage.list")
        return try files(of: tenant.id).map(\.name)
    }

    // MARK: - Operator operations (any tenant, by id)

    /// Returns the bytes stored by a tenant: the sum of its regular files' sizes.
    public func usage(of tenantID: TenantID) throws -> Int {
        try files(of: tenantID).reduce(0) { $0 + $1.size }
    }

    /// Removes every file of a tenant and its directory; returns the number of files removed.
    /// Removing a tenant without files returns 0.
    @discardableResult
    public func purge(_ tenantID: TenantID) throws -> Int {
        let count = try files(of: tenantID).count
        let url = directory(of: tenantID)
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                try FileManager.default.removeItem(at: url)
            } catch {
                throw TenantFileError(.io, "cannot remove the files of tenant '\(tenantID)': \(error.localizedDescription)")
            }
        }
        return count
    }

    /// The regular files under a tenant's directory (symbolic links are neither followed nor
    /// counted), with their sizes.
    func files(of tenantID: TenantID) throws -> [(name: String, size: Int)] {
        let base = directory(of: tenantID)
        guard let enumerator = FileManager.default.enumerator(
            at: base, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey, .fileSizeKey], options: [])
        else { return [] }
        var result: [(name: String, size: Int)] = []
        for case let url as URL in enumerator {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey, .fileSizeKey])
            guard values.isRegularFile == true, values.isSymbolicLink != true else { continue }
            let name = String(url.standardizedFileURL.path.dropFirst(base.standardizedFileURL.path.count + 1))
            if name.hasPrefix(".tenancy-tmp-") || name.contains("/.tenancy-tmp-") { continue }
            result.append((name, values.fileSize ?? 0))
        }
        return result.sorted { $0.name < $1.name }
    }

    // MARK: - Paths

    /// Splits and checks a relative file name.
    static func validatedComponents(_ name: String) throws -> [String] {
        func reject(_ reason: String) -> TenantFileError {
            TenantFileError(.invalidName, "invalid file name \(TenantID.quotedForMessage(name)): \(reason)")
        }
        if name.isEmpty { throw reject("must not be empty") }
        if name.utf8.count > maximumNameLength { throw reject("must be at most \(maximumNameLength) bytes") }
        if name.utf8.contains(0) { throw reject("must not contain a NUL byte") }
        if name.hasPrefix("/") { throw reject("must be a relative path, not an absolute one") }
        if name.contains("\\") { throw reject("must not contain a backslash") }
        let components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for component in components {
            if component.isEmpty { throw reject("must not contain an empty path component ('//' or a trailing '/')") }
            if component == "." || component == ".." { throw reject("must not contain '.' or '..' components") }
            if component.utf8.count > 255 { throw reject("each path component must be at most 255 bytes") }
            if component.hasPrefix(".tenancy-tmp-") { throw reject("names starting with '.tenancy-tmp-' are reserved") }
        }
        return components
    }

    private func openTenantDirectory(_ tenantID: TenantID, create: Bool) throws -> Int32 {
        let rootDescriptor = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootDescriptor >= 0 else { throw TenantFileError.fromErrno("open root", name: nil) }
        defer { close(rootDescriptor) }
        return try Self.openDirectory(tenantID.rawValue, in: rootDescriptor, create: create, name: tenantID.rawValue)
    }

    /// Opens the directory that holds the last component, creating directories on the way
    /// when asked. Returns `start` itself when the name has one component.
    private func openParent(of components: [String], from start: Int32, create: Bool) throws -> Int32 {
        var current = start
        for component in components.dropLast() {
            let next: Int32
            do {
                next = try Self.openDirectory(component, in: current, create: create, name: components.joined(separator: "/"))
            } catch {
                if current != start { close(current) }
                throw error
            }
            if current != start { close(current) }
            current = next
        }
        return current
    }

    private static func openDirectory(_ component: String, in parent: Int32, create: Bool, name: String) throws -> Int32 {
        if create {
            if mkdirat(parent, component, 0o700) != 0 && errno != EEXIST {
                throw TenantFileError.fromErrno("create directory", name: name)
            }
        }
        let descriptor = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ELOOP || errno == ENOTDIR {
                throw TenantFileError(.invalidName, "invalid file name \(TenantID.quotedForMessage(name)): '\(component)' is a symbolic link or not a directory")
            }
            throw TenantFileError.fromErrno("open directory", name: name)
        }
        return descriptor
    }

    private static func regularFileSize(_ component: String, in parent: Int32) -> Int? {
        var info = stat()
        guard fstatat(parent, component, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    private static func isSymbolicLinkOrDirectory(_ component: String, in parent: Int32) -> Bool {
        var info = stat()
        guard fstatat(parent, component, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type == S_IFLNK || type == S_IFDIR
    }
}

/// A file operation that was refused or failed.
public struct TenantFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for matching in `catch` clauses.
    public enum Code: String, Hashable, Sendable {
        /// The name breaks a rule, or the path contains a symbolic link.
        case invalidName
        /// No such file or directory.
        case notFound
        /// The operating system refused or failed the operation.
        case io
        /// A synchronous write or delete on storage with a quota manager. Only the async forms
        /// keep the `storage_bytes` gauge right.
        case quotaNotCharged
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func fromErrno(_ operation: String, name: String?) -> TenantFileError {
        let number = errno
        let subject = name.map { " \(TenantID.quotedForMessage($0))" } ?? ""
        let reason = String(cString: strerror(number))
        if number == ENOENT { return TenantFileError(.notFound, "file\(subject) not found") }
        if number == ELOOP { return TenantFileError(.invalidName, "invalid file name\(subject): the path contains a symbolic link") }
        return TenantFileError(.io, "\(operation) failed for file\(subject): \(reason)")
    }
}
