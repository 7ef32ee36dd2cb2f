/// Component kinds (the manifest's `kind` strings) that this build can run, by manifest role.
public enum ModelKind {
    public static let logMel = "log_mel"
    public static let hubert = "hubert"
    public static let icsA2M = "ics_a2m"
    public static let faceModel = "avatard_face"
    /// The BFM09 front model of a MimicTalk avatar (`tools/convert.py face-model`, docs/avatars.md §2).
    public static let bfm09Front = "bfm09_front"
    public static let previewRenderer = "raster_preview"
    public static let mimicTalkRenderer = "mimictalk_renderer"
    public static let mimicTalkPerson = "mimictalk_person"

    public static let supported: [String: Set<String>] = [
        "audio_frontend": [logMel, hubert],
        "motion_model": [icsA2M],
        "face_model": [faceModel, bfm09Front],
        "renderer": [previewRenderer, mimicTalkRenderer],
        "identity": [mimicTalkPerson],
    ]
}
