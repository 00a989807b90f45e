import Foundation
import GnomonProtocol

// Writes the seed corpora from real encodings: `scripts/fuzz --write-seeds` runs it with the
// corpus folder, Fuzz/Corpus, as its argument. Every seed is replaced; seeds not written here
// are removed.

let corpus = URL(fileURLWithPath: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Fuzz/Corpus")
let seedSets: [(target: String, seeds: [(name: String, bytes: [UInt8])])] = [
    ("FrameDecoding", try FrameSeeds.make()),
    ("MessageDecoding", try MessageSeeds.make()),
]

for (target, seeds) in seedSets {
    let folder = corpus.appendingPathComponent(target)
    try? FileManager.default.removeItem(at: folder)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, bytes) in seeds {
        try Data(bytes).write(to: folder.appendingPathComponent(name))
    }
    print("wrote \(seeds.count) seeds to \(folder.path)")
}
