package action

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// hash is a base64 hardware hash of n bytes.
func hash(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("h", n))) }

func TestReadImportDevices(t *testing.T) {
	t.Parallel()
	ok := `{"serialNumber":"5CG1234XYZ","hardwareHash":"` + hash(4000) + `","groupTag":"Sales","assignedUser":"ada@contoso.com"}`
	tests := []struct {
		name, devices string
		want          string // part of the 400's detail; "" accepted
	}{
		{"one device", `[` + ok + `]`, ""},
		{"unpadded hash", `[{"serialNumber":"A1","hardwareHash":"aGg"}]`, ""},
		{"8 KiB hash", `[{"serialNumber":"A1","hardwareHash":"` + hash(8192) + `"}]`, ""},
		{"ten devices", `[` + strings.Repeat(`{"serialNumber":"A1","hardwareHash":"aGg="},`, 0) + func() string {
			var items []string
			for i := range 10 {
				items = append(items, `{"serialNumber":"S`+string(rune('0'+i))+`","hardwareHash":"aGg="}`)
			}
			return strings.Join(items, ",")
		}() + `]`, ""},
		{"not a list", `{"serialNumber":"A1"}`, "must be a list of devices"},
		{"null", `null`, "must be a list of devices"},
		{"empty", `[]`, "1 to 10 devices"},
		{"eleven", `[` + strings.TrimSuffix(strings.Repeat(`{"serialNumber":"A1","hardwareHash":"aGg="},`, 11), ",") + `]`, "1 to 10 devices"},
		{"an unknown field", `[{"serialNumber":"A1","hardwareHash":"aGg=","hardwareIdentifier":"x"}]`, "devices[0] must be an object"},
		{"a number for a string", `[{"serialNumber":1,"hardwareHash":"aGg="}]`, "devices[0] must be an object"},
		{"a bad serial", `[{"serialNumber":"A<1>","hardwareHash":"aGg="}]`, "devices[0].serialNumber"},
		{"no hash", `[{"serialNumber":"A1"}]`, "devices[0].hardwareHash"},
		{"a hash not base64", `[{"serialNumber":"A1","hardwareHash":"not base64!"}]`, "devices[0].hardwareHash"},
		{"a hash over 8 KiB", `[{"serialNumber":"A1","hardwareHash":"` + hash(8193) + `"}]`, "devices[0].hardwareHash"},
		{"a group tag of 129", `[{"serialNumber":"A1","hardwareHash":"aGg=","groupTag":"` + strings.Repeat("g", 129) + `"}]`, "devices[0].groupTag"},
		{"a group tag of 128 letters ü", `[{"serialNumber":"A1","hardwareHash":"aGg=","groupTag":"` + strings.Repeat("ü", 128) + `"}]`, ""},
		{"a control character in a group tag", `[{"serialNumber":"A1","hardwareHash":"aGg=","groupTag":"a\u0007"}]`, "devices[0].groupTag"},
		{"a user without a domain", `[{"serialNumber":"A1","hardwareHash":"aGg=","assignedUser":"ada"}]`, "devices[0].assignedUser"},
		{"a user with a space", `[{"serialNumber":"A1","hardwareHash":"aGg=","assignedUser":"ada lovelace@contoso.com"}]`, "devices[0].assignedUser"},
		{"a serial twice", `[{"serialNumber":"A1","hardwareHash":"aGg="},{"serialNumber":"a1","hardwareHash":"aGg="}]`, "devices[1].serialNumber repeats that of devices[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, p := readImportDevices(json.RawMessage(tt.devices))
			switch {
			case tt.want == "" && p != nil:
				t.Fatalf("refused: %s", p.Detail)
			case tt.want != "" && (p == nil || p.Code != problem.BadRequest || !strings.Contains(p.Detail, tt.want)):
				t.Fatalf("problem %+v, want a 400 saying %q", p, tt.want)
			case tt.want == "" && len(got) == 0:
				t.Fatal("no device")
			}
		})
	}
}

// FuzzImportDevices feeds "devices" values to their reader: it never panics, refuses with a 400
// only, and what it accepts keeps SPEC §17's rules.
func FuzzImportDevices(f *testing.F) {
	for _, s := range []string{`[{"serialNumber":"5CG1234XYZ","hardwareHash":"aGg=","groupTag":"Sales","assignedUser":"ada@contoso.com"}]`,
		`[{"serialNumber":"A1","hardwareHash":"aGg"},{"serialNumber":"B2","hardwareHash":"aGhoaA=="}]`, `[]`, `null`, `[{}]`, `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, p := readImportDevices(json.RawMessage(body))
		if p != nil {
			if p.Code != problem.BadRequest || got != nil {
				t.Fatalf("problem %+v with %d devices", p, len(got))
			}
			return
		}
		if len(got) == 0 || len(got) > followup.MaxImports {
			t.Fatalf("accepted %d devices", len(got))
		}
		seen := map[string]bool{}
		for _, d := range got {
			if !validSerial(d.SerialNumber) || seen[strings.ToLower(d.SerialNumber)] {
				t.Fatalf("accepted serial %q", d.SerialNumber)
			}
			seen[strings.ToLower(d.SerialNumber)] = true
			if len(d.HardwareIdentifier) == 0 || len(d.HardwareIdentifier) > followup.MaxHashBytes {
				t.Fatalf("accepted a hash of %d bytes", len(d.HardwareIdentifier))
			}
			if utf8.RuneCountInString(d.GroupTag) > 128 || !printableText(d.GroupTag) || d.AssignedUserPrincipalName != "" && !validUPN(d.AssignedUserPrincipalName) {
				t.Fatalf("accepted groupTag %q, assignedUser %q", d.GroupTag, d.AssignedUserPrincipalName)
			}
		}
	})
}
