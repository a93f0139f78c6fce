import Foundation

/// The download's temporary file (`.name.part` beside the destination) and the final link: the
/// temporary file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` (0600) or, when resuming,
/// opened with `O_NOFOLLOW` and accepted only as a regular file of this user, with no other
/// hard link and no larger than the file; the finished file is linked from the open descriptor
/// (never from whatever the path names by then) and never over an existing file.
extension Download {
    /// Opens the temporary file; `isResumed` when one was there already.
    func openPartFile(sizeBytes: UInt64) throws -> (file: PieceFile, isResumed: Bool) {
        do {
            return (try PieceFile.createNew(tempPath), false)
        } catch let error as FileError where error.code == EEXIST {
            // Something is at the path: resume only from a file that is safely ours.
        }
        let file: PieceFile
        do {
            file = try PieceFile.openExistingForWriting(tempPath)
        } catch let error as FileError where error.code == ELOOP {
            throw refusal("it is a symbolic link")
        } catch let error as FileError {
            throw refusal(String(cString: strerror(error.code)))
        }
        let facts = try file.facts()
        guard facts.isRegular else { throw refusal("it is not a regular file") }
        guard facts.ownerID == geteuid() else { throw refusal("it belongs to another user") }
        guard facts.linkCount == 1 else { throw refusal("it has other hard links") }
        guard facts.sizeBytes <= sizeBytes else { throw refusal("it is larger (\(facts.sizeBytes) bytes) than the file (\(sizeBytes) bytes)") }
        return (file, true)
    }

    private func refusal(_ why: String) -> DownloadFailure {
        DownloadFailure("refusing the existing temporary file \(tempPath): \(why); remove it and run download_file again")
    }

    /// Links the finished `file` at `finalPath` (never over an existing file or a link there),
    /// checks that what the path names now is this very file, then removes the temporary name
    /// if it still names it.
    func linkIntoPlace(_ file: PieceFile) throws {
        let ours = try file.facts()
        // The open file itself, through /proc (no capability needed); without /proc, the path
        // (not followed if it was made a link since), checked below.
        let viaDescriptor = access("/proc/self/fd", F_OK) == 0
        let result = viaDescriptor
            ? linkat(AT_FDCWD, "/proc/self/fd/\(file.descriptor)", AT_FDCWD, finalPath, AT_SYMLINK_FOLLOW)
            : linkat(AT_FDCWD, tempPath, AT_FDCWD, finalPath, 0)
        guard result == 0 else {
            let code = errno
            throw DownloadFailure(code == EEXIST ? "file already exists at the destination: \(finalPath)"
                                                 : FileError("link to \(finalPath)", code: code).description)
        }
        guard let placed = DescriptorFacts.ofLink(finalPath), placed.isSameFile(as: ours) else {
            unlink(finalPath)  // the name this call just made, for a file that is not the verified one
            throw DownloadFailure("the temporary file \(tempPath) was replaced during the download")
        }
        removeTemporaryName(ifItNames: ours)
    }

    /// Removes `tempPath` when it still names `file` (a file put there since stays).
    func removeTemporaryName(ifItNames facts: DescriptorFacts) {
        if let current = DescriptorFacts.ofLink(tempPath), current.isSameFile(as: facts) { unlink(tempPath) }
    }
}
