internal import COpus

/// libopus constants and messages.
enum OpusCodes {
    static func message(_ code: Int32) -> String { String(cString: opus_strerror(code)) }
    static let applicationVoIP = Int32(OPUS_APPLICATION_VOIP)
    static let applicationAudio = Int32(OPUS_APPLICATION_AUDIO)
}
