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
        // The run journal: SQLite in WAL mode (see Sources/EvacRun/Journal/SQLiteJournal.swift).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // Logs (--verbose, --log-file) and the run's Prometheus metrics file.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // SHA-256 of plan files and inventory fingerprints (Sources/EvacCore/Support/SHA256.swift);
        // the range postgres-nio accepts, so both resolve to one copy.
        .package(url: "https://github.com/apple/swift-crypto", "3.9.0"..<"6.0.0"),
        // The coordinator (shared journals, host leases, capacity reservations) on PostgreSQL.
        // Imported by EvacCoordinator only: the core and the executor import no NIO.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries: each is imported by exactly one Swift module.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        // The core: model, plan language, units, diagnostics, placement, DAG. No C imports (its
        // hash comes from swift-crypto, a Swift API whose C stays inside that package).
        .target(name: "EvacCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The only importer of CYAML: YAML text -> EvacCore.Node tree with marks.
        .target(name: "EvacYAML", dependencies: ["EvacCore", "CYAML"]),
        // JSON values and a JSON Schema subset validator, for checking plans against a schema.
        .target(name: "EvacSchema", dependencies: ["EvacCore"]),
        // The only importer of CLibvirt: connections, inventory, migrations, events.
        .target(name: "EvacLibvirt", dependencies: ["EvacCore", "CLibvirt", "EvacLog"]),
        // swift-log loggers for every module, silent until a command says where logs go.
        .target(name: "EvacLog", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // Executor, limits, journal, resume, rollback, progress observers. Talks to hosts only
        // through EvacCore's Hypervisor protocol.
        .target(
            name: "EvacRun",
            dependencies: [
                "EvacCore", "EvacLog", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        // The only importer of PostgresNIO: a RunJournal on PostgreSQL, host leases and capacity
        // reservations behind EvacRun's RunCoordinator protocol, and the schema's migrations.
        .target(
            name: "EvacCoordinator",
            dependencies: [
                "EvacCore", "EvacRun", "EvacLog", .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        // Self-contained HTML pages of a plan and of a run (Gantt chart, memory, unplaceable).
        .target(name: "EvacHTML", dependencies: ["EvacCore", "EvacRun"]),
        // An in-memory world behind the Hypervisor protocol, with fault injection, and a libvirt
        // host that never answers: used by the tests and by the benchmark, never by the shipped tool.
        .target(name: "EvacFake", dependencies: ["EvacCore", "EvacRun"]),
        .executableTarget(name: "evac-run-bench", dependencies: ["EvacRun", "EvacFake", "EvacCore"]),
        // Commands and renderers.
        .target(
            name: "EvacCLI",
            dependencies: [
                "EvacCore", "EvacYAML", "EvacLibvirt", "EvacRun", "EvacHTML", "EvacLog", "EvacCoordinator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "evac", dependencies: ["EvacCLI"]),

        // Fuzzing (scripts/fuzz, Fuzz/): the entry points, and the driver that libFuzzer runs
        // (built with -sanitize=fuzzer in .build-fuzz) or that replays files (normal build).
        .target(name: "EvacFuzzTargets", dependencies: ["EvacCore", "EvacYAML", "EvacRun"]),
        // libFuzzer's driver entry, declared only (see its header).
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "evac-fuzz", dependencies: ["EvacFuzzTargets", "CFuzzDriver"]),

        // Seeded synthetic fleets (scale and tight) for benchmarks and property tests.
        .target(name: "EvacBench", dependencies: ["EvacCore"]),
        .executableTarget(name: "evac-bench", dependencies: ["EvacBench", "EvacCore", "EvacHTML"]),

        .testTarget(name: "EvacCoreTests", dependencies: ["EvacCore", "EvacBench"]),
        .testTarget(
            name: "EvacRunTests",
            dependencies: [
                "EvacRun", "EvacFake", "EvacCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        // Against a real PostgreSQL server that the tests start (initdb in a directory of their own,
        // loopback only, stopped by PID).
        .testTarget(
            name: "EvacCoordinatorTests",
            dependencies: ["EvacCoordinator", "EvacRun", "EvacCore", "EvacFake", "evac"]),
        .testTarget(name: "EvacYAMLTests", dependencies: ["EvacYAML", "EvacCore"]),
        .testTarget(name: "EvacSchemaTests", dependencies: ["EvacSchema", "EvacCore"]),
        .testTarget(
            name: "EvacLibvirtTests", dependencies: ["EvacLibvirt", "EvacCore", "EvacFake"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "EvacFuzzTests", dependencies: ["EvacFuzzTargets"]),
        .testTarget(
            name: "EvacCLITests",
            dependencies: ["EvacCLI", "EvacCore", "EvacYAML", "EvacSchema", "EvacRun", "EvacFake", "evac"],
            resources: [.copy("Golden")]),
        // The HTML pages, rendered by a real headless Chromium.
        .testTarget(name: "EvacHTMLTests", dependencies: ["EvacHTML", "EvacCore", "EvacRun", "EvacFake"]),
        .testTarget(name: "EvacLogTests", dependencies: ["EvacLog", .product(name: "Logging", package: "swift-log")]),
        // End to end against real libvirt daemons (scripts/lab, root): runs the built `evac`,
        // reads its journals with GRDB.
        .testTarget(name: "EvacLabTests", dependencies: ["evac", .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
