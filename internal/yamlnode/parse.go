package yamlnode

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// Document is a file parsed as YAML: its first document and whether
// another one follows, which every file type of the project refuses in
// its own words.
type Document struct {
	// Root is the content of the first document, nil when there is none.
	Root *yaml.Node
	// Empty reports a file without any document (empty or only comments).
	Empty bool
	// Err is the syntax error of the first document; nothing else is set
	// with it.
	Err error
	// Extra is the second document, or nil; ExtraErr is the syntax error
	// met looking for one.
	Extra    *yaml.Node
	ExtraErr error
}

// HasExtra reports whether something (a document or a syntax error)
// follows the first document.
func (d *Document) HasExtra() bool { return d.Extra != nil || d.ExtraErr != nil }

// ExtraLine is the line of the second document, 0 when it did not parse.
func (d *Document) ExtraLine() int {
	if d.Extra == nil {
		return 0
	}
	return d.Extra.Line
}

// Parse parses the first YAML document of data into a node tree and looks
// for a second one.
func Parse(data []byte) Document {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Document{Empty: true}
		}
		return Document{Err: err}
	}
	var d Document
	if len(doc.Content) == 1 {
		d.Root = doc.Content[0]
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.ExtraErr = err
	default:
		d.Extra = &extra
	}
	return d
}
