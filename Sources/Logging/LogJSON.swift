/// The JSON form of a log line: one object with `time`, `level` and `message`, then the fields
/// in order, every value a string. A field named like one of the three (or like an earlier
/// field) is written as `field.<key>` so no key appears twice.
enum LogJSON {
    static func line(_ record: LogRecord) -> String {
        var object: [(String, JSONValue)] = [("time", .string(record.timestamp)),
                                             ("level", .string(record.level.rawValue.lowercased())),
                                             ("message", .string(record.message))]
        var used: Set<String> = ["time", "level", "message"]
        for (key, value) in record.fields {
            var name = key
            while used.contains(name) { name = "field." + name }
            used.insert(name)
            let cut = value.unicodeScalars.count > LogText.valueCharactersMax
                ? String(String.UnicodeScalarView(value.unicodeScalars.prefix(LogText.valueCharactersMax))) + "…" : value
            object.append((name, .string(cut)))
        }
        return JSONValue.object(object).text(escapingFormatCharacters: true) + "\n"
    }
}
