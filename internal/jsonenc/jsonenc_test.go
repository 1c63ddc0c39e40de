package jsonenc_test

import (
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/jsonenc"
)

func TestMarshal(t *testing.T) {
	t.Parallel()
	got, err := jsonenc.Marshal(map[string]string{"text": "a <b> & c"})
	if err != nil || string(got) != `{"text":"a <b> & c"}` {
		t.Errorf("Marshal = %s, %v; want the markup unescaped and no newline", got, err)
	}
	got, err = jsonenc.Indent(map[string]int{"n": 1})
	if err != nil || string(got) != "{\n  \"n\": 1\n}\n" {
		t.Errorf("Indent = %q, %v", got, err)
	}
	if _, err := jsonenc.Marshal(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("a time past year 9999 encoded")
	}
}
