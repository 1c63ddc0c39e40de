package graph

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// fuzzNow is the clock of the fuzz targets: HTTP dates are read against it.
var fuzzNow = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

// Real Retry-After values: Graph's whole seconds, Intune's fractional seconds, HTTP dates (IMF,
// RFC 850 and asctime forms, which net/http accepts), and what broken proxies send.
var retryAfterSamples = []string{
	"", "0", "1", "30", "120", "600", "2.128", "411.128", "0.4", " 7 ", "-3", "1e12", "NaN", "Inf",
	"Sat, 28 Nov 2026 15:10:00 GMT", "Saturday, 28-Nov-26 15:10:00 GMT", "Sat Nov 28 15:10:00 2026",
	"Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "soon", "120, 120", "0x10",
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range retryAfterSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		wait, ok := ParseRetryAfter(v, fuzzNow)
		if wait < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, a negative wait", v, wait)
		}
		if !ok && wait != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: a wait without ok", v, wait)
		}
		trimmed := strings.TrimSpace(v)
		if trimmed == "" && ok {
			t.Fatalf("ParseRetryAfter(%q) accepted an empty value", v)
		}
		// The oracles: delay-seconds (RFC 9110 §10.2.3, plus Intune's fractions) and HTTP dates.
		if isDecimal(trimmed) {
			secs, _ := strconv.ParseFloat(trimmed, 64)
			want := time.Duration(math.Min(secs, 24*3600) * float64(time.Second))
			if !ok || wait != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", v, wait, ok, want)
			}
		}
		if date, err := http.ParseTime(trimmed); err == nil {
			// Far dates may be capped like numbers are (24 h); today they are not.
			want := max(date.Sub(fuzzNow), 0)
			if capped := want > 24*time.Hour && wait == 24*time.Hour; !ok || (wait != want && !capped) {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true (an HTTP date)", v, wait, ok, want)
			}
		}
		if ok {
			// Whatever form was accepted, the wait is finite and the caller can round it up.
			if secs := math.Ceil(wait.Seconds()); secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
				t.Fatalf("ParseRetryAfter(%q) = %v: not a usable number of seconds", v, wait)
			}
		}
	})
}

// isDecimal reports whether s is digits with at most one decimal point, digits on both sides.
func isDecimal(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	digits := func(p string) bool {
		if p == "" || len(p) > 15 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return digits(whole) && (!hasPoint || digits(frac))
}

// Real Graph error bodies: Intune's 409 and 429 with the stringified JSON document in message,
// Graph's own 401, 403 and 404, a gateway's HTML page, and bodies cut short.
var graphErrorSamples = []struct {
	status int
	body   string
}{
	{409, `{"error":{"code":"Conflict","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"A sync is already in progress. Please wait for the current sync to complete - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 7c9d1b5e-3f0a-4f8e-9a55-1b2c3d4e5f60 - Url: https://fef.amsub0502.manage.microsoft.com/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService/deviceManagement/windowsAutopilotSettings/microsoft.management.services.api.sync?api-version=5023-05-04\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{}\"\r\n}","innerError":{"date":"2026-11-28T15:03:12","request-id":"7c9d1b5e-3f0a-4f8e-9a55-1b2c3d4e5f60","client-request-id":"0b6f4c2a-8d1e-4f3b-a7c9-2e5d8f1a3b4c"}}}`},
	{429, `{"error":{"code":"TooManyRequests","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"Too many requests - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000\",\r\n  \"RetryAfter\": null\r\n}","innerError":{"date":"2026-11-28T15:00:00","request-id":"9d2e4f6a-1b3c-4d5e-8f7a-6b5c4d3e2f1a","client-request-id":"3a4b5c6d-7e8f-4a1b-9c2d-3e4f5a6b7c8d"}}}`},
	{401, `{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure. Invalid audience.","innerError":{"date":"2026-11-28T15:00:00","request-id":"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9","client-request-id":"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"}}}`},
	{403, `{"error":{"code":"Forbidden","message":"Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementServiceConfig.ReadWrite.All","innerError":{"date":"2026-11-28T15:00:00","request-id":"b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e","client-request-id":"c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"}}}`},
	{404, `{"error":{"code":"ResourceNotFound","message":"Resource not found for the segment 'windowsAutopilotSetting'.","innerError":{"date":"2026-11-28T15:00:00","request-id":"d3e4f5a6-b7c8-4d9e-0f1a-2b3c4d5e6f70"}}}`},
	{503, `{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unavailable. Please retry.","innerError":{}}}`},
	{502, "<html><body><h1>502 Bad Gateway</h1></body></html>"},
	{504, ""},
	{500, `{"error":null}`},
	{500, `{"error":"InternalServerError"}`},
	{400, `{"error":{"code":"BadRequest","message":"x","innerError":{"date":123}}}`},
	{429, `{"error":{"code":"TooMany`},
}

func FuzzGraphError(f *testing.F) {
	for i, s := range graphErrorSamples {
		f.Add(s.status, retryAfterSamples[i%len(retryAfterSamples)], "hdr-"+strconv.Itoa(i), []byte(s.body), "", "", "", false)
	}
	f.Add(429, "2.128", "", []byte(nil), "TooManyRequests", "{\r\n  \"_version\": 3,\r\n  \"Message\": \"Too many requests\"\r\n}", "body-rid", true)
	f.Add(403, "", "hdr-rid", []byte(nil), "Forbidden", "Application is not authorized", "", true)
	f.Fuzz(func(t *testing.T, status int, retryAfter, headerRequestID string, raw []byte, code, message, bodyRequestID string, structured bool) {
		body := raw
		// encoding/json replaces invalid UTF-8, so only valid strings can come back as sent.
		comparable := utf8.ValidString(code) && utf8.ValidString(message) && utf8.ValidString(bodyRequestID)
		if structured {
			// A well-formed Graph error built from the fuzzed fields: they must come back as sent.
			var b errorBody
			b.Error.Code, b.Error.Message, b.Error.InnerError.RequestID = code, message, bodyRequestID
			body, _ = json.Marshal(b)
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		if headerRequestID != "" {
			resp.Header.Set("request-id", headerRequestID)
		}
		const sent = "sent-client-request-id"
		e := newError(resp, sent, body, fuzzNow)

		if e.StatusCode != status {
			t.Fatalf("StatusCode = %d, want %d", e.StatusCode, status)
		}
		if e.ClientRequestID == "" {
			t.Fatal("ClientRequestID is empty: the id sent must be the fallback")
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), fuzzNow)
		if e.HasRetryAfter != ok || e.RetryAfter != wait {
			t.Fatalf("RetryAfter = %v, %v; want %v, %v", e.RetryAfter, e.HasRetryAfter, wait, ok)
		}
		if structured && comparable {
			wantRID := bodyRequestID
			if wantRID == "" {
				wantRID = resp.Header.Get("request-id")
			}
			if e.Code != code || e.Message != message || e.RequestID != wantRID || e.ClientRequestID != sent {
				t.Fatalf("fields = %q %q %q %q; want %q %q %q %q", e.Code, e.Message, e.RequestID, e.ClientRequestID, code, message, wantRID, sent)
			}
		}
		// Error() never carries the message (it may be long, stringified JSON, and is for logs).
		withoutMessage := *e
		withoutMessage.Message = ""
		if e.Error() != withoutMessage.Error() {
			t.Fatalf("Error() depends on Message: %q", e.Error())
		}
	})
}

// A page as the emulator and Graph serialise it: every property of the resource, unset times as
// year one, Microsoft's misspelt enum value, a nextLink; and what broken answers look like.
var devicePageSamples = []string{
	`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsAutopilotDeviceIdentities","@odata.nextLink":"https://graph.microsoft.com/beta/deviceManagement/windowsAutopilotDeviceIdentities?$filter=contains(serialNumber,'5CG1234XYZ')&$skiptoken=TGFzdERldmljZU9mZnNldD0y","value":[{"@odata.type":"#microsoft.graph.windowsAutopilotDeviceIdentity","addressableUserName":"","azureActiveDirectoryDeviceId":"3bc55bcb-9c26-421a-938b-044942f77bf0","azureAdDeviceId":"3bc55bcb-9c26-421a-938b-044942f77bf0","deploymentProfileAssignedDateTime":"2026-11-28T14:00:00.1234567Z","deploymentProfileAssignmentDetailedStatus":"none","deploymentProfileAssignmentStatus":"assignedUnkownSyncState","deviceAccountPassword":null,"deviceAccountUpn":"","deviceFriendlyName":"","displayName":"","enrollmentState":"notContacted","groupTag":"Sales","id":"08ce0cb6-e1e0-40a3-ad67-685b2ca3a3de","lastContactedDateTime":"0001-01-01T00:00:00Z","managedDeviceId":"00000000-0000-0000-0000-000000000000","manufacturer":"HP","model":"EliteBook 840","productKey":"","purchaseOrderIdentifier":"","remediationState":"noRemediationRequired","remediationStateLastModifiedDateTime":"0001-01-01T00:00:00Z","resourceName":"","serialNumber":"5CG1234XYZ","skuNumber":"","systemFamily":"","userPrincipalName":"","userlessEnrollmentStatus":"allowed"}]}`,
	`{"value":[{"id":"1","serialNumber":"a","deploymentProfileAssignmentStatus":"someFutureValue","lastContactedDateTime":"2026-11-28T15:00:00+01:00"}]}`,
	`{"value":[]}`, `{"value":null}`, `{}`, `null`, `[]`, `{"value":[null]}`,
	`{"value":[{"deploymentProfileAssignedDateTime":"yesterday"}]}`,
	`{"value":[{"serialNumber":5}]}`, `{"value":{"serialNumber":"a"}}`, `{"value":[{"serialNumber":"\u212a"}]}`,
	`{"value":[` + strings.Repeat(`{"id":"x"},`, 50) + `{}]}`, `{"value":[{"id":"`,
}

// FuzzDecodeDevicePage decodes pages of device identities: whatever Graph sends, the decoder
// fails cleanly or yields a page that encodes and decodes to itself; a page built from fuzzed
// values comes back with those values, unknown enum values included.
func FuzzDecodeDevicePage(f *testing.F) {
	for _, s := range devicePageSamples {
		f.Add([]byte(s), "", "", "", int64(0), false)
	}
	f.Add([]byte(nil), "5CG1234XYZ", "assignedUnkownSyncState", "https://graph.microsoft.com/beta/x", int64(1796000000), true)
	f.Add([]byte(nil), "ec2a1bbf-7e9f", "aFutureValue", "", int64(-62135596800), true)
	f.Fuzz(func(t *testing.T, raw []byte, serial, status, next string, unix int64, structured bool) {
		if structured {
			when := time.Unix(unix, 0).UTC()
			in := devicePage{Value: []DeviceIdentity{{ID: serial, SerialNumber: serial, DeploymentProfileAssignmentStatus: ProfileAssignmentStatus(status),
				DeploymentProfileAssignedDateTime: when}}, NextLink: next}
			b, err := json.Marshal(in)
			if err != nil {
				return // a time json cannot write (beyond year 9999): Graph cannot send it either
			}
			var out devicePage
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("a page we wrote does not decode: %v\n%s", err, b)
			}
			if utf8.ValidString(serial) && utf8.ValidString(status) && utf8.ValidString(next) && (out.Value[0].SerialNumber != serial ||
				string(out.Value[0].DeploymentProfileAssignmentStatus) != status || out.NextLink != next ||
				!out.Value[0].DeploymentProfileAssignedDateTime.Equal(when)) {
				t.Fatalf("page %+v came back as %+v", in, out)
			}
			return
		}
		var p devicePage
		if err := json.Unmarshal(raw, &p); err != nil {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			return // a decoded time past year 9999 cannot be written again; decoding it did not fail
		}
		var again devicePage
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("a decoded page does not decode again: %v\n%s", err, b)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("decode, encode, decode changed the page:\n%s", diff)
		}
	})
}

// FuzzSearchTerm checks the term DevicesBySerials filters on: the longest run of ASCII letters and
// digits of the serial, the first of equal runs, and an exact match never missed by it.
func FuzzSearchTerm(f *testing.F) {
	for _, s := range []string{"5CG1234XYZ", "ec2a1bbf-7e9f-45f0-f404-bec2e9da6f35", "VMware-12 3e 45 e9", "AB-CD", "-_. ", "", "é5CGé", "a\x00bb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, serial string) {
		term := SearchTerm(serial)
		if !strings.Contains(serial, term) {
			t.Fatalf("SearchTerm(%q) = %q, not a part of it", serial, term)
		}
		runs := strings.FieldsFunc(serial, func(r rune) bool { return r > 127 || !isASCIIAlnum(byte(r)) })
		if len(runs) == 0 {
			if term != "" {
				t.Fatalf("SearchTerm(%q) = %q, want none", serial, term)
			}
			return
		}
		first := runs[0]
		for _, r := range runs[1:] {
			if len(r) > len(first) {
				first = r
			}
		}
		if term != first {
			t.Fatalf("SearchTerm(%q) = %q, want %q (the first longest run)", serial, term, first)
		}
		// A device whose serial differs only in ASCII case is an exact match, and Graph's
		// case-insensitive contains() on the term finds it.
		swapped := []byte(serial)
		for i, b := range swapped {
			switch {
			case 'a' <= b && b <= 'z':
				swapped[i] = b - 'a' + 'A'
			case 'A' <= b && b <= 'Z':
				swapped[i] = b - 'A' + 'a'
			}
		}
		if !equalFoldASCII(string(swapped), serial) || !strings.Contains(strings.ToLower(string(swapped)), strings.ToLower(term)) {
			t.Fatalf("the device %q would be missed for %q (term %q)", swapped, serial, term)
		}
	})
}
