import AvatarMotion
import Testing

@Test func motionErrorsNameTheComponent() {
    let e = MotionModelError("ics_a2m", "tensor layers.0.attn.qkv.weight: expected [96, 32], found [96, 33]")
    #expect(e.description == "ics_a2m: tensor layers.0.attn.qkv.weight: expected [96, 32], found [96, 33]")
}
