import CLibCrypto

/// Stops the process with libcrypto's queued error text: used only for failures no caller can
/// handle (allocation failure, an algorithm missing from the provider).
func cryptoFailure(_ function: String) -> Never {
    preconditionFailure("\(function) failed: \(takeCryptoErrorText())")
}

/// Pops libcrypto's thread-local error queue and returns the most recent error as text.
func takeCryptoErrorText() -> String {
    var code: UInt = 0
    var next = ERR_get_error()
    while next != 0 {
        code = next
        next = ERR_get_error()
    }
    guard code != 0 else { return "no libcrypto error queued" }
    let textBytesMax = 256
    var text = [CChar](repeating: 0, count: textBytesMax)
    ERR_error_string_n(code, &text, text.count)
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
