import Foundation

/// Creates the data directory (and its parents) readable by this user only, or tightens an
/// existing one that group or others could read: it holds password hashes and session hashes.
func prepareDataDirectory(_ path: String) {
    var info = stat()
    if stat(path, &info) != 0 {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            fail("cannot create data directory \(path): \(error)")
        }
        return
    }
    guard info.st_mode & 0o077 != 0 else { return }
    guard chmod(path, 0o700) == 0 else { fail("\(path): cannot make it private (chmod 700): \(String(cString: strerror(errno)))") }
    Log.warn("data directory was readable by group or others; it is now 0700", ["data": path,
                                                                                 "mode.before": String(info.st_mode & 0o777, radix: 8)])
}
