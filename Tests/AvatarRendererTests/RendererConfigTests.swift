import AvatarFormats
import AvatarRenderer
import Testing

struct RendererConfigTests {
    @Test func readsTheConvertedFixtures() throws {
        let small = try RendererFixture("small").config
        #expect(small.img == 64 && small.nerfRes == 16 && small.hid == 8 && small.depth == 1 && !small.trigrid && small.torsoIn == 5)
        #expect(small.mitDims == [8, 16, 40, 64] && small.samplesCoarse == 12 && small.hgUp == [8, 4])
        let trigrid = try RendererFixture("trigrid").config
        #expect(trigrid.depth == 3 && trigrid.trigrid && trigrid.torsoIn == 3 && trigrid.planeCh == 24)
    }

    @Test func refusesOtherLayoutsAndUnsupportedSwitches() {
        func refusal(_ config: [String: JSONValue]) -> String {
            do { _ = try RendererConfig(manifest: config); return "" } catch { return "\(error)" }
        }
        let layout = JSONValue.string(RendererConfig.layout)
        #expect(refusal([:]).contains("layout is missing"))
        #expect(refusal(["layout": .string("avatard-mimictalk-renderer-0")]).contains("this build reads"))
        #expect(refusal(["layout": layout, "fuse_mode": .string("v3")]).contains("fuse_mode \"v3\""))
        #expect(refusal(["layout": layout, "depth": .number(3)]).contains("needs trigrid"))
        #expect(refusal(["layout": layout, "hid": .number(-1)]).contains("hid must be an integer"))
        #expect(refusal(["layout": layout, "img": .number(500), "nerf_res": .number(125)]).contains("multiple of 32"))
        #expect(refusal(["layout": layout]).isEmpty)
    }
}
