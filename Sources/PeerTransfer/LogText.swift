import Logging

/// Text from a tracker or a peer made safe for one `key=value` piece of text (error messages
/// that quote a file name or an address): `LogText.escaped` with quoting, cut at
/// `TransferLimits.logTextCharactersMax` characters. Log fields need no such call: the logger
/// escapes every value itself.
public func logSafe(_ text: String) -> String {
    LogText.escaped(text, quoting: true, characterLimit: TransferLimits.logTextCharactersMax)
}

/// `text` with its control characters escaped, for remote text printed on a terminal
/// (`LogText.escapeControlCharacters`).
public func escapeControlCharacters(_ text: String, quotes: Bool = false, characterLimit: Int = .max) -> String {
    LogText.escapeControlCharacters(text, quotes: quotes, characterLimit: characterLimit)
}
