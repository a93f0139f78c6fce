/// A linearizability checker in the style of Porcupine (Wing & Gong's search as improved by
/// Lowe, with P-compositionality from Horn & Kroening): a concurrent history is linearizable
/// when its operations can be put in one sequence that respects real time (an operation that
/// returned before another was called comes first) and that a sequential model accepts.
///
/// Operations whose outcome the client never learned (`output == nil`) stay open: they may
/// take effect at any point after their call, or never.

/// A sequential specification the checker tests histories against.
///
/// `step` must be a pure function: the checker memoizes (linearized operations, state) pairs
/// and backtracks, so the same call must always give the same answer.
public protocol LinearizabilityModel {
    /// What a client asked.
    associatedtype Input
    /// What it was told.
    associatedtype Output
    /// The state of one partition; equal states must behave alike.
    associatedtype State: Hashable

    /// Splits a history into independent partitions (P-compositionality), each a history of
    /// its own, sorted by name. A partition may hold a projection of an operation (another
    /// input with the same output and times) rather than the operation itself.
    func partition(_ history: [LinearizabilityOperation<Input, Output>]) -> [LinearizabilityPartition<Input, Output>]

    /// The state a partition starts in.
    func initialState(partition: String) -> State

    /// The state after `input` answered `output`, or nil when the model cannot answer that
    /// from `state`. With `output == nil` (unknown outcome) the operation takes whatever effect
    /// the model gives it from `state`.
    func step(_ state: State, _ input: Input, _ output: Output?) -> State?

    /// One operation with its outcome, for reports.
    func describe(_ input: Input, _ output: Output?) -> String

    /// A state, for reports.
    func describe(_ state: State) -> String
}

/// One operation of a history: who, what, what it was told, and when (simulated microseconds).
public struct LinearizabilityOperation<Input, Output> {
    /// The client that issued it.
    public var client: Int
    /// What it asked.
    public var input: Input
    /// What it was told; nil when it never learned (timed out, gave up).
    public var output: Output?
    /// When it was called.
    public var callMicros: UInt64
    /// When the answer arrived (or the client gave up, for an unknown outcome).
    public var returnMicros: UInt64
    /// Its position in the whole history, carried into partitions for reports.
    public var id: Int

    /// Makes an operation.
    public init(client: Int, input: Input, output: Output?, callMicros: UInt64, returnMicros: UInt64, id: Int) {
        self.client = client
        self.input = input
        self.output = output
        self.callMicros = callMicros
        self.returnMicros = returnMicros
        self.id = id
    }

    /// Whether the outcome is unknown.
    public var isOpen: Bool { output == nil }

    /// The same operation with another input (a projection into a partition).
    public func with(input: Input) -> LinearizabilityOperation {
        var copy = self
        copy.input = input
        return copy
    }
}

/// A named part of a history, checked on its own.
public struct LinearizabilityPartition<Input, Output> {
    /// Its name, e.g. "group:cg-1".
    public var name: String
    /// Its operations, in any order.
    public var operations: [LinearizabilityOperation<Input, Output>]

    /// Makes a partition.
    public init(name: String, operations: [LinearizabilityOperation<Input, Output>]) {
        self.name = name
        self.operations = operations
    }
}

/// What the check of one partition found.
public enum PartitionVerdict: Equatable, Sendable {
    /// A linearization exists.
    case linearizable
    /// None exists; the text names the partition, the operation that cannot be placed and
    /// the longest linearizable prefix found.
    case notLinearizable(String)
    /// The search took more than its step bound: neither pass nor fail.
    case inconclusive
}

/// What the check of a whole history found.
public struct LinearizabilityReport: Sendable {
    /// Partitions checked.
    public var partitionCount = 0
    /// Operations over all partitions (projections counted in each partition).
    public var operationCount = 0
    /// Search steps over all partitions.
    public var stepCount = 0
    /// Each partition that is not linearizable, with the reason, in partition order.
    public var failures: [(partition: String, detail: String)] = []
    /// Partitions whose search ran out of steps, in partition order.
    public var inconclusive: [String] = []

    /// Whether every partition was shown linearizable.
    public var isLinearizable: Bool { failures.isEmpty && inconclusive.isEmpty }
}

/// Checks histories against a model, one partition at a time.
public struct LinearizabilityChecker<Model: LinearizabilityModel> {
    /// The model.
    public let model: Model
    /// The most search steps one partition may take before it is inconclusive.
    public let stepsPerPartitionMax: Int

    /// Search steps per partition by default: about a tenth of a second of search at most.
    public static var defaultStepsPerPartitionMax: Int { 200_000 }

    /// Makes a checker with a step bound per partition.
    public init(model: Model, stepsPerPartitionMax: Int = Self.defaultStepsPerPartitionMax) {
        precondition(stepsPerPartitionMax >= 1, "the step bound must be positive")
        self.model = model
        self.stepsPerPartitionMax = stepsPerPartitionMax
    }

    /// Partitions `history` and checks every partition, in partition order.
    public func check(_ history: [LinearizabilityOperation<Model.Input, Model.Output>]) -> LinearizabilityReport {
        var report = LinearizabilityReport()
        for partition in model.partition(history) {
            report.partitionCount += 1
            report.operationCount += partition.operations.count
            let (verdict, steps) = check(partition)
            report.stepCount += steps
            switch verdict {
            case .linearizable: break
            case let .notLinearizable(detail): report.failures.append((partition.name, detail))
            case .inconclusive: report.inconclusive.append(partition.name)
            }
        }
        return report
    }

    /// Checks one partition; returns the verdict and the search steps taken.
    public func check(_ partition: LinearizabilityPartition<Model.Input, Model.Output>) -> (PartitionVerdict, Int) {
        var search = LinearizabilitySearch(model: model, partition: partition, stepsMax: stepsPerPartitionMax)
        let outcome = search.run(recordingLongest: false)
        switch outcome {
        case .linearizable: return (.linearizable, search.steps)
        case .inconclusive: return (.inconclusive, search.steps)
        case .notLinearizable:
            let steps = search.steps
            // Search again, keeping the longest linearizable prefix, only for the report.
            var explained = LinearizabilitySearch(model: model, partition: partition, stepsMax: stepsPerPartitionMax)
            _ = explained.run(recordingLongest: true)
            return (.notLinearizable(explained.explainFailure()), steps)
        }
    }
}

extension LinearizabilityOperation: Sendable where Input: Sendable, Output: Sendable {}
extension LinearizabilityPartition: Sendable where Input: Sendable, Output: Sendable {}
