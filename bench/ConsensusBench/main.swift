import Foundation
FileHandle.standardError.write(Data("consensus-bench is not implemented yet.\n".utf8))
exit(1)
