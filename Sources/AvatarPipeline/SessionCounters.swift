/// Per-session totals reported in `stats` and `session.ended`.
struct SessionCounters {
    var framesRendered = 0
    var framesDropped = 0
    var packetsLost = 0
    var packetsDropped = 0
    var decodeErrors = 0
}
