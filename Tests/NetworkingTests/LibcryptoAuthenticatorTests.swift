import Hashing
import Networking
import Testing

@Suite("HandshakeAuthenticator.libcrypto")
struct LibcryptoAuthenticatorTests {
    @Test("its MAC is HMAC-SHA256 (RFC 4231 case 2), its nonces are fresh and never all zero, its comparison exact")
    func realCryptography() {
        let auth = HandshakeAuthenticator.libcrypto
        let mac = auth.mac(Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let nonces = (0..<16).map { _ in auth.randomBytes(32) }
        #expect(Set(nonces.map { Hex.encode($0) }).count == 16)
        #expect(nonces.allSatisfy { $0.count == 32 && $0.contains { $0 != 0 } })
        #expect(auth.isEqual(mac, mac) && !auth.isEqual(mac, Array(mac.dropLast())) && !auth.isEqual(mac, mac.reversed()))
    }
}
