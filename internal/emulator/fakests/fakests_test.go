package fakests_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator/emutest"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator/fakests"
)

const (
	audience = "api://AzureADTokenExchange"
	// The credential scope of a SigV4 signature; the fake reads only that.
	sigV4 = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEFAKE00000/20260302/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"
)

type answer struct {
	status int
	header http.Header
	Token  string `xml:"GetWebIdentityTokenResult>WebIdentityToken"`
	Code   string `xml:"Error>Code"`
}

// query sends a GetWebIdentityToken request with form (merged over a valid one; an empty value
// deletes a field) and authorization, the way the AWS SDK does.
func query(t *testing.T, s *fakests.STS, form url.Values, authorization string) answer {
	t.Helper()
	f := url.Values{"Action": {"GetWebIdentityToken"}, "Version": {"2011-06-15"},
		"Audience.member.1": {audience}, "SigningAlgorithm": {"RS256"}, "DurationSeconds": {"60"}}
	for k, v := range form {
		if v[0] == "" {
			f.Del(k)
		} else {
			f[k] = v
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/", strings.NewReader(f.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Amz-Security-Token", "fake-session-token-EXAMPLE")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := xml.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("STS answer: %v", err)
	}
	return a
}

// claims decodes the header and payload of a JWT without verifying it (the emulator's tests do).
func claims(t *testing.T, jwt string) (hdr, payload map[string]any) {
	t.Helper()
	p := strings.Split(jwt, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWT: %d parts", len(p))
	}
	for i, m := range []*map[string]any{&hdr, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, payload
}

func TestGetWebIdentityToken(t *testing.T) {
	t.Parallel()
	s := emutest.StartSTS(t, fakests.Options{})
	var tokens []string
	for _, alg := range []string{"RS256", "ES384"} {
		a := query(t, s, url.Values{"SigningAlgorithm": {alg}}, sigV4)
		if a.status != http.StatusOK || a.Token == "" || a.header.Get("X-Amzn-Requestid") == "" {
			t.Fatalf("%s: answered %d %q, request id %q", alg, a.status, a.Code, a.header.Get("X-Amzn-Requestid"))
		}
		hdr, c := claims(t, a.Token)
		if hdr["alg"] != alg || hdr["kid"] != alg+"-1" {
			t.Errorf("%s: header %v", alg, hdr)
		}
		if c["iss"] != s.URL() || c["sub"] != fakests.DefaultRoleARN || c["aud"] != audience || c["exp"].(float64)-c["iat"].(float64) != 60 {
			t.Errorf("%s: claims %v", alg, c)
		}
		tokens = append(tokens, a.Token)
	}
	want := fakests.Request{Audience: []string{audience}, DurationSeconds: 60,
		AccessKeyID: "AKIAEXAMPLEFAKE00000", Region: "us-east-1", SessionToken: true}
	rs, es := want, want
	rs.SigningAlgorithm, es.SigningAlgorithm = "RS256", "ES384"
	if diff := cmp.Diff([]fakests.Request{rs, es}, s.Requests()); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}
	if got := s.Calls(); got != 2 {
		t.Errorf("Calls() = %d, want 2", got)
	}
	if got := s.IssuedTokens(); !slices.Equal(got, tokens) {
		t.Errorf("IssuedTokens() = %d tokens, want the 2 answered", len(got))
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	s := emutest.StartSTS(t, fakests.Options{})
	tests := []struct {
		name          string
		form          url.Values
		authorization string
		wantStatus    int
		wantCode      string
	}{
		{"unsigned", nil, "", 400, "MissingAuthenticationToken"},
		{"another action", url.Values{"Action": {"AssumeRole"}}, sigV4, 400, "InvalidAction"},
		{"no audience", url.Values{"Audience.member.1": {""}}, sigV4, 400, "ValidationError"},
		{"HS256", url.Values{"SigningAlgorithm": {"HS256"}}, sigV4, 400, "ValidationError"},
		{"59 seconds", url.Values{"DurationSeconds": {"59"}}, sigV4, 400, "ValidationError"},
		{"an hour and a second", url.Values{"DurationSeconds": {"3601"}}, sigV4, 400, "ValidationError"},
		{"default duration", url.Values{"DurationSeconds": {""}}, sigV4, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if a := query(t, s, tc.form, tc.authorization); a.status != tc.wantStatus || a.Code != tc.wantCode {
				t.Errorf("answered %d %q, want %d %q", a.status, a.Code, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := emutest.StartSTS(t, fakests.Options{})
	tests := []struct {
		fault      fakests.Fault
		wantStatus int
	}{
		{fakests.AccessDenied, http.StatusForbidden},
		{fakests.FederationDisabled, http.StatusForbidden},
		{fakests.Throttling, http.StatusBadRequest},
	}
	for _, tc := range tests {
		remove := s.Fail(tc.fault)
		a := query(t, s, nil, sigV4)
		remove()
		if a.status != tc.wantStatus || a.Code != tc.fault.Code {
			t.Errorf("fault %s: answered %d %q", tc.fault.Code, a.status, a.Code)
		}
	}
	s.Fail(fakests.Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Times: 1})
	if a := query(t, s, nil, sigV4); a.status != http.StatusServiceUnavailable || a.Code != "ServiceUnavailable" {
		t.Errorf("first answer after a one-time fault: %d %q", a.status, a.Code)
	}
	if a := query(t, s, nil, sigV4); a.status != http.StatusOK {
		t.Errorf("second answer after a one-time fault: %d %q", a.status, a.Code)
	}
	if got, want := s.Calls(), len(tests)+2; got != want {
		t.Errorf("Calls() = %d, want %d (failed ones included)", got, want)
	}
}

func TestIssuerDocuments(t *testing.T) {
	t.Parallel()
	s := emutest.StartSTS(t, fakests.Options{RoleARN: "arn:aws:iam::210987654321:role/other"})
	get := func(path string, v any) {
		t.Helper()
		resp, err := s.HTTPClient().Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	get("/.well-known/openid-configuration", &doc)
	if doc.Issuer != s.URL() || doc.JWKSURI != s.URL()+"/.well-known/jwks.json" {
		t.Errorf("discovery document %+v", doc)
	}
	var set struct {
		Keys []struct{ Kty, Kid, Alg string }
	}
	get("/.well-known/jwks.json", &set)
	if got := len(set.Keys); got != 2 || set.Keys[0].Kid != "RS256-1" || set.Keys[1].Kid != "ES384-1" {
		t.Errorf("keys %+v", set.Keys)
	}

	fc := s.FederatedCredential(audience)
	if fc.Issuer != s.URL() || fc.Subject != "arn:aws:iam::210987654321:role/other" || fc.Audience != audience || fc.HTTPClient == nil || s.RoleARN() != fc.Subject {
		t.Errorf("FederatedCredential = %+v", fc)
	}
	tok, err := s.Token(audience, "ES384", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, c := claims(t, tok); c["sub"] != fc.Subject || c["https://sts.amazonaws.com/"].(map[string]any)["aws_account"] != "210987654321" {
		t.Errorf("Token claims %v", c)
	}
	if _, err := s.Token(audience, "HS256", time.Minute); err == nil {
		t.Error("Token signed with HS256")
	}
	if s.Calls() != 0 || len(s.IssuedTokens()) != 1 {
		t.Errorf("after Token: Calls %d, IssuedTokens %d; want 0 and 1", s.Calls(), len(s.IssuedTokens()))
	}
	if !strings.Contains(string(s.CAPEM()), "BEGIN CERTIFICATE") {
		t.Error("CAPEM is not a PEM certificate")
	}
}
