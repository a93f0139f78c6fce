import Consensus
import Foundation
import Networking
import TrackerHosting
import TrackerProtocol

/// `tracker-node member list|add|promote|demote|remove|replace`: an operator's tool that speaks
/// to the running cluster as a tracker would, under tracker id 0: over TLS it presents the
/// identity of the tracker whose `--data-dir` it is given (the cluster lets in a current
/// member's pinned certificate), and it proves the cluster key when there is one.
/// It finds the leader through cluster.conf and redirects, retries what may still succeed
/// (the leader not yet committed in its term, a change in progress, a learner catching up)
/// until `--timeout-ms`, and prints the configuration (`<id> <address> <voter|learner|witness>`
/// a line) on success, exit 0; or one line with the reason on standard error, exit 1.
enum AdminCommand {
    static let word = "member"
    static let usage = """
        usage: tracker-node member list    --conf <cluster.conf>
               tracker-node member add     --conf <cluster.conf> --id <n> --address HOST:PORT --fingerprint sha256:<hex> [--witness]
               tracker-node member promote --conf <cluster.conf> --id <n>
               tracker-node member demote  --conf <cluster.conf> --id <n>
               tracker-node member remove  --conf <cluster.conf> --id <n>
               tracker-node member replace --conf <cluster.conf> --id <old> --new-id <n> --address HOST:PORT --fingerprint sha256:<hex>
               (each also takes [--data-dir DIR] [--timeout-ms 10000] [--insecure])
        add makes a learner (or with --witness the witness), promoted to voter by the leader once
        its log has caught up; replace removes <old> and adds <n> as a learner. Removing the
        leader hands leadership over first. --fingerprint pins the new tracker's certificate
        (print it on that machine with tracker-node --conf cluster.conf --id <n> --data-dir DIR
        --print-fingerprint); the configuration carries the pin, and trackers check it.
        The tool runs on a tracker's machine: --data-dir is that tracker's data directory, whose
        TLS identity it presents (the cluster lets in the certificate of a current member). With
        a cluster.key beside cluster.conf the key suffices and --data-dir may be left out.
        --insecure (plaintext, no pins) is for clusters run with --insecure.
        """

    struct Arguments {
        var verb = ""
        var confPath = ""
        var id: UInt64 = 0
        var newID: UInt64 = 0
        var address: String?
        var isWitness = false
        var isInsecure = false
        var fingerprint: CertificateFingerprint?
        var dataDirectory: String?
        var timeoutMillis = 10_000
    }

    /// Runs the tool; returns the exit status (2 for a usage error).
    static func run(_ words: [String]) -> Int32 {
        let arguments: Arguments
        switch parse(words) {
        case let .success(parsed): arguments = parsed
        case let .failure(error) where error.description == "help":
            print(usage)
            return 0
        case let .failure(error):
            FileHandle.standardError.write(Data("tracker-node member: \(error.description)\n\(usage)\n".utf8))
            return 2
        }
        let cluster: ClusterConfig
        do { cluster = try ClusterConfig.load(path: arguments.confPath, requiringFingerprints: !arguments.isInsecure) } catch {
            return failure("\(error)")
        }
        guard arguments.isInsecure || arguments.fingerprint != nil || !["add", "replace"].contains(arguments.verb) else {
            return failure("--fingerprint is required: the new tracker's sha256:<hex> (it prints it with --print-fingerprint)")
        }
        let key = loadClusterKey(confPath: arguments.confPath)
        let tls: TLSContext?
        switch clientTLS(arguments, hasKey: key != nil) {
        case let .success(context): tls = context
        case let .failure(reason): return failure(reason.text)
        }
        let session = AdminSession(cluster: cluster, key: key, tls: tls,
                                   deadline: Date().addingTimeInterval(Double(arguments.timeoutMillis) / 1_000))
        let requests = makeRequests(arguments)
        var last: TrackerStatus?
        for request in requests {
            switch session.perform(request) {
            case let .success(status): last = status
            case let .failure(reason): return failure(reason.text)
            }
        }
        guard let last else { return failure("no answer") }
        for member in last.members { print("\(member.id) \(member.address.isEmpty ? "-" : member.address) \(member.role)") }
        return 0
    }

    /// The TLS context the tool dials with: nil with `--insecure`; else presenting the identity
    /// in `--data-dir` (never made here: it must be a tracker's), or, with a cluster key and no
    /// `--data-dir`, an ephemeral one (the key is what lets the tool in then).
    static func clientTLS(_ a: Arguments, hasKey: Bool) -> Result<TLSContext?, AdminFailure> {
        guard !a.isInsecure else { return .success(nil) }
        do {
            let identity: TLSIdentity
            if let directory = a.dataDirectory {
                identity = try TLSIdentity.load(directory: directory)
            } else if hasKey {
                identity = try TLSIdentity.makeEphemeral(commonName: "tracker-member-tool")
            } else {
                return .failure(AdminFailure(text: "--data-dir is required: the tool presents the TLS identity of the tracker it runs beside (or put a cluster.key beside cluster.conf)"))
            }
            return .success(try TLSContext(side: .client, identity: identity))
        } catch {
            return .failure(AdminFailure(text: "\(a.dataDirectory ?? "TLS"): \(error)"))
        }
    }

    static func makeRequests(_ a: Arguments) -> [AdminRequest] {
        let address = a.address ?? ""
        let pin = a.fingerprint?.digest ?? []
        switch a.verb {
        case "add" where a.isWitness: return [.change(.addWitness(id: a.id, address: address, fingerprint: pin))]
        case "add": return [.change(.addLearner(id: a.id, address: address, fingerprint: pin))]
        case "promote": return [.change(.promote(id: a.id))]
        case "demote": return [.change(.demote(id: a.id))]
        case "remove": return [.change(.remove(id: a.id))]
        case "replace": return [.change(.remove(id: a.id)), .change(.addLearner(id: a.newID, address: address, fingerprint: pin))]
        default: return [.list]
        }
    }

    static func failure(_ reason: String) -> Int32 {
        FileHandle.standardError.write(Data("tracker-node member: \(reason)\n".utf8))
        return 1
    }

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ words: [String]) -> Result<Arguments, UsageError> {
        var a = Arguments()
        guard let verb = words.first else { return .failure(UsageError(description: "a verb is required")) }
        if verb == "--help" || verb == "-h" { return .failure(UsageError(description: "help")) }
        guard ["list", "add", "promote", "demote", "remove", "replace"].contains(verb) else {
            return .failure(UsageError(description: "unknown verb \(verb)"))
        }
        a.verb = verb
        var i = 1
        func value() -> String? {
            i += 1
            return i < words.count ? words[i] : nil
        }
        while i < words.count {
            let flag = words[i]
            switch flag {
            case "--conf": guard let v = value() else { return .failure(UsageError(description: "--conf needs a path")) }; a.confPath = v
            case "--address":
                guard let v = value(), (try? PeerAddress.parse(v)) != nil else { return .failure(UsageError(description: "--address needs HOST:PORT")) }
                a.address = v
            case "--witness": a.isWitness = true
            case "--fingerprint":
                guard let v = value(), let pin = try? CertificateFingerprint.parse(v) else {
                    return .failure(UsageError(description: "--fingerprint needs sha256:<64 hex digits>"))
                }
                a.fingerprint = pin
            case "--data-dir": guard let v = value() else { return .failure(UsageError(description: "--data-dir needs a path")) }; a.dataDirectory = v
            case "--insecure": a.isInsecure = true
            case "--id", "--new-id", "--timeout-ms":
                guard let text = value(), let n = UInt64(text), n > 0, n <= 3_600_000 else { return .failure(UsageError(description: "\(flag) needs a positive number")) }
                if flag == "--id" { a.id = n } else if flag == "--new-id" { a.newID = n } else { a.timeoutMillis = Int(n) }
            default: return .failure(UsageError(description: "unknown argument \(flag)"))
            }
            i += 1
        }
        guard !a.confPath.isEmpty else { return .failure(UsageError(description: "--conf is required")) }
        guard verb == "list" || a.id > 0 else { return .failure(UsageError(description: "--id is required")) }
        guard (verb == "add" || verb == "replace") == (a.address != nil) else {
            return .failure(UsageError(description: verb == "add" || verb == "replace" ? "--address is required" : "--address is for add and replace"))
        }
        guard verb != "replace" || a.newID > 0 else { return .failure(UsageError(description: "--new-id is required")) }
        guard !a.isWitness || verb == "add" else { return .failure(UsageError(description: "--witness is for add")) }
        guard a.fingerprint == nil || verb == "add" || verb == "replace" else {
            return .failure(UsageError(description: "--fingerprint is for add and replace"))
        }
        return .success(a)
    }
}

extension ClusterConfig {
    /// The seed configuration: every line's tracker as a voter (or the witness), with its
    /// address, incarnation not pinned (the leader pins each once it hears from it).
    var seedMembers: [Member] {
        trackers.map { Member(id: $0.id, role: $0.role == .witness ? .witness : .voter, address: $0.address.description) }
    }
}
