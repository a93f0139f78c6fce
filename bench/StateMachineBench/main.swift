import Foundation
FileHandle.standardError.write(Data("state-machine-bench is not implemented yet.\n".utf8))
exit(1)
