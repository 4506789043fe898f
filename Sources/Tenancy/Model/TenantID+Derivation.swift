import Foundation

extension TenantID {
    /// The length a derived id is cut to, leaving room for a `-` and a 4-character suffix.
    static let derivedBaseMaximumLength = 40

    /// Derives the base of a tenant id from a display name.
    ///
    /// The name is transliterated to ASCII with ICU's `Any-Latin; Latin-ASCII` transform, which
    /// Foundation provides on Linux and Apple platforms, and lowercased. Each run of other
    /// characters becomes one hyphen, and hyphens at either end are trimmed. A result starting
    /// with a digit gets `t-` in front, and a long one is cut to 40 characters at a hyphen where
    /// possible.
    /// "New Customer" gives `new-customer`, "3M Company" gives `t-3m-company` and
    /// "Ærøskøbing Straße" gives `aeroskobing-strasse`.
    ///
    /// The result may be a reserved word or an id already taken: ``TenantManager`` then appends
    /// a suffix (see ``withRandomSuffix()``).
    ///
    /// - Throws: ``ValidationError`` (``ValidationError/Code/invalidTenantID``) when fewer than 3
    ///   characters remain, asking for an explicit id.
    public static func derived(fromName name: String) throws -> TenantID {
        let ascii = name.applyingTransform(StringTransform("Any-Latin; Latin-ASCII"), reverse: false) ?? name
        var slug = ""
        var pendingHyphen = false
        for byte in ascii.lowercased().utf8 {
            if isLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) {
                if pendingHyphen && !slug.isEmpty { slug.append("-") }
                pendingHyphen = false
                slug.append(Character(Unicode.Scalar(byte)))
            } else {
                pendingHyphen = true
            }
        }
        if let first = slug.utf8.first, !isLetter(first) {
            slug = "t-" + slug
        }
        slug = cutAtHyphen(slug, maximumLength: derivedBaseMaximumLength)

        guard slug.utf8.count >= minimumLength else {
            throw ValidationError(
                .invalidTenantID, field: "name",
                message: "cannot derive a tenant id from the name: fewer than \(minimumLength) "
                    + "letters or digits remain; pass an explicit id")
        }
        return TenantID(unchecked: slug)
    }

    /// Returns this id followed by `-` and 4 random characters of `a-z0-9`, used when a derived
    /// id is reserved or already taken.
    public func withRandomSuffix() -> TenantID {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        let suffix = String((0..<4).map { _ in alphabet.randomElement(using: &generator)! })
        let base = Self.cutAtHyphen(rawValue, maximumLength: Self.derivedBaseMaximumLength)
        return TenantID(unchecked: base + "-" + suffix)
    }

    /// Cuts an ASCII slug to `maximumLength`, at the last hyphen when that keeps at least the
    /// minimum length, and never leaves a trailing hyphen.
    static func cutAtHyphen(_ slug: String, maximumLength: Int) -> String {
        guard slug.utf8.count > maximumLength else { return slug }
        let prefix = String(slug.prefix(maximumLength))
        if let hyphen = prefix.lastIndex(of: "-"), prefix.distance(from: prefix.startIndex, to: hyphen) >= minimumLength {
            return String(prefix[..<hyphen])
        }
        var cut = prefix
        while cut.hasSuffix("-") { cut.removeLast() }
        return cut
    }
}
