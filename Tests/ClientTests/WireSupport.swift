import PeerTransfer

extension PieceWire {
    /// The next message that is not a `have` (the server pushes those between its answers).
    func receiveAnswer(maxBytes: Int = TransferLimits.frameBytesMax) throws -> PieceMessage {
        while true {
            let message = try receive(maxBytes: maxBytes)
            if case .have = message { continue }
            return message
        }
    }

    /// Names `fileName` on the connection (`bitfieldRequest`) and returns the answer.
    func subscribe(_ fileName: String) throws -> PieceMessage {
        try send(.bitfieldRequest(fileName: fileName))
        return try receiveAnswer()
    }
}
