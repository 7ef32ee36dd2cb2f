import AvatarConfig
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Plain HTTP on the public listener: the browser page compiled into the binary, the avatar list behind the
/// session tokens, and WHEP's answers to requests that cannot become a viewer (real viewers: tests/web).
@Suite(.serialized)
struct PublicHTTPTests {
    static func request(_ daemon: TestDaemon, _ method: String, _ path: String, body: String? = nil,
                        headers: [String: String] = [:]) async throws -> (Int, [AnyHashable: Any], String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(daemon.publicPort)\(path)")!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, http.allHeaderFields, String(decoding: data, as: UTF8.self))
    }

    @Test func servesThePageWithoutInstalledFiles() async throws {
        let daemon = try await TestDaemon.start { $0.tokens = ["secret"] }
        let (status, headers, html) = try await Self.request(daemon, "GET", "/")
        #expect(status == 200)
        #expect((headers["Content-Type"] as? String)?.hasPrefix("text/html") == true)
        #expect(html.contains("<script src=\"/app.js\"></script>"))
        for (path, type, marker) in [("/app.js", "text/javascript", "AudioEncoder"),
                                     ("/capture-worklet.js", "text/javascript", "registerProcessor"),
                                     ("/style.css", "text/css", "#video")] {
            let (s, h, text) = try await Self.request(daemon, "GET", path)
            #expect(s == 200, "\(path)")
            #expect((h["Content-Type"] as? String)?.hasPrefix(type) == true, "\(path)")
            #expect(text.contains(marker), "\(path)")
        }
        #expect(try await Self.request(daemon, "GET", "/nothing-here").0 == 404)
        #expect(try await Self.request(daemon, "POST", "/app.js", body: "x").0 == 405)
        #expect(try await Self.request(daemon, "GET", "/v1/session").0 == 426)
        await daemon.stop()
    }

    @Test func avatarListNeedsTheSessionToken() async throws {
        let daemon = try await TestDaemon.start { $0.tokens = ["secret"] }
        #expect(try await Self.request(daemon, "GET", "/v1/avatars").0 == 401)
        #expect(try await Self.request(daemon, "GET", "/v1/avatars", headers: ["Authorization": "Bearer wrong"]).0 == 401)
        let (status, _, body) = try await Self.request(daemon, "GET", "/v1/avatars", headers: ["Authorization": "Bearer secret"])
        #expect(status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let avatars = try #require(json["avatars"] as? [[String: Any]])
        #expect(avatars.map { $0["name"] as? String } == ["envelope"])
        let outputs = try #require(json["webrtc_outputs"] as? [String])
        #expect(outputs.contains("webrtc") && outputs.contains("webrtc-vp8") && !outputs.contains("rtp-h264"))
        #expect(try await Self.request(daemon, "GET", "/v1/avatars?token=secret").0 == 200)
        await daemon.stop()
    }

    @Test func whepRefusalsAreClearHTTPErrors() async throws {
        let daemon = try await TestDaemon.start { $0.tokens = ["secret"] }
        let auth = ["Authorization": "Bearer secret", "Content-Type": "application/sdp"]
        let offer = WHEPOfferTestsShared.offer
        #expect(try await Self.request(daemon, "POST", "/v1/sessions/x/whep", body: offer).0 == 401)
        let (unknown, _, text) = try await Self.request(daemon, "POST", "/v1/sessions/x/whep", body: offer, headers: auth)
        #expect(unknown == 404)
        #expect(text.contains("no WebRTC session"))
        #expect(try await Self.request(daemon, "POST", "/v1/sessions/x/whep", body: "{}",
                                       headers: ["Authorization": "Bearer secret", "Content-Type": "application/json"]).0 == 415)
        #expect(try await Self.request(daemon, "DELETE", "/v1/sessions/x/whep/y", headers: auth).0 == 404)
        #expect(try await Self.request(daemon, "PATCH", "/v1/sessions/x/whep/y", body: "a=candidate", headers: auth).0 == 405)
        let big = String(repeating: "a=x\r\n", count: 20000)
        #expect(try await Self.request(daemon, "POST", "/v1/sessions/x/whep", body: big, headers: auth).0 == 413)
        let (preflight, headers, _) = try await Self.request(daemon, "OPTIONS", "/v1/sessions/x/whep")
        #expect(preflight == 204)
        #expect(headers["Access-Control-Allow-Origin"] as? String == "*")
        #expect((headers["Access-Control-Allow-Methods"] as? String)?.contains("DELETE") == true)
        // The listener still takes sessions after all that.
        #expect(try await daemon.admin("/readyz").0 == 200)
        await daemon.stop()
    }
}

/// A well-formed recvonly offer (what a browser sends) for requests that are refused before negotiation.
enum WHEPOfferTestsShared {
    static let offer = [
        "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 102", "c=IN IP4 0.0.0.0", "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
        "a=setup:actpass", "a=mid:0", "a=recvonly", "a=rtcp-mux", "a=rtpmap:102 H264/90000",
        "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f",
    ].joined(separator: "\r\n") + "\r\n"
}
