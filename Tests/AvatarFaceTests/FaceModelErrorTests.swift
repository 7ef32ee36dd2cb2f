import AvatarFace
import Testing

@Test func faceErrorsSayWhatFailed() {
    #expect(FaceModelError("tensor triangles: expected I32").description == "face model: tensor triangles: expected I32")
}
