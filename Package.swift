// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "evac",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "evac", targets: ["evac"]),
        .executable(name: "evac-bench", targets: ["evac-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries: each is imported by exactly one Swift module.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        // The core: model, plan language, units, diagnostics, placement, DAG. No C imports.
        .target(name: "EvacCore"),
        // The only importer of CYAML: YAML text -> EvacCore.Node tree with marks.
        .target(name: "EvacYAML", dependencies: ["EvacCore", "CYAML"]),
        // JSON values and a JSON Schema subset validator, for checking plans against a schema.
        .target(name: "EvacSchema", dependencies: ["EvacCore"]),
        // The only importer of CLibvirt: connections, inventory, migrations, events.
        .target(name: "EvacLibvirt", dependencies: ["EvacCore", "CLibvirt"]),
        // Commands and renderers.
        .target(name: "EvacCLI", dependencies: [
            "EvacCore", "EvacYAML", "EvacLibvirt",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "evac", dependencies: ["EvacCLI"]),

        // Seeded synthetic fleets (scale and tight) for benchmarks and property tests.
        .target(name: "EvacBench", dependencies: ["EvacCore"]),
        .executableTarget(name: "evac-bench", dependencies: ["EvacBench", "EvacCore"]),

        .testTarget(name: "EvacCoreTests", dependencies: ["EvacCore", "EvacBench"]),
        .testTarget(name: "EvacYAMLTests", dependencies: ["EvacYAML", "EvacCore"]),
        .testTarget(name: "EvacSchemaTests", dependencies: ["EvacSchema", "EvacCore"]),
        .testTarget(name: "EvacLibvirtTests", dependencies: ["EvacLibvirt", "EvacCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EvacCLITests", dependencies: ["EvacCLI", "EvacCore", "EvacYAML", "EvacSchema", "evac"],
                    resources: [.copy("Golden")]),
    ]
)
