import Testing

@testable import GnomonProtocol

@Suite("Generated code")
struct GeneratedCodeTests {
    @Test("the generated code matches proto/: run scripts/generate-proto after changing a .proto")
    func generatedCodeIsCurrent() throws {
        #expect(try ProtoFiles.digest() == ProtoSchema.sourceDigest)
    }

    @Test("every method has a unique wire name and can be found by it")
    func methodTable() throws {
        let names = MethodDescriptor.all.map(\.fullName)
        #expect(names.count == Set(names).count)
        #expect(Set(names) == (try ProtoFiles.declaredMethodNames()))
        for method in MethodDescriptor.all {
            #expect(MethodDescriptor.named(method.fullName) == method)
            #expect(method.serviceName.hasPrefix("gnomon.v1."))
            #expect(!method.methodName.isEmpty)
        }
        #expect(MethodDescriptor.named("gnomon.v1.JobService/Nope") == nil)
    }

    @Test("the lease stream is the server-streaming method; the rest are unary")
    func methodKinds() {
        let streaming = MethodDescriptor.all.filter { $0.kind == .serverStreaming }
        #expect(streaming.map(\.fullName) == ["gnomon.v1.WorkerService/LeaseJobs"])
        #expect(MethodDescriptor.leaseJobs.responseType.protoName == V1.LeaseStreamMessage.protoName)
        #expect(MethodDescriptor.submitJob.requestType.protoName == V1.SubmitJobRequest.protoName)
    }
}
