package followup

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/google/go-cmp/cmp"
)

// typical is a follow-up of a Slack command with a callback, as the sync function writes it.
func typical() Message {
	return New("0b5c8f0e-5a8e-4d47-9d43-1c2b6a1f9e11", "contoso-eu", t0.Add(123*time.Millisecond), Targets{
		Slack:    "https://hooks.slack.com/commands/T0123ABCDEF/1234567890123/abcdefGHIJKLmnopQRSTuvwx",
		Callback: "https://contoso.service-now.com/api/x_autopilot/sync_result/INC0012345",
	})
}

func withDone(m Message) Message {
	last := t0.Add(4 * time.Minute)
	seconds := int64(240)
	m.Outcome = &Outcome{Result: autopilot.Completed, At: t0.Add(5 * time.Minute), SyncStatus: "completed", LastSyncDateTime: &last, SyncDurationSeconds: &seconds}
	m.Attempt = 2
	m.Targets = Targets{Callback: m.Targets.Callback}
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]Message{
		"first check":                   typical(),
		"no targets (a scheduled sync)": New("id", "", t0, Targets{}),
		"teams":                         New("id", "", t0, Targets{Teams: true}),
		"delivery retry":                withDone(typical()),
		"error outcome": func() Message {
			m := typical()
			m.Outcome = &Outcome{Result: autopilot.Error, At: t0.Add(time.Minute), Code: "graphPermissionDenied"}
			return m
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, t0.Add(time.Hour))
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessageSize(t *testing.T) {
	t.Parallel()
	b, err := typical().Encode()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("typical first message: %d bytes: %s", len(b), b)
	if len(b) > 1024 {
		t.Errorf("typical message is %d bytes, want at most 1 KiB", len(b))
	}
	longest := withDone(typical())
	longest.Targets = Targets{
		Slack:    "https://hooks.slack.com/" + strings.Repeat("a", MaxURLBytes-len("https://hooks.slack.com/")),
		Teams:    true,
		Callback: "https://x.example/" + strings.Repeat("b", MaxURLBytes-len("https://x.example/")),
	}
	longest.Tenant = strings.Repeat("t", maxTenantLength)
	longest.ID = strings.Repeat("i", maxIDLength)
	if b, err = longest.Encode(); err != nil {
		t.Fatalf("the longest message does not encode: %v", err)
	}
	t.Logf("longest message: %d bytes", len(b))
}

func TestEncodeRefusesWhatDecodeWould(t *testing.T) {
	t.Parallel()
	m := typical()
	m.Targets.Callback = "https://x.example/" + strings.Repeat("b", MaxURLBytes)
	if _, err := m.Encode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Encode of a 2 KB+ URL: err = %v, want ErrMalformed", err)
	}
}

// malformed is a corpus of messages Decode must refuse, with what it is.
var malformed = map[string]string{
	"empty":                        ``,
	"not JSON":                     `hello`,
	"null":                         `null`,
	"an array":                     `[]`,
	"a fleet message":              `{"tenant":"contoso"}`,
	"truncated":                    `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{`,
	"trailing data":                `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}} {}`,
	"version 2":                    `{"v":2,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"no version":                   `{"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"another kind":                 `{"v":1,"kind":"sync","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"unknown field":                `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"extra":1}`,
	"unknown target":               `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"email":"a@b"}}`,
	"no id":                        `{"v":1,"kind":"followUp","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"id with a newline":            `{"v":1,"kind":"followUp","id":"a\nb","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"id too long":                  `{"v":1,"kind":"followUp","id":"` + strings.Repeat("a", 65) + `","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"tenant with markup":           `{"v":1,"kind":"followUp","id":"a","tenant":"<!channel>","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{}}`,
	"no requestedAt":               `{"v":1,"kind":"followUp","id":"a","attempt":1,"targets":{}}`,
	"requestedAt not RFC 3339":     `{"v":1,"kind":"followUp","id":"a","requestedAt":"28/11/2026","attempt":1,"targets":{}}`,
	"requestedAt a number":         `{"v":1,"kind":"followUp","id":"a","requestedAt":1764342000,"attempt":1,"targets":{}}`,
	"requestedAt in year 9999":     `{"v":1,"kind":"followUp","id":"a","requestedAt":"9999-12-31T23:59:59Z","attempt":1,"targets":{}}`,
	"requestedAt in the future":    `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T17:00:00Z","attempt":1,"targets":{}}`,
	"attempt 0":                    `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":0,"targets":{}}`,
	"attempt negative":             `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":-1,"targets":{}}`,
	"attempt huge":                 `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":99999999999999999999,"targets":{}}`,
	"attempt a string":             `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":"1","targets":{}}`,
	"slack over http":              `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"slack":"http://hooks.slack.com/commands/s3cr3t"}}`,
	"slack not a URL":              `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"slack":"s3cr3t"}}`,
	"slack with a space":           `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"slack":"https://hooks.slack.com/s3cr3t x"}}`,
	"callback too long":            `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"callback":"https://x.example/` + strings.Repeat("s3cr3t", 400) + `"}}`,
	"callback another scheme":      `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"callback":"javascript:s3cr3t"}}`,
	"teams a string":               `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{"teams":"https://s3cr3t"}}`,
	"outcome unknown result":       `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"pending","at":"2026-11-28T15:05:00Z"}}`,
	"outcome without time":         `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"completed"}}`,
	"outcome in the future":        `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"completed","at":"2026-11-29T15:05:00Z"}}`,
	"error without a code":         `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"error","at":"2026-11-28T15:05:00Z"}}`,
	"code on a completed":          `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"completed","at":"2026-11-28T15:05:00Z","code":"x"}}`,
	"negative duration":            `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"completed","at":"2026-11-28T15:05:00Z","syncDurationSeconds":-1}}`,
	"duration on a timeout":        `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"timedOut","at":"2026-11-28T15:05:00Z","syncDurationSeconds":1}}`,
	"syncStatus with control char": `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"outcome":{"result":"completed","at":"2026-11-28T15:05:00Z","syncStatus":"a\u0000b"}}`,
	"deferred with triggeredAt":    `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"deferred":{},"triggeredAt":"2026-11-28T15:00:00Z"}`,
	"deferred before out of range": `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"deferred":{"before":"0001-01-01T00:00:00Z"}}`,
	"deferred before not a time":   `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"deferred":{"before":"yesterday"}}`,
	"deferred not an object":       `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"deferred":true}`,
	"triggeredAt in the future":    `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"triggeredAt":"2026-11-29T15:05:00Z"}`,
	"triggeredAt out of range":     `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"triggeredAt":"1999-11-28T15:05:00Z"}`,
	"over 8 KiB":                   `{"v":1,"kind":"followUp","id":"a","requestedAt":"2026-11-28T15:00:00Z","attempt":1,"targets":{},"pad":"` + strings.Repeat(" ", MaxMessageBytes) + `"}`,
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	for name, body := range malformed {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(body), now)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error quotes the message: %v", err)
			}
		})
	}
}
