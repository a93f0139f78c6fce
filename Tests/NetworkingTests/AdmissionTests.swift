import Networking
import Testing

func admissionLimits(total: Int = 10, perAddress: Int = 3, burst: Int = 4, perSecond: Double = 2, tracked: Int = 100) -> AddressAdmission.Limits {
    AddressAdmission.Limits(connectionsMax: total, connectionsPerAddressMax: perAddress, passwordRequestsBurst: burst,
                            passwordRequestsPerSecond: perSecond, addressesTrackedMax: tracked)
}

/// What `take` answered at each of `times`, in order.
func takes(_ bucket: inout TokenBucket, at times: [UInt64]) -> [Bool] {
    times.map { bucket.take(nowMillis: $0) }
}

/// What `admit` answered for each address, in order.
func admits(_ admission: inout AddressAdmission, _ addresses: [String], at nowMillis: UInt64 = 0) -> [AddressAdmission.Refusal?] {
    addresses.map { admission.admit(address: $0, nowMillis: nowMillis) }
}

/// What `allowPasswordRequest` answered for each address, in order.
func allows(_ admission: inout AddressAdmission, _ addresses: [String], at nowMillis: UInt64) -> [Bool] {
    addresses.map { admission.allowPasswordRequest(address: $0, nowMillis: nowMillis) }
}

@Suite("admission: connection budget, per-address caps, token buckets")
struct AdmissionTests {
    @Test("a token bucket admits its burst, then its rate; a clock reading from the past counts as no time")
    func tokenBucket() {
        var bucket = TokenBucket(burst: 3, perSecond: 2, nowMillis: 1_000)
        #expect(takes(&bucket, at: [1_000, 1_000, 1_000, 1_000, 1_000]) == [true, true, true, false, false])
        #expect(takes(&bucket, at: [1_400]) == [false]) // 0.8 of a token
        #expect(takes(&bucket, at: [1_500]) == [true])
        #expect(takes(&bucket, at: [900]) == [false]) // an older reading: no refill, no trap
        #expect(!bucket.isFull(nowMillis: 1_500))
        #expect(bucket.isFull(nowMillis: 3_000))
        #expect(takes(&bucket, at: [60_000, 60_000, 60_000, 60_000]) == [true, true, true, false], "refill stops at the burst")
    }

    @Test("each address gets its share, the total is a budget, and a release frees both")
    func connectionCaps() {
        var admission = AddressAdmission(limits: admissionLimits())
        let a = "10.0.0.1"
        #expect(admits(&admission, [a, a, a, a]) == [nil, nil, nil, .overAddressLimit(limit: 3)])
        // Loopback is an address like any other.
        let lo = "127.0.0.1"
        #expect(admits(&admission, [lo, lo, lo, lo]) == [nil, nil, nil, .overAddressLimit(limit: 3)])
        #expect(admits(&admission, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]) == [nil, nil, nil, nil])
        #expect(admission.connectionCount == 10)
        #expect(admits(&admission, ["10.0.0.9"]) == [.overBudget(limit: 10)])
        admission.release(address: a, nowMillis: 0)
        #expect(admits(&admission, [a]) == [nil])
        admission.release(address: "never-admitted", nowMillis: 0)
        #expect(admission.connectionCount == 10)
    }

    @Test("password requests are rate-limited per address, and reconnecting does not refill the bucket")
    func passwordRate() {
        var admission = AddressAdmission(limits: admissionLimits(burst: 4, perSecond: 2))
        let a = "10.0.0.1"
        #expect(admits(&admission, [a]) == [nil])
        #expect(allows(&admission, [a, a, a, a, a, a], at: 0) == [true, true, true, true, false, false])
        #expect(allows(&admission, ["10.0.0.2"], at: 0) == [true], "another address has its own bucket")
        admission.release(address: a, nowMillis: 100)
        #expect(admits(&admission, [a], at: 100) == [nil])
        #expect(allows(&admission, [a], at: 100) == [false])
        #expect(allows(&admission, [a], at: 600) == [true])
    }

    @Test("the address table stays bounded: refilled idle addresses are forgotten, and when none can be, new ones are refused")
    func addressTableBounded() {
        var admission = AddressAdmission(limits: admissionLimits(total: 2, burst: 2, perSecond: 1, tracked: 3))
        #expect(allows(&admission, ["10.0.1.0", "10.0.1.1", "10.0.1.2"], at: 0) == [true, true, true])
        #expect(admission.trackedAddressCount == 3)
        #expect(allows(&admission, ["10.0.1.9"], at: 100) == [false], "table full of recent buckets")
        #expect(admission.trackedAddressCount == 3)
        #expect(allows(&admission, ["10.0.1.9"], at: 5_000) == [true], "old buckets refilled and were forgotten")
        #expect(admission.trackedAddressCount == 1)
    }

    @Test("inconsistent limits are reported")
    func limitsChecked() {
        #expect(admissionLimits().problem() == nil)
        #expect(admissionLimits(total: 0).problem() != nil)
        #expect(admissionLimits(perSecond: 0).problem() != nil)
        #expect(admissionLimits(total: 10, tracked: 5).problem() != nil)
    }
}
