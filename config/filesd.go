package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/model"
)

// ParseFileSD decodes a file_sd target file: a list of {targets, labels}
// entries, as JSON when filename ends in .json and as YAML otherwise. The
// targets must be host:port and the label names valid UTF-8, the checks Load
// makes on static_configs (relabeling cannot be known here, so targets are
// always checked strictly). Errors are "file:line: [i].targets[j]: message"
// for YAML; JSON errors carry a line when the JSON itself is malformed.
func ParseFileSD(data []byte, filename string) ([]StaticConfig, error) {
	r := newReport(filename)
	var out []StaticConfig
	if strings.EqualFold(filepath.Ext(filename), ".json") {
		out = decodeFileSDJSON(data, r)
	} else if root, ok := parseYAML(data, r); ok && root != nil {
		decode(r, root, &out)
	}
	r.decoded = len(r.Errs)
	for i := range out {
		out[i].validate(r, fmt.Sprintf("[%d]", i), model.UTF8Validation, true)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeFileSDJSON(data []byte, r *report) []StaticConfig {
	var out []StaticConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&out)
	if errors.Is(err, io.EOF) {
		return nil // an empty file lists no targets
	}
	if err == nil {
		off := int(dec.InputOffset())
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			off += len(data[off:]) - len(bytes.TrimLeft(data[off:], " \t\r\n"))
			r.add(lineAt(data, int64(off)+1), "", "unexpected data after the list")
			return nil
		}
	}
	if err == nil {
		for i := range out {
			if out[i].Labels != nil && len(out[i].Labels) == 0 {
				out[i].Labels = nil
			}
			if out[i].Targets != nil && len(out[i].Targets) == 0 {
				out[i].Targets = nil
			}
		}
		return out
	}
	line, path, msg := 0, "", err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line = lineAt(data, se.Offset)
	case errors.As(err, &te):
		line = lineAt(data, te.Offset)
		path = te.Field
		msg = fmt.Sprintf("expected %s, got JSON %s", kindName(te.Type), te.Value)
	}
	msg = strings.TrimPrefix(msg, "json: ")
	r.add(line, path, msg)
	return nil
}

// lineAt is the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}
