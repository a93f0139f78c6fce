import Foundation

/// A download's temporary file (`.name.part` beside the destination) and the final link. The
/// temporary file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` (0600: its bytes are not
/// verified yet) or, when resuming, opened with `O_NOFOLLOW` and accepted only as a regular file
/// of this user with no other hard link and no larger than the file; anything else is refused,
/// never replaced. The finished file is linked from the open descriptor (never from whatever the
/// path names by then) and never over an existing file or a link.
public enum PartFile {
    /// Opens the temporary file at `path` for a file of `sizeBytes`; `isResumed` when one was
    /// there already; throws `PartFileError` for anything at the path that is not safe to resume.
    public static func open(_ path: String, sizeBytes: UInt64) throws -> (file: PieceFile, isResumed: Bool) {
        do {
            return (try PieceFile.createNew(path), false)
        } catch let error as FileError where error.code == EEXIST {
            // Something is at the path: resume only from a file that is safely ours.
        }
        let file: PieceFile
        do {
            file = try PieceFile.openExistingForWriting(path)
        } catch let error as FileError where error.code == ELOOP {
            throw PartFileError(path: path, why: "it is a symbolic link")
        } catch let error as FileError {
            throw PartFileError(path: path, why: String(cString: strerror(error.code)))
        }
        let facts = try file.facts()
        guard facts.isRegular else { throw PartFileError(path: path, why: "it is not a regular file") }
        guard facts.ownerID == geteuid() else { throw PartFileError(path: path, why: "it belongs to another user") }
        guard facts.linkCount == 1 else { throw PartFileError(path: path, why: "it has other hard links") }
        guard facts.sizeBytes <= sizeBytes else {
            throw PartFileError(path: path, why: "it is larger (\(facts.sizeBytes) bytes) than the file (\(sizeBytes) bytes)")
        }
        return (file, true)
    }

    /// Gives the verified `file` the permissions a new file gets (0666 less the umask), links
    /// it at `finalPath` (never over an existing file or a link there), checks that the path
    /// names this very file, then removes `temporaryPath` if it still names it.
    public static func linkIntoPlace(_ file: PieceFile, temporaryPath: String, finalPath: String) throws {
        _ = fchmod(file.descriptor, 0o666 & ~currentUmask())
        let ours = try file.facts()
        // The open file itself, through /proc (no capability needed); without /proc, the path
        // (not followed if it was made a link since), checked below.
        let viaDescriptor = access("/proc/self/fd", F_OK) == 0
        let result = viaDescriptor
            ? linkat(AT_FDCWD, "/proc/self/fd/\(file.descriptor)", AT_FDCWD, finalPath, AT_SYMLINK_FOLLOW)
            : linkat(AT_FDCWD, temporaryPath, AT_FDCWD, finalPath, 0)
        guard result == 0 else {
            let code = errno
            if code == EEXIST { throw PartFileError(exists: finalPath) }
            // A file whose last name was removed cannot be linked again: nothing is placed.
            if code == ENOENT, (try? file.facts().linkCount) == 0 {
                throw PartFileError(path: temporaryPath, why: "it was removed during the download")
            }
            throw FileError("link to \(finalPath)", code: code)
        }
        guard let placed = DescriptorFacts.ofLink(finalPath), placed.isSameFile(as: ours) else {
            unlink(finalPath)  // the name this call just made, for a file that is not the verified one
            throw PartFileError(path: temporaryPath, why: "it was replaced during the download")
        }
        removeName(temporaryPath, ifItNames: ours)
    }

    /// Removes `path` when it still names the file of `facts` (a file put there since stays).
    public static func removeName(_ path: String, ifItNames facts: DescriptorFacts) {
        if let current = DescriptorFacts.ofLink(path), current.isSameFile(as: facts) { unlink(path) }
    }

    /// The process's umask, read without changing it (022 when /proc is not there).
    static func currentUmask() -> mode_t {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
              let value = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) else { return 0o022 }
        return value & 0o777
    }
}

/// A temporary or final file that is not safe to use, with what to do about it.
public struct PartFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One line for the user.
    public var description: String

    init(path: String, why: String) {
        description = "refusing the existing temporary file \(path): \(why); remove it and run download_file again"
    }

    init(exists finalPath: String) { description = "file already exists at the destination: \(finalPath)" }
}
