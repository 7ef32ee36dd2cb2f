import AvatarModels
import Testing

@Test func everyRoleListsItsKinds() {
    #expect(ModelKind.supported["motion_model"] == [ModelKind.icsA2M])
    #expect(ModelKind.supported["audio_frontend"]?.contains(ModelKind.logMel) == true)
}

@Test func mimicTalkPersonBundlesAreKnownKinds() {
    #expect(ModelKind.supported["renderer"] == [ModelKind.previewRenderer, ModelKind.mimicTalkRenderer])
    #expect(ModelKind.supported["identity"] == [ModelKind.mimicTalkPerson])
}
