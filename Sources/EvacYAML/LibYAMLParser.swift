internal import CYAML
import EvacCore

/// One libyaml event, copied into Swift values so the C event can be freed at once.
enum Event {
    case streamStart, streamEnd
    case documentStart(Mark), documentEnd
    case scalar(value: String, quoted: Bool, anchor: String?, mark: Mark, end: Mark)
    case alias(anchor: String, mark: Mark)
    case sequenceStart(anchor: String?, mark: Mark), sequenceEnd
    case mappingStart(anchor: String?, mark: Mark), mappingEnd
}

/// The sole owner of a `yaml_parser_t` and of the input bytes it reads.
///
/// libyaml keeps the input pointer for the whole parse, so the bytes are copied into a
/// buffer this object owns and frees together with the parser in `deinit`.
final class LibYAMLParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private var finished = false

    /// Returns nil only if libyaml cannot allocate its parser.
    init?(bytes: some Collection<UInt8>) {
        parser = .allocate(capacity: 1)
        // Allocate at least one byte so the base address is never nil.
        input = .allocate(capacity: max(1, bytes.count))
        _ = input.initialize(from: bytes)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            input.deallocate()
            return nil
        }
        // Only UTF-8 is accepted: libyaml then rejects malformed bytes itself.
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event, or the parser's error. After an error or the stream end, keeps failing
    /// rather than calling libyaml again (it must not be driven past an error).
    func next() -> Result<Event, YAMLError> {
        guard !finished else {
            return .failure(YAMLError(at: Mark(line: 1, column: 1), "internal: read past the end of the YAML stream"))
        }
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            finished = true
            return .failure(ErrorWording.error(from: parser.pointee, input: UnsafeBufferPointer(input)))
        }
        defer { yaml_event_delete(&event) }
        let start = Self.mark(event.start_mark)
        let end = Self.mark(event.end_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: return .success(.streamStart)
        case YAML_STREAM_END_EVENT:
            finished = true
            return .success(.streamEnd)
        case YAML_DOCUMENT_START_EVENT: return .success(.documentStart(start))
        case YAML_DOCUMENT_END_EVENT: return .success(.documentEnd)
        case YAML_ALIAS_EVENT:
            return .success(.alias(anchor: Self.string(event.data.alias.anchor) ?? "", mark: start))
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value =
                s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self) } ?? ""
            let tag = Self.string(s.tag)
            // Quoted and block scalars, and explicit string tags ("!" or "!!str"), are never
            // re-typed as numbers, booleans or null by consumers.
            let quoted =
                s.style != YAML_PLAIN_SCALAR_STYLE && s.style != YAML_ANY_SCALAR_STYLE
                || tag == "!" || tag == "tag:yaml.org,2002:str"
            return .success(.scalar(value: value, quoted: quoted, anchor: Self.string(s.anchor), mark: start, end: end))
        case YAML_SEQUENCE_START_EVENT:
            return .success(.sequenceStart(anchor: Self.string(event.data.sequence_start.anchor), mark: start))
        case YAML_SEQUENCE_END_EVENT: return .success(.sequenceEnd)
        case YAML_MAPPING_START_EVENT:
            return .success(.mappingStart(anchor: Self.string(event.data.mapping_start.anchor), mark: start))
        case YAML_MAPPING_END_EVENT: return .success(.mappingEnd)
        default:
            finished = true
            return .failure(YAMLError(at: start, "internal: unexpected libyaml event \(event.type.rawValue)"))
        }
    }

    /// libyaml marks are 0-based and count characters; ours are 1-based.
    static func mark(_ m: yaml_mark_t) -> Mark { Mark(line: Int(m.line) + 1, column: Int(m.column) + 1) }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
