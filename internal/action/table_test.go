package action

import (
	"reflect"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
)

// TestBodyFieldsOnePerMethod: the edge reads a JSON body's fields once, before it picks the row
// (BodyFields takes the first HTTP trigger's reader), so every HTTP trigger of a function and
// method that declares a reader declares the same one.
func TestBodyFieldsOnePerMethod(t *testing.T) {
	t.Parallel()
	for _, fn := range []autopilot.Function{autopilot.FunctionSync, autopilot.FunctionStatus} {
		for _, tr := range Triggers(fn, ViaHTTP) {
			if tr.Fields == nil {
				continue
			}
			want := BodyFields(fn, tr.Method)
			if reflect.ValueOf(tr.Fields).Pointer() != reflect.ValueOf(want).Pointer() {
				t.Errorf("%s %s: a trigger reads the body's fields with another reader than BodyFields'", fn, tr.Method)
			}
		}
	}
	if BodyFields(autopilot.FunctionSync, "POST") == nil {
		t.Error("POST /sync has no body reader: serials and devices would not be read")
	}
}
