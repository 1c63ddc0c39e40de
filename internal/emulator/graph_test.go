package emulator_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
)

type settingsBody struct {
	Context                       string `json:"@odata.context"`
	ID                            string `json:"id"`
	LastSyncDateTime              string `json:"lastSyncDateTime"`
	LastManualSyncTriggerDateTime string `json:"lastManualSyncTriggerDateTime"`
	SyncStatus                    string `json:"syncStatus"`
}

func decodeSettings(t *testing.T, a graphAnswer) settingsBody {
	t.Helper()
	var s settingsBody
	if err := json.Unmarshal(a.body, &s); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	return s
}

func TestGraphSyncStateMachine(t *testing.T) {
	t.Parallel()
	clk := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clk, SyncDuration: 2 * time.Minute})
	tok := seededGraphToken(t, e)

	get := graph(t, e, tok, http.MethodGet, settingsPath, "")
	s := decodeSettings(t, get)
	want := settingsBody{
		Context:                       "https://graph.microsoft.com/beta/$metadata#deviceManagement/windowsAutopilotSettings/$entity",
		ID:                            s.ID,
		LastSyncDateTime:              "2026-03-02T09:00:00Z",
		LastManualSyncTriggerDateTime: "2026-03-02T08:00:00Z",
		SyncStatus:                    "completed",
	}
	if get.status != 200 || s.ID == "" || !cmp.Equal(s, want) {
		t.Fatalf("initial GET = %d %s", get.status, cmp.Diff(want, s))
	}
	for _, h := range []string{"request-id", "client-request-id", "Date", "x-ms-ags-diagnostic"} {
		if get.header.Get(h) == "" {
			t.Errorf("GET answer lacks %s", h)
		}
	}

	steps := []struct {
		name       string
		advance    time.Duration
		method     string
		wantStatus int
		wantCode   string
		wantSync   string
	}{
		{"first sync starts", 0, http.MethodPost, 204, "", "inProgress"},
		{"second sync conflicts", time.Minute, http.MethodPost, 409, "Conflict", "inProgress"},
		{"completed after SyncDuration", time.Minute, http.MethodGet, 200, "", "completed"},
		{"throttled within 10 min", time.Minute, http.MethodPost, 429, "TooManyRequests", "completed"},
		{"allowed after 10 min", 7 * time.Minute, http.MethodPost, 204, "", "inProgress"},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		path := syncPath
		if st.method == http.MethodGet {
			path = settingsPath
		}
		a := graph(t, e, tok, st.method, path, "")
		if a.status != st.wantStatus || a.errorCode() != st.wantCode {
			t.Fatalf("%s: %d %s, want %d %s", st.name, a.status, a.body, st.wantStatus, st.wantCode)
		}
		if got := e.Settings(emulator.SeedTenantID).SyncStatus; got != st.wantSync {
			t.Fatalf("%s: syncStatus = %s, want %s", st.name, got, st.wantSync)
		}
	}
	s2 := e.Settings(emulator.SeedTenantID)
	if !s2.LastManualSyncTriggerDateTime.Equal(epoch.Add(10 * time.Minute)) {
		t.Errorf("lastManualSyncTriggerDateTime = %v", s2.LastManualSyncTriggerDateTime)
	}
	if !s2.LastSyncDateTime.Equal(epoch.Add(2 * time.Minute)) {
		t.Errorf("lastSyncDateTime = %v, want trigger+SyncDuration", s2.LastSyncDateTime)
	}
	if c := e.Counts(); c.Graph["POST sync"] != 4 || c.Graph["GET"] != 2 || c.GraphTokensSeen[emulator.SeedTenantID] != 6 {
		t.Errorf("Counts = %+v", c)
	}
}

func TestGraph429Body(t *testing.T) {
	t.Parallel()
	clk := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clk})
	tok := seededGraphToken(t, e)
	graph(t, e, tok, http.MethodPost, syncPath, "")
	clk.Advance(5 * time.Minute)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.GraphBaseURL()+syncPath, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("client-request-id", "11111111-2222-4333-8444-555555555555")
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Error struct {
			Code, Message string
			InnerError    map[string]string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(b.Error.Message), &inner); err != nil {
		t.Errorf("message is not stringified JSON: %q", b.Error.Message)
	}
	if resp.StatusCode != 429 || b.Error.Code != "TooManyRequests" || inner["_version"] != 3.0 ||
		b.Error.InnerError["client-request-id"] != "11111111-2222-4333-8444-555555555555" ||
		resp.Header.Get("client-request-id") != "11111111-2222-4333-8444-555555555555" ||
		b.Error.InnerError["request-id"] != resp.Header.Get("request-id") || b.Error.InnerError["date"] != "2026-03-02T10:05:00Z" ||
		resp.Header.Get("Retry-After") != "" {
		t.Errorf("429 = %d %+v headers %v", resp.StatusCode, b, resp.Header)
	}
}

func TestGraphRetryAfterModes(t *testing.T) {
	t.Parallel()
	const elapsed = 3*time.Minute + 8*time.Second + 872*time.Millisecond // remaining 411.128 s
	allowed := epoch.Add(10 * time.Minute)
	tests := []struct {
		mode emulator.RetryAfterMode
		want string
	}{
		{emulator.RetryAfterNone, ""},
		{emulator.RetryAfterSeconds, "412"},
		{emulator.RetryAfterFractional, "411.128"},
		{emulator.RetryAfterDate, allowed.Format(http.TimeFormat)},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(int(tc.mode)), func(t *testing.T) {
			t.Parallel()
			clk := emulator.NewManualClock(epoch)
			e, _ := emutest.Start(t, emulator.Options{Clock: clk, SyncDuration: time.Second})
			e.SetRetryAfterMode(tc.mode)
			tok := seededGraphToken(t, e)
			graph(t, e, tok, http.MethodPost, syncPath, "")
			clk.Advance(elapsed)
			a := graph(t, e, tok, http.MethodPost, syncPath, "")
			if a.status != 429 || a.header.Get("Retry-After") != tc.want {
				t.Fatalf("status %d Retry-After %q, want 429 %q", a.status, a.header.Get("Retry-After"), tc.want)
			}
			if tc.mode == emulator.RetryAfterSeconds {
				n, _ := strconv.Atoi(a.header.Get("Retry-After"))
				if float64(n) != math.Ceil((10*time.Minute - elapsed).Seconds()) {
					t.Errorf("Retry-After %d", n)
				}
			}
		})
	}
}

func TestGraphFailedOutcomeAndSetSettings(t *testing.T) {
	t.Parallel()
	clk := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clk})
	tok := seededGraphToken(t, e)
	e.SetSyncOutcome(emulator.SeedTenantID, "failed")
	if a := graph(t, e, tok, http.MethodPost, syncPath, ""); a.status != 204 {
		t.Fatalf("sync = %d", a.status)
	}
	clk.Advance(90 * time.Second)
	if s := decodeSettings(t, graph(t, e, tok, http.MethodGet, settingsPath, "")); s.SyncStatus != "failed" || s.LastSyncDateTime != "2026-03-02T10:01:30Z" {
		t.Fatalf("after failed sync: %+v", s)
	}
	e.SetSettings(emulator.SeedTenantID, emulator.Settings{ID: "fixed", SyncStatus: "unknownFutureValue"})
	s := decodeSettings(t, graph(t, e, tok, http.MethodGet, settingsPath, ""))
	if s.ID != "fixed" || s.SyncStatus != "unknownFutureValue" || s.LastSyncDateTime != "0001-01-01T00:00:00Z" {
		t.Fatalf("after SetSettings: %+v", s)
	}
}

func TestGraphPatch(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{Clock: emulator.NewManualClock(epoch)})
	tok := seededGraphToken(t, e)
	tests := []struct {
		name, body      string
		wantStatus      int
		wantStatusField string
	}{
		{"status", `{"syncStatus":"failed"}`, 200, "failed"},
		{"all", `{"@odata.type":"#microsoft.graph.windowsAutopilotSettings","syncStatus":"completed","lastSyncDateTime":"2026-01-01T00:00:00Z","lastManualSyncTriggerDateTime":"2026-01-01T00:00:00.5+01:00"}`, 200, "completed"},
		{"empty object", `{}`, 200, "completed"},
		{"unknown property", `{"foo":1}`, 400, ""},
		{"bad enum", `{"syncStatus":"done"}`, 400, ""},
		{"bad time", `{"lastSyncDateTime":"yesterday"}`, 400, ""},
		{"not json", `{`, 400, ""},
		{"array", `[]`, 400, ""},
	}
	for _, tc := range tests { // sequential: they share the tenant state
		t.Run(tc.name, func(t *testing.T) {
			a := graph(t, e, tok, http.MethodPatch, settingsPath, tc.body)
			if a.status != tc.wantStatus {
				t.Fatalf("status = %d %s, want %d", a.status, a.body, tc.wantStatus)
			}
			if tc.wantStatus == 400 {
				if a.errorCode() != "BadRequest" {
					t.Fatalf("code = %s", a.errorCode())
				}
				return
			}
			if s := decodeSettings(t, a); s.SyncStatus != tc.wantStatusField {
				t.Fatalf("syncStatus = %s", s.SyncStatus)
			}
		})
	}
	if got := e.Settings(emulator.SeedTenantID).LastManualSyncTriggerDateTime; !got.Equal(time.Date(2025, 12, 31, 23, 0, 0, 5e8, time.UTC)) {
		t.Errorf("lastManualSyncTriggerDateTime = %v", got)
	}
	e.SetPatchNoContent(true)
	if a := graph(t, e, tok, http.MethodPatch, settingsPath, `{"syncStatus":"unknown"}`); a.status != 204 || len(a.body) != 0 {
		t.Errorf("PATCH with SetPatchNoContent = %d %q", a.status, a.body)
	}
	if a := graph(t, e, tok, http.MethodDelete, settingsPath, ""); a.status != 405 {
		t.Errorf("DELETE = %d", a.status)
	}
	if a := graph(t, e, tok, http.MethodGet, "/deviceManagement/nothing", ""); a.status != 400 || a.errorCode() != "BadRequest" {
		t.Errorf("unknown path = %d %s", a.status, a.body)
	}
}

func TestGraphAuth(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tok := appTokens(t, e, env)
	tests := []struct {
		name, token, method, path string
		wantStatus                int
		wantCode                  string
	}{
		{"no token", "", http.MethodGet, settingsPath, 401, "InvalidAuthenticationToken"},
		{"unknown token", "garbage", http.MethodGet, settingsPath, 401, "InvalidAuthenticationToken"},
		{"vault audience", tok.vault, http.MethodGet, settingsPath, 401, "InvalidAuthenticationToken"},
		{"graph.microsoft.com audience", tok.otherHost, http.MethodGet, settingsPath, 401, "InvalidAuthenticationToken"},
		{"no roles", tok.noRoles, http.MethodGet, settingsPath, 403, "Forbidden"},
		{"reader GET", tok.reader, http.MethodGet, settingsPath, 200, ""},
		{"reader sync", tok.reader, http.MethodPost, syncPath, 403, "Forbidden"},
		{"reader PATCH", tok.reader, http.MethodPatch, settingsPath, 403, "Forbidden"},
		{"writer GET", tok.writer, http.MethodGet, settingsPath, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := ""
			if tc.method == http.MethodPatch {
				body = "{}"
			}
			a := graph(t, e, tc.token, tc.method, tc.path, body)
			if a.status != tc.wantStatus || a.errorCode() != tc.wantCode {
				t.Fatalf("= %d %s, want %d %s", a.status, a.body, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func mustSecret(t *testing.T, e *emulator.Emulator) string {
	t.Helper()
	s, _, ok := e.Secret(emulator.SeedGraphCredentialSecret)
	if !ok {
		t.Fatal("graph credential not seeded")
	}
	return s
}

func TestSetAppSecretRevokes(t *testing.T) {
	t.Parallel()
	e, env := emutest.Start(t, emulator.Options{})
	tok := seededGraphToken(t, e)
	c := newSecretsClient(t, e, secretCred(t, e, env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]))
	if _, err := c.GetSecret(t.Context(), "graph-credential", "", nil); err != nil {
		t.Fatal(err)
	}
	if a := graph(t, e, tok, http.MethodGet, settingsPath, ""); a.status != 200 {
		t.Fatalf("before rotation: %d", a.status)
	}
	e.SetAppSecret(emulator.SeedTenantID, emulator.SeedGraphClientID, "new-graph-secret")
	e.SetAppSecret(emulator.SeedTenantID, emulator.SeedBootstrapClientID, "new-boot-secret")
	if a := graph(t, e, tok, http.MethodGet, settingsPath, ""); a.status != 401 || a.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("after rotation: %d %s", a.status, a.body)
	}
	if _, err := c.GetSecret(t.Context(), "graph-credential", "", nil); err == nil {
		t.Fatal("Key Vault accepted a revoked token")
	}
	if _, err := getToken(t.Context(), secretCred(t, e, emulator.SeedTenantID, emulator.SeedGraphClientID, mustSecret(t, e)), graphScope); !isAuthFailed(err) {
		t.Fatalf("old secret: %v", err)
	}
	newTok, err := getToken(t.Context(), secretCred(t, e, emulator.SeedTenantID, emulator.SeedGraphClientID, "new-graph-secret"), graphScope)
	if err != nil {
		t.Fatal(err)
	}
	if a := graph(t, e, newTok, http.MethodGet, settingsPath, ""); a.status != 200 {
		t.Fatalf("new token: %d", a.status)
	}
}

func TestExpiredToken(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{TokenLifetime: time.Nanosecond})
	_, m := rawToken(t, e, emulator.SeedTenantID, url.Values{"grant_type": {"client_credentials"}, "client_id": {emulator.SeedGraphClientID},
		"client_secret": {mustSecret(t, e)}, "scope": {graphScope}})
	tok, _ := m["access_token"].(string)
	if a := graph(t, e, tok, http.MethodGet, settingsPath, ""); a.status != 401 || !strings.Contains(string(a.body), "expired") {
		t.Fatalf("expired token: %d %s", a.status, a.body)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	clk := emulator.NewManualClock(epoch)
	e, _ := emutest.Start(t, emulator.Options{Clock: clk})
	tokens := map[string]string{}
	for _, tenant := range []string{"tenant-a", "tenant-b"} {
		e.AddApp(emulator.App{TenantID: tenant, ClientID: "app", Secret: "s-" + tenant})
		tk, err := getToken(t.Context(), secretCred(t, e, tenant, "app", "s-"+tenant), graphScope)
		if err != nil {
			t.Fatal(err)
		}
		tokens[tenant] = tk
	}
	if a := graph(t, e, tokens["tenant-a"], http.MethodPost, syncPath, ""); a.status != 204 {
		t.Fatalf("sync a = %d", a.status)
	}
	if a := graph(t, e, tokens["tenant-b"], http.MethodPost, syncPath, ""); a.status != 204 {
		t.Fatalf("sync b = %d (state leaked across tenants)", a.status)
	}
	if got := e.Counts().GraphTokensSeen; got["tenant-a"] != 1 || got["tenant-b"] != 1 {
		t.Errorf("GraphTokensSeen = %v", got)
	}
	e.ResetCounts()
	if c := e.Counts(); len(c.Graph) != 0 || len(c.GraphTokensSeen) != 0 || len(c.Tokens) != 0 {
		t.Errorf("after ResetCounts: %+v", c)
	}
}

func TestConcurrentSyncsStartOnce(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{Clock: emulator.NewManualClock(epoch)})
	tok := seededGraphToken(t, e)
	const n = 16
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			a, err := graphTry(t.Context(), e.HTTPClient(), e, tok, http.MethodPost, syncPath, "")
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- a.status
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[204] != 1 || got[409] != n-1 {
		t.Errorf("statuses = %v, want one 204 and %d 409", got, n-1)
	}
}

func TestGraphBodyLimit(t *testing.T) {
	t.Parallel()
	e, _ := emutest.Start(t, emulator.Options{})
	tok := seededGraphToken(t, e)
	body := `{"syncStatus":"` + strings.Repeat("a", 2<<20) + `"}`
	req := httptest.NewRequest(http.MethodPatch, "https://127.0.0.1/beta"+settingsPath, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized PATCH = %d %s", rec.Code, rec.Body)
	}
}
