import Testing
@testable import StrataOCI

@Suite struct OCILayoutTests {
    @Test func refNameAnnotationIsTheOCIOne() {
        #expect(OCILayout.refNameAnnotation == "org.opencontainers.image.ref.name")
    }
}
