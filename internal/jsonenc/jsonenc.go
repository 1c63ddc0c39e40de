// Package jsonenc encodes the JSON the functions send: answers, chat messages, callbacks and
// reports. It is encoding/json without HTML escaping (chat text carries <, > and &, escaped for
// its platform already) and without the trailing newline. It never decodes anything.
package jsonenc

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v as JSON without HTML escaping. Its errors are encoding/json's (a time past
// year 9999, an unsupported value).
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encoder(&b, "").Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Indent encodes v as indented JSON (two spaces), without HTML escaping, ending in a newline:
// for reports a person reads.
func Indent(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encoder(&b, "  ").Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encoder(b *bytes.Buffer, indent string) *json.Encoder {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc
}
