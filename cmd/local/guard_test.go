package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
)

// TestRefusesCrossSiteRequests is issue 20's defect 3: a web page on any site could make a
// browser POST a text/plain body (no CORS preflight) to cmd/local on loopback, start a sync and
// send its outcome to any loopback port. A request that a browser marks as from another site is
// refused with 403 forbidden before it reaches a function; curl, which sends neither Origin nor
// Sec-Fetch-*, is served.
func TestRefusesCrossSiteRequests(t *testing.T) {
	t.Parallel()
	base, _, _, stop := startLocalWith(t, local{timeouts: defaultTimeouts})
	t.Cleanup(stop)
	port := base[strings.LastIndex(base, ":")+1:]
	attack := `{"callbackUrl":"http://127.0.0.1:9/anywhere"}`
	for _, tt := range []struct {
		name   string
		header map[string]string
	}{
		{"a page of another site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
		{"Origin only", map[string]string{"Origin": "https://evil.example"}},
		{"Sec-Fetch-Site only", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"a page on another loopback port", map[string]string{"Origin": "http://127.0.0.1:9", "Sec-Fetch-Site": "same-site"}},
		{"a sandboxed page", map[string]string{"Origin": "null"}},
		{"this host:port over https", map[string]string{"Origin": "https://127.0.0.1:" + port}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/sync", strings.NewReader(attack))
			req.Header.Set("Content-Type", "text/plain")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			status, code := answer(t, req)
			if got, want := status+" "+code, "403 forbidden"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	// None of the refused requests started a sync: curl's POST is the first.
	req, _ := http.NewRequest(http.MethodPost, base+"/sync", nil)
	if status, _ := answer(t, req); status != "202" {
		t.Errorf("POST /sync from curl after the refused ones: %s, want 202", status)
	}
}

// answer sends req and returns its status and its problem code, if any.
func answer(t *testing.T, req *http.Request) (status, code string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Every answer is one openapi.yaml documents, the refusals included.
	x := contract.Exchange{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header,
		Status: resp.StatusCode, RespHeader: resp.Header, Body: data}
	if err := contract.Check(x); err != nil {
		t.Error(err)
	}
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(data, &p)
	return strconv.Itoa(resp.StatusCode), p.Code
}

// TestGuard is who the server answers: Host must name the server (else 400, the DNS-rebinding
// defence) and a browser must not say the request comes from another site (else 403). On an
// unspecified address (a real configuration on 0.0.0.0 or [::], issue 20's defect 4) every IP
// address and this machine's names name the server on its port.
func TestGuard(t *testing.T) {
	t.Parallel()
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	v4Any := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	v6Any := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}
	lanIP := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 8080}
	tests := []struct {
		name   string
		addr   net.Addr
		host   string
		header map[string]string
		want   int
	}{
		{"loopback: its address", loopback, "127.0.0.1:8080", nil, 200},
		{"loopback: localhost", loopback, "localhost:8080", nil, 200},
		{"loopback: localhost, upper case", loopback, "LOCALHOST:8080", nil, 200},
		{"loopback: ::1", loopback, "[::1]:8080", nil, 200},
		{"loopback: a rebound name", loopback, "attacker.example:8080", nil, 400},
		{"loopback: another port", loopback, "127.0.0.1:8081", nil, 400},
		{"loopback: a LAN address", loopback, "192.0.2.10:8080", nil, 400},
		{"loopback: the machine's name", loopback, "buildhost:8080", nil, 400},
		{"0.0.0.0: loopback", v4Any, "127.0.0.1:8080", nil, 200},
		{"0.0.0.0: localhost", v4Any, "localhost:8080", nil, 200},
		{"0.0.0.0: a LAN address", v4Any, "192.0.2.10:8080", nil, 200},
		{"0.0.0.0: a NAT's public address", v4Any, "203.0.113.7:8080", nil, 200},
		{"0.0.0.0: the machine's name", v4Any, "buildhost:8080", nil, 200},
		{"0.0.0.0: the machine's name, upper case", v4Any, "BUILDHOST:8080", nil, 200},
		{"0.0.0.0: its own spelling", v4Any, "0.0.0.0:8080", nil, 200},
		{"0.0.0.0: a rebound name", v4Any, "attacker.example:8080", nil, 400},
		{"0.0.0.0: a name ending in the machine's", v4Any, "buildhost.attacker.example:8080", nil, 400},
		{"0.0.0.0: another port", v4Any, "192.0.2.10:9", nil, 400},
		{"0.0.0.0: no port", v4Any, "192.0.2.10", nil, 400},
		{"[::]: an IPv6 address", v6Any, "[2001:db8::10]:8080", nil, 200},
		{"[::]: an IPv4 address", v6Any, "192.0.2.10:8080", nil, 200},
		{"[::]: a rebound name", v6Any, "attacker.example:8080", nil, 400},
		{"a LAN address: itself", lanIP, "192.0.2.10:8080", nil, 200},
		{"a LAN address: another address", lanIP, "192.0.2.11:8080", nil, 400},
		{"curl", loopback, "127.0.0.1:8080", nil, 200},
		{"typed into the address bar", loopback, "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"its own page", loopback, "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, 200},
		{"its own page, another spelling", loopback, "127.0.0.1:8080", map[string]string{"Origin": "http://localhost:8080"}, 200},
		{"cross-site", loopback, "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site, upper case", loopback, "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "Cross-Site"}, 403},
		{"same-site", loopback, "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"another origin", loopback, "127.0.0.1:8080", map[string]string{"Origin": "https://evil.example"}, 403},
		{"another port's origin", loopback, "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:9"}, 403},
		{"an https origin", loopback, "127.0.0.1:8080", map[string]string{"Origin": "https://127.0.0.1:8080"}, 403},
		{"a null origin", loopback, "127.0.0.1:8080", map[string]string{"Origin": "null"}, 403},
		{"an empty origin", loopback, "127.0.0.1:8080", map[string]string{"Origin": ""}, 403},
		{"an origin with a path", loopback, "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080/x"}, 403},
		{"0.0.0.0: its own page on a LAN address", v4Any, "192.0.2.10:8080", map[string]string{"Origin": "http://192.0.2.10:8080"}, 200},
		{"0.0.0.0: a rebound page", v4Any, "attacker.example:8080", map[string]string{"Origin": "http://attacker.example:8080", "Sec-Fetch-Site": "same-origin"}, 400},
		{"0.0.0.0: another site", v4Any, "192.0.2.10:8080", map[string]string{"Origin": "http://attacker.example:8080"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached bool
			h := guard(newOwnHosts(tt.addr, "buildhost"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader(`{}`))
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header[k] = []string{v}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if got := w.Code; got != tt.want || reached != (tt.want == 200) {
				t.Errorf("Host %q %v: %d (reached the functions: %v), want %d; %s", tt.host, tt.header, got, reached, tt.want, w.Body)
			}
			if tt.want != 200 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("a refusal of Content-Type %q, want a problem", w.Header().Get("Content-Type"))
			}
		})
	}
}
