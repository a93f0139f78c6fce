import Foundation

// Not built yet: this executable says so and exits non-zero rather than pretending to work.
FileHandle.standardError.write(Data("tracker-sim is not implemented yet; see the open issues.\n".utf8))
exit(1)
