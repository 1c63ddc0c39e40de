package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// faultCase is one row of the fault matrix: what breaks, and the SPEC §5 answer it must yield.
type faultCase struct {
	name string
	// fault describes the fault for the README table.
	fault string
	// sync sends POST /sync to the sync function; otherwise GET /status to the status function.
	sync bool
	// timeout is AWS_LAMBDA_FUNCTION_TIMEOUT in seconds.
	timeout int
	// warm invokes once normally first, so credentials, clients and tokens are cached.
	warm bool
	// inject breaks something and returns how to repair it.
	inject func(t *testing.T, e *env) (repair func())

	wantStatus     int
	wantCode       string
	wantRetryAfter string // exact Retry-After; "" means none
	// counts checks the emulator's counters across the faulted invocation.
	counts func(t *testing.T, d countsDelta)
	// remembered: a failed secret read is remembered (SPEC §6: not found 60 s, others 10 s),
	// so right after the repair the same process still answers the same problem, without a new
	// Key Vault read; a read still in flight (slow) is joined, not repeated.
	remembered bool
	// joinsInFlight: the faulted call's shared secret read may still be retrying when the repaired
	// request arrives (it runs detached from the first caller, bounded by keyvault.ReadTimeout),
	// which then joins it: either answer is right, and no second read is started.
	joinsInFlight bool
}

// countsDelta is what the faulted invocation cost, by counter.
type countsDelta struct {
	graphTokens, vaultTokens, secretReads int
	graph                                 map[string]int
}

func delta(before, after emulator.Counts) countsDelta {
	d := countsDelta{
		graphTokens: after.Tokens[emulator.SeedGraphClientID] - before.Tokens[emulator.SeedGraphClientID],
		vaultTokens: after.Tokens[emulator.SeedBootstrapClientID] - before.Tokens[emulator.SeedBootstrapClientID],
		secretReads: after.SecretReads[emulator.SeedGraphCredentialSecret] - before.SecretReads[emulator.SeedGraphCredentialSecret],
		graph:       map[string]int{},
	}
	for k, v := range after.Graph {
		if n := v - before.Graph[k]; n != 0 {
			d.graph[k] = n
		}
	}
	return d
}

func wantDelta(t *testing.T, d countsDelta, graphTokens, vaultTokens, secretReads int, graph map[string]int) {
	t.Helper()
	if d.graphTokens != graphTokens || d.vaultTokens != vaultTokens || d.secretReads != secretReads {
		t.Errorf("Graph app tokens +%d, Key Vault tokens +%d, secret reads +%d; want +%d, +%d, +%d",
			d.graphTokens, d.vaultTokens, d.secretReads, graphTokens, vaultTokens, secretReads)
	}
	if graph != nil && fmt.Sprint(d.graph) != fmt.Sprint(graph) {
		t.Errorf("Graph requests %v, want %v", d.graph, graph)
	}
}

// faultRow is one line of the table this test prints for the README.
type faultRow struct {
	index                         int
	name, fault, code, retryAfter string
	status                        int
	elapsed                       time.Duration
	timeout                       int
	recoveredStatus               string
}

// TestFaultMatrix breaks Key Vault, Entra ID and Graph in each way issue 6 lists, under the real
// bootstrap binaries and aws-lambda-rie: each fault yields its SPEC §5 problem, with the right
// status and Retry-After, inside the Lambda deadline, without a panic or a timeout, and the same
// process then serves a normal request.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	oversized := `{"id":"` + strings.Repeat("x", 1<<20+10) + `","syncStatus":"completed"}`
	graphFault := func(f emulator.Fault) func(*testing.T, *env) func() {
		return func(_ *testing.T, e *env) func() { f.Service = emulator.Graph; return e.emu.AddFault(f) }
	}
	// revokeGraphTokens replaces the Graph app with itself: its tokens are revoked, so the next
	// Graph call answers 401 and the function re-reads its secret and asks for a new token.
	revokeGraphTokens := func(e *env) {
		secret, _, _ := e.emu.Secret(emulator.SeedGraphCredentialSecret)
		e.emu.AddApp(emulator.App{TenantID: emulator.SeedTenantID, ClientID: emulator.SeedGraphClientID, Secret: secret})
	}
	tokenEndpoint := "/oauth2/v2.0/token"

	tests := []faultCase{
		{
			name: "Key Vault 500", remembered: true, fault: "Key Vault answers 500 to every request (cold start)", timeout: 5,
			inject: func(_ *testing.T, e *env) func() {
				return e.emu.AddFault(emulator.Fault{Service: emulator.Vault, Status: 500})
			},
			wantStatus: 503, wantCode: "secretStoreUnavailable", wantRetryAfter: "30",
			// The vault's token is asked for while the challenge goes out (issue 17), so the
			// failing vault still costs that one token request; no secret is read.
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 1, 0, map[string]int{}) },
		},
		{
			name: "Key Vault slow", remembered: true, fault: "Key Vault answers after 10 s, past the 3 s deadline (cold start)", timeout: 3,
			inject: func(_ *testing.T, e *env) func() {
				return e.emu.AddFault(emulator.Fault{Service: emulator.Vault, Delay: 10 * time.Second})
			},
			wantStatus: 504, wantCode: "upstreamTimeout",
		},
		{
			name: "Graph credential secret missing", remembered: true, fault: "Key Vault 404 SecretNotFound for graph-credential (cold start)", timeout: 5,
			inject: func(_ *testing.T, e *env) func() {
				value, _, _ := e.emu.Secret(emulator.SeedGraphCredentialSecret)
				e.emu.DeleteSecret(emulator.SeedGraphCredentialSecret)
				return func() { e.setSecret(emulator.SeedGraphCredentialSecret, value) }
			},
			wantStatus: 500, wantCode: "misconfigured",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 1, 1, map[string]int{}) },
		},
		{
			name: "Entra refuses the Graph app", fault: "wrong Graph app secret in Key Vault: Entra 401 invalid_client (cold start)", timeout: 5,
			inject: func(_ *testing.T, e *env) func() {
				value, _, _ := e.emu.Secret(emulator.SeedGraphCredentialSecret)
				e.setSecret(emulator.SeedGraphCredentialSecret, "wrong-graph-secret-"+strconv.FormatInt(time.Now().UnixNano(), 16))
				return func() { e.setSecret(emulator.SeedGraphCredentialSecret, value) }
			},
			wantStatus: 502, wantCode: "credentialRejected",
			counts: func(t *testing.T, d countsDelta) {
				// The refused credential makes the function read the secret again; the same
				// version comes back, so no new credential and no second token request.
				if d.vaultTokens != 1 || d.secretReads != 2 || d.graphTokens != 1 || len(d.graph) != 0 {
					t.Errorf("counts %+v: want one Key Vault token, 2 secret reads, 1 Graph app token request, no Graph request", d)
				}
			},
		},
		{
			name: "Entra refuses the Key Vault identity", remembered: true, fault: "the bootstrap app's secret changed in Entra: 401 invalid_client (cold start)", timeout: 5,
			inject: func(_ *testing.T, e *env) func() {
				e.setAppSecret(emulator.SeedBootstrapClientID, "rotated-bootstrap-"+strconv.FormatInt(time.Now().UnixNano(), 16))
				return func() { e.setAppSecret(emulator.SeedBootstrapClientID, e.vars["AZURE_CLIENT_SECRET"]) }
			},
			wantStatus: 502, wantCode: "credentialRejected",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 1, 0, map[string]int{}) },
		},
		{
			// Entra's token endpoint answering 503 is retried by azidentity (azcore's policy, then
			// MSAL once more) for longer than a short deadline: the answer is the timeout.
			name: "Entra down for the Graph app", fault: "Entra token endpoint 503 after the Key Vault token was cached; Graph tokens revoked", timeout: 4, warm: true,
			inject: func(_ *testing.T, e *env) func() {
				remove := e.emu.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: tokenEndpoint, Status: 503})
				revokeGraphTokens(e)
				return remove
			},
			wantStatus: 504, wantCode: "upstreamTimeout",
			counts: func(t *testing.T, d countsDelta) {
				// One re-read of the secret (the 401), no Key Vault token (cached), and the Graph
				// app's token requests, all refused with 503.
				if d.vaultTokens != 0 || d.secretReads != 1 || d.graphTokens < 1 || d.graph["GET"] != 1 {
					t.Errorf("counts %+v: want no Key Vault token, one secret read, ≥ 1 Graph app token request, one Graph GET", d)
				}
			},
		},
		{
			name: "Entra down for the Graph app, Retry-After 120", fault: "as above, with Retry-After: 120 (beyond azcore's MaxRetryDelay: not retried)", timeout: 4, warm: true,
			inject: func(_ *testing.T, e *env) func() {
				remove := e.emu.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: tokenEndpoint, Status: 503, Header: http.Header{"Retry-After": {"120"}}})
				revokeGraphTokens(e)
				return remove
			},
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) {
				if d.vaultTokens != 0 || d.secretReads != 1 || d.graphTokens < 1 || d.graphTokens > 2 || d.graph["GET"] != 1 {
					t.Errorf("counts %+v: want no Key Vault token, one secret read, 1 or 2 Graph app token requests (MSAL retries a 5xx once), one Graph GET", d)
				}
			},
		},
		{
			name: "Entra down at cold start", joinsInFlight: true, fault: "Entra token endpoint 503 for both identities (cold start)", timeout: 4,
			inject: func(_ *testing.T, e *env) func() {
				return e.emu.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: tokenEndpoint, Status: 503})
			},
			wantStatus: 504, wantCode: "upstreamTimeout",
			counts: func(t *testing.T, d countsDelta) {
				// The first token asked for is the Key Vault identity's; Graph's is never reached.
				if d.graphTokens != 0 || d.secretReads != 0 || d.vaultTokens < 1 {
					t.Errorf("counts %+v: want only Key Vault identity token requests", d)
				}
			},
		},
		{
			name: "Entra down at cold start, Retry-After 120", remembered: true, fault: "as above, with Retry-After: 120", timeout: 4,
			inject: func(_ *testing.T, e *env) func() {
				return e.emu.AddFault(emulator.Fault{Service: emulator.Entra, PathContains: tokenEndpoint, Status: 503, Header: http.Header{"Retry-After": {"120"}}})
			},
			// The failing token is the Key Vault identity's: the failure is reading Key Vault.
			wantStatus: 503, wantCode: "secretStoreUnavailable", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) {
				if d.graphTokens != 0 || d.secretReads != 0 || d.vaultTokens < 1 || d.vaultTokens > 2 {
					t.Errorf("counts %+v: want 1 or 2 Key Vault identity token requests and nothing else", d)
				}
			},
		},
		{
			name: "Graph 401, rotated secret", fault: "Graph app secret rotated in Entra and Key Vault; old token revoked (Graph 401)", timeout: 5, warm: true,
			inject: func(_ *testing.T, e *env) func() {
				rotated := "rotated-graph-secret-" + strconv.FormatInt(time.Now().UnixNano(), 16)
				e.setAppSecret(emulator.SeedGraphClientID, rotated)
				e.setSecret(emulator.SeedGraphCredentialSecret, rotated)
				return func() {}
			},
			wantStatus: 200,
			// One re-read, one new token, one retry.
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 1, 0, 1, map[string]int{"GET": 2}) },
		},
		{
			name: "Graph 401 after rotation", fault: "Graph answers 401 to every request", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Status: 401}),
			wantStatus: 502, wantCode: "graphPermissionDenied",
			// One re-read of the secret, one token for the rebuilt credential, one retry, no more.
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 1, 0, 1, map[string]int{"GET": 2}) },
		},
		{
			name: "Graph 403", fault: "Graph answers 403 Forbidden", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Status: 403}),
			wantStatus: 502, wantCode: "graphPermissionDenied",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
		{
			name: "Graph 404", fault: "Graph answers 404 ResourceNotFound", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Status: 404}),
			wantStatus: 502, wantCode: "graphError",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
		{
			name: "Graph 500", fault: "Graph answers 500 (not retried)", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Status: 500}),
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
		{
			name: "Graph 503", fault: "Graph answers 503 without Retry-After (retried 3 times)", timeout: 8, warm: true,
			inject:     graphFault(emulator.Fault{Status: 503}),
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 4}) },
		},
		{
			name: "Graph 503 Retry-After 120", fault: "Graph answers 503 with Retry-After: 120 (beyond the deadline: not retried)", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Status: 503, Header: http.Header{"Retry-After": {"120"}}}),
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "120",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
		{
			name: "Graph 503 on sync, Retry-After 0.4", fault: "POST sync answers 503 with Retry-After: 0.4 (retried 3 times)", sync: true, timeout: 8,
			inject:     graphFault(emulator.Fault{Method: http.MethodPost, Status: 503, Header: http.Header{"Retry-After": {"0.4"}}}),
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "1",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 1, 1, 1, map[string]int{"POST sync": 4}) },
		},
		{
			name: "Graph 429 on GET", fault: "GET answers 429 without Retry-After (Graph throttling a read; retried 3 times)", timeout: 8, warm: true,
			inject:     graphFault(emulator.Fault{Method: http.MethodGet, Status: 429}),
			wantStatus: 429, wantCode: "syncThrottled", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 4}) },
		},
		{
			name: "Graph hangs", fault: "POST sync never answers (3 s deadline)", sync: true, timeout: 3, warm: false,
			inject:     graphFault(emulator.Fault{Hang: true}),
			wantStatus: 504, wantCode: "upstreamTimeout",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 1, 1, 1, map[string]int{"POST sync": 1}) },
		},
		{
			name: "Graph resets the connection", fault: "Graph closes every connection with a TCP RST", timeout: 8, warm: true,
			inject:     graphFault(emulator.Fault{Reset: true}),
			wantStatus: 503, wantCode: "graphUnavailable", wantRetryAfter: "30",
			counts: func(t *testing.T, d countsDelta) {
				// azcore tries 4 times; Go's transport may replay an idempotent GET once more on a reused connection.
				if n := d.graph["GET"]; n < 4 || n > 8 {
					t.Errorf("Graph GET requests %d, want 4 to 8", n)
				}
			},
		},
		{
			name: "Graph malformed JSON", fault: "GET answers 200 with the body {not json", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Method: http.MethodGet, Status: 200, Body: "{not json"}),
			wantStatus: 502, wantCode: "graphError",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
		{
			name: "Graph oversized JSON", fault: "GET answers 200 with 1 MiB + 60 bytes of JSON", timeout: 5, warm: true,
			inject:     graphFault(emulator.Fault{Method: http.MethodGet, Status: 200, Body: oversized}),
			wantStatus: 502, wantCode: "graphError",
			counts: func(t *testing.T, d countsDelta) { wantDelta(t, d, 0, 0, 0, map[string]int{"GET": 1}) },
		},
	}

	var (
		mu   sync.Mutex
		rows []faultRow
	)
	t.Cleanup(func() {
		// All subtests are done: print the README table in the order of the cases.
		slices.SortFunc(rows, func(a, b faultRow) int { return a.index - b.index })
		var b strings.Builder
		b.WriteString("\n| case | fault | HTTP status | code | Retry-After | time (ms) | deadline (s) | then |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			code := "`" + r.code + "`"
			if r.code == "" {
				code = "—"
			}
			ra := r.retryAfter
			if ra == "" {
				ra = "—"
			}
			then := r.recoveredStatus
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %d | %d | %s |\n", r.name, r.fault, r.status, code, ra, r.elapsed.Milliseconds(), r.timeout, then)
		}
		t.Log(b.String())
	})

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			binary, event, okStatus := binaries.status, sample(t, "httpapi-status.json"), 200
			if tt.sync {
				binary, event, okStatus = binaries.sync, sample(t, "httpapi-sync.json"), 202
			}
			fn := e.start(t, binary, map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(tt.timeout)})
			if tt.warm {
				if got := decodeHTTP(t, fn.invoke(t, event)); got.StatusCode != okStatus {
					t.Fatalf("warm-up: %d %s", got.StatusCode, got.Body)
				}
			}
			repair := tt.inject(t, e)
			before := e.emu.Counts()
			began := time.Now()
			raw := fn.invoke(t, event)
			elapsed := time.Since(began)
			after := e.emu.Counts()
			got := decodeHTTP(t, raw)
			body := got.json(t)
			code, _ := body["code"].(string)
			row := faultRow{index: i, name: tt.name, fault: tt.fault, status: got.StatusCode, code: code,
				retryAfter: got.header("Retry-After"), elapsed: elapsed, timeout: tt.timeout}
			defer func() {
				mu.Lock()
				rows = append(rows, row)
				mu.Unlock()
			}()

			if got.StatusCode != tt.wantStatus || code != tt.wantCode {
				t.Errorf("got %d %q, want %d %q: %s", got.StatusCode, code, tt.wantStatus, tt.wantCode, got.Body)
			}
			if ra := got.header("Retry-After"); ra != tt.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", ra, tt.wantRetryAfter)
			}
			if got.StatusCode == 429 || got.StatusCode == 503 {
				if n, err := strconv.Atoi(got.header("Retry-After")); err != nil || n < 1 {
					t.Errorf("a %d must carry Retry-After in whole seconds, got %q", got.StatusCode, got.header("Retry-After"))
				}
			}
			if got.StatusCode >= 400 {
				if ct := got.header("Content-Type"); ct != "application/problem+json" || body["status"] != float64(got.StatusCode) {
					t.Errorf("not a problem document: Content-Type %q, body %s", ct, got.Body)
				}
			}
			if got.StatusCode == 500 && strings.Contains(got.Body, "key vault") {
				t.Errorf("a 500 echoes an internal error: %s", got.Body)
			}
			if limit := time.Duration(tt.timeout) * time.Second; elapsed >= limit {
				t.Errorf("answered after %v, past the %v function timeout", elapsed, limit)
			}
			if tt.counts != nil {
				tt.counts(t, delta(before, after))
			}

			// Repaired, the same process serves normally, or, while a failed secret read is
			// remembered, answers the same problem without reading Key Vault again.
			repair()
			e.emu.ClearFaults()
			beforeAgain := e.emu.Counts()
			again := decodeHTTP(t, fn.invoke(t, event))
			row.recoveredStatus = strconv.Itoa(again.StatusCode)
			switch d := delta(beforeAgain, e.emu.Counts()); {
			case tt.remembered && (again.StatusCode != tt.wantStatus || d.secretReads != 0 || d.vaultTokens != 0):
				t.Errorf("after repair, within the remembered period: %d %s with %d secret reads and %d Key Vault tokens, want %d and none",
					again.StatusCode, again.Body, d.secretReads, d.vaultTokens, tt.wantStatus)
			case tt.remembered:
				row.recoveredStatus += " (remembered)"
			case tt.joinsInFlight && again.StatusCode == tt.wantStatus:
				row.recoveredStatus += " (joined the read in flight)"
			case again.StatusCode != okStatus:
				t.Errorf("after repair: %d %s, want %d", again.StatusCode, again.Body, okStatus)
			}
			logs := fn.logs.String()
			for _, bad := range []string{"panic", "Task timed out"} {
				if strings.Contains(logs, bad) {
					t.Errorf("the function log contains %q:\n%s", bad, logs)
				}
			}
		})
	}
}
