import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A minimal read-only view over libvirt's XML: child lookup by name and attributes.
/// libvirt's XML is small and regular, so plain tree walking is enough (no XPath strings to
/// get wrong, no namespaces involved).
struct XMLTree {
    let element: XMLElement

    /// Parses a document and returns its root element.
    static func parse(_ text: String) throws -> XMLTree {
        let doc = try XMLDocument(xmlString: text, options: [])
        guard let root = doc.rootElement() else {
            throw CocoaError(.coderReadCorrupt)
        }
        return XMLTree(element: root)
    }

    var name: String { element.name ?? "" }

    /// Direct children with this element name.
    func children(_ name: String) -> [XMLTree] {
        (element.children ?? []).compactMap { $0 as? XMLElement }.filter { $0.name == name }.map(XMLTree.init)
    }

    /// All element children.
    var elements: [XMLTree] { (element.children ?? []).compactMap { $0 as? XMLElement }.map(XMLTree.init) }

    /// The first element along a slash-separated path of child names ("devices/disk").
    func first(_ path: String) -> XMLTree? {
        var node: XMLTree? = self
        for step in path.split(separator: "/") { node = node?.children(String(step)).first }
        return node
    }

    /// All elements matching a slash-separated path of child names.
    func all(_ path: String) -> [XMLTree] {
        var nodes = [self]
        for step in path.split(separator: "/") { nodes = nodes.flatMap { $0.children(String(step)) } }
        return nodes
    }

    func attr(_ name: String) -> String? { element.attribute(forName: name)?.stringValue }

    /// Trimmed text content; nil when empty.
    var text: String? {
        let t = (element.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    /// Text of the first element along `path`.
    func text(_ path: String) -> String? { first(path)?.text }
}
