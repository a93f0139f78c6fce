/// The search behind `LinearizabilityChecker`, for one partition (Lowe's version of Wing &
/// Gong's algorithm, as Porcupine runs it).
///
/// Call and return events sit in one doubly linked list in time order. The search walks the
/// list from the front: at a call it tries to linearize that operation now (the model must
/// accept it from the current state, and the pair (linearized set, new state) must be new, or
/// that branch was already explored); linearizing "lifts" the call and its return out of the
/// list and starts again from the front. Reaching a return means some operation that had to
/// come first did not fit: undo the last choice and try the next call after it. The history is
/// linearizable when every completed operation is lifted; an open operation's return lies at
/// the end of time, so reaching one means only open operations are left, and they may never
/// have happened; for the same reason an open operation is never linearized where it would
/// leave the state as it is.
struct LinearizabilitySearch<Model: LinearizabilityModel> {
    enum Outcome {
        case linearizable, notLinearizable, inconclusive
    }

    /// A set of operation indices, as bits; the memo key with the state.
    struct Bits: Hashable {
        var words: [UInt64]

        init(count: Int) { words = [UInt64](repeating: 0, count: (count + 63) / 64) }

        mutating func insert(_ index: Int) { words[index >> 6] |= 1 << UInt64(index & 63) }
        mutating func remove(_ index: Int) { words[index >> 6] &= ~(1 << UInt64(index & 63)) }
    }

    struct Memo: Hashable {
        var linearized: Bits
        var state: Model.State
    }

    let model: Model
    let partition: LinearizabilityPartition<Model.Input, Model.Output>
    let stepsMax: Int
    private(set) var steps = 0

    /// The event list: node 0 is the head, node k the k-th event in time order.
    private var next: [Int]
    private var prev: [Int]
    /// For each node: its operation, and whether it is the call.
    private var operationOf: [Int]
    private var isCall: [Bool]
    /// For each operation: its return node.
    private var returnNode: [Int]

    /// The longest linearizable prefix seen (operation indices) and the state after it.
    private(set) var longest: [Int] = []
    private(set) var longestState: Model.State?

    static var none: Int { -1 }

    init(model: Model, partition: LinearizabilityPartition<Model.Input, Model.Output>, stepsMax: Int) {
        self.model = model
        self.partition = partition
        self.stepsMax = stepsMax
        let operations = partition.operations
        // Events in time order: returns of open operations at the end of time; at equal times
        // calls before returns (such operations overlap); ties broken by operation index.
        var events: [(time: UInt64, isReturn: Bool, operation: Int)] = []
        events.reserveCapacity(2 * operations.count)
        for (index, operation) in operations.enumerated() {
            events.append((operation.callMicros, false, index))
            events.append((operation.isOpen ? .max : max(operation.returnMicros, operation.callMicros), true, index))
        }
        events.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isReturn != b.isReturn { return !a.isReturn }
            return a.operation < b.operation
        }
        let nodeCount = events.count + 1
        next = [Int](repeating: Self.none, count: nodeCount)
        prev = [Int](repeating: Self.none, count: nodeCount)
        operationOf = [Int](repeating: Self.none, count: nodeCount)
        isCall = [Bool](repeating: false, count: nodeCount)
        returnNode = [Int](repeating: Self.none, count: operations.count)
        for (position, event) in events.enumerated() {
            let node = position + 1
            operationOf[node] = event.operation
            isCall[node] = !event.isReturn
            if event.isReturn { returnNode[event.operation] = node }
            prev[node] = node - 1
            next[node - 1] = node
        }
    }

    /// Takes an operation's call and return out of the list (dancing links: the removed nodes
    /// keep their neighbours, so `unlift` in reverse order puts them back).
    private mutating func lift(_ call: Int) {
        next[prev[call]] = next[call]
        if next[call] != Self.none { prev[next[call]] = prev[call] }
        let ret = returnNode[operationOf[call]]
        next[prev[ret]] = next[ret]
        if next[ret] != Self.none { prev[next[ret]] = prev[ret] }
    }

    private mutating func unlift(_ call: Int) {
        let ret = returnNode[operationOf[call]]
        next[prev[ret]] = ret
        if next[ret] != Self.none { prev[next[ret]] = ret }
        next[prev[call]] = call
        if next[call] != Self.none { prev[next[call]] = call }
    }

    /// Runs the search. With `recordingLongest`, keeps the longest linearizable prefix for
    /// `explainFailure` (quadratic in the worst case: only for a history already known to fail).
    mutating func run(recordingLongest: Bool) -> Outcome {
        let operations = partition.operations
        var state = model.initialState(partition: partition.name)
        var linearized = Bits(count: operations.count)
        var memo: Set<Memo> = []
        memo.reserveCapacity(operations.count)
        var stack: [(call: Int, state: Model.State)] = []
        let head = 0
        var node = next[head]
        while next[head] != Self.none {
            steps += 1
            if steps > stepsMax { return .inconclusive }
            let index = operationOf[node]
            if isCall[node] {
                // An open operation that changes nothing here may as well never happen: its
                // return is at the end of time, so leaving it out keeps every choice open.
                if let newState = model.step(state, operations[index].input, operations[index].output),
                   !(operations[index].isOpen && newState == state) {
                    var newLinearized = linearized
                    newLinearized.insert(index)
                    if memo.insert(Memo(linearized: newLinearized, state: newState)).inserted {
                        stack.append((node, state))
                        state = newState
                        linearized = newLinearized
                        lift(node)
                        if recordingLongest, stack.count > longest.count {
                            longest = stack.map { operationOf[$0.call] }
                            longestState = state
                        }
                        node = next[head]
                        continue
                    }
                }
                node = next[node]
            } else {
                if operations[index].isOpen { return .linearizable }
                guard let top = stack.popLast() else { return .notLinearizable }
                state = top.state
                linearized.remove(operationOf[top.call])
                unlift(top.call)
                node = next[top.call]
            }
        }
        return .linearizable
    }

    /// Reasons for a failed search: the partition, the longest linearizable prefix, the state
    /// after it, the completed operation that returns first among those left out (it cannot be
    /// placed), and the last operations of the prefix.
    func explainFailure() -> String {
        let operations = partition.operations
        let state = longestState ?? model.initialState(partition: partition.name)
        var isIn = [Bool](repeating: false, count: operations.count)
        for index in longest { isIn[index] = true }
        let completedCount = operations.count(where: { !$0.isOpen })
        let left = operations.indices.filter { !isIn[$0] && !operations[$0].isOpen }
        let blocking = left.min { a, b in
            (operations[a].returnMicros, a) < (operations[b].returnMicros, b)
        }
        var text = "partition \(partition.name) is not linearizable: at most \(longest.count) of \(operations.count) operations "
            + "(\(completedCount) completed) linearize, leaving state \(model.describe(state))"
        if let blocking { text += "; cannot place \(describe(blocking))" }
        let tail = longest.suffix(Self.reportTailCount)
        if !tail.isEmpty { text += "; last linearized: " + tail.map { describe($0) }.joined(separator: ", ") }
        return text
    }

    /// Linearized operations named at the end of a failure report.
    static var reportTailCount: Int { 3 }

    func describe(_ index: Int) -> String {
        let operation = partition.operations[index]
        let returned = operation.isOpen ? "?" : Self.millis(operation.returnMicros)
        return "#\(operation.id) client \(operation.client) [\(Self.millis(operation.callMicros))–\(returned)ms] "
            + model.describe(operation.input, operation.output)
    }

    static func millis(_ micros: UInt64) -> String {
        let tenths = micros / 100
        return "\(tenths / 10).\(tenths % 10)"
    }
}
