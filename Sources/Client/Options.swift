import Foundation
import PeerTransfer

/// The client's command line: `client <IP>:<PORT> cluster.conf [--json] [--state-dir DIR]`.
struct Options {
    var listenAddress = ""
    var confPath = ""
    var isJSON = false
    /// `--insecure`: plaintext to trackers and peers (trackers run with `--insecure`).
    var isInsecure = false
    var stateDirectory: String?
    /// Test-only: the peer server flips a byte in this many served pieces, so tests can prove
    /// that downloaders detect and drop a corrupting peer. Never use it otherwise.
    var testCorruptPieces = 0
    /// Test-only: the peer server waits this long before each piece it serves, so tests can
    /// act in the middle of a download (kill a sharer, a tracker, the downloader). Never use it otherwise.
    var testServeDelayMillis = 0
    /// Files with more pieces than this upload only the SHA-256 of their piece list (the
    /// standard bound; `--test-detached-piece-list` makes it 0 so tests can try small files).
    var inlinePieceHashesMax = TransferLimits.inlinePieceHashesMax

    static let usage = """
        usage: client <IP>:<PORT> cluster.conf [--json] [--state-dir DIR] [--insecure]

        Logs in to the tracker cluster listed in cluster.conf and serves pieces of shared files to
        peers on IP:PORT. Reads commands from standard input, one a line:
          create_user <user_id> <password>        login <user_id> <password>
          create_group <group_id>                 join_group <group_id>
          leave_group <group_id>                  list_requests <group_id>
          accept_request <group_id> <user_id>     list_groups
          list_files <group_id>                   upload_file <file_path> <group_id>
          download_file <group_id> <file_name> <destination_path>
          logout                                  show_downloads
          stop_share <group_id> <file_name>       cluster_status
          help                                    quit
        Every connection is TLS 1.3. The client makes its own key pair in its state directory
        (identity/, 0700; key 0600), checks each tracker's certificate against the fingerprint its
        cluster.conf line pins before sending anything, and logs in with its certificate's
        fingerprint. Pieces are served only to a connection presenting the certificate of an online
        session of a member of the group (asked of the tracker when it opens, and again at a piece
        request once the answer is a second old); a downloader pins each sharer's certificate.
        --insecure (for trackers run with --insecure) uses plaintext everywhere and compares only IPs.
        Downloads run in the background and resume from their verified pieces when run again.
        --json        print exactly one JSON object per command ("ok": true|false), no prompt
        --state-dir   where shares and downloads are remembered (default data/client-<IP>-<PORT>)
        """

    enum ParseOutcome {
        case run(Options)
        case help
        case usageError(String)
    }

    static func parse(_ arguments: [String]) -> ParseOutcome {
        var options = Options()
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            switch argument {
            case "--help", "-h": return .help
            case "--json": options.isJSON = true
            case "--insecure": options.isInsecure = true
            case "--state-dir":
                i += 1
                guard i < arguments.count else { return .usageError("--state-dir needs a folder") }
                options.stateDirectory = arguments[i]
            case "--test-detached-piece-list": options.inlinePieceHashesMax = 0
            case "--test-corrupt-pieces", "--test-serve-delay-ms":
                i += 1
                guard i < arguments.count, let count = Int(arguments[i]), count >= 0,
                      argument == "--test-corrupt-pieces" || count <= TransferLimits.testServeDelayMillisMax else {
                    return .usageError("\(argument) needs a number")
                }
                if argument == "--test-corrupt-pieces" { options.testCorruptPieces = count } else { options.testServeDelayMillis = count }
            default:
                if argument.hasPrefix("-") { return .usageError("unknown flag \(argument)") }
                positional.append(argument)
            }
            i += 1
        }
        guard positional.count == 2 else { return .usageError("expected <IP>:<PORT> and cluster.conf") }
        options.listenAddress = positional[0]
        options.confPath = positional[1]
        return .run(options)
    }
}
