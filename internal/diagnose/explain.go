package diagnose

// What the services said, read for the report: Entra's AADSTS error, Key Vault's inner error
// code, the roles of a Graph token, the subject of an STS token, the role of an STS refusal.
// Nothing here keeps or returns a token.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// fault is what a failed check reports.
type fault struct {
	code        problem.Code
	detail, fix string
}

// maxDetail bounds the text a service returned that a detail quotes.
const maxDetail = 400

// clip shortens a service's text for a detail: one line, at most maxDetail bytes.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}

// sentence ends s with a full stop unless it ends with punctuation already.
func sentence(s string) string {
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?…") {
		return s
	}
	return s + "."
}

// entraAnswer is what Entra said when it refused a token request.
type entraAnswer struct {
	status      int    // HTTP status; 0 when Entra did not answer
	code        string // e.g. invalid_client
	aadsts      string // e.g. AADSTS7000215
	description string // without the trace and correlation ids
}

var aadstsCode = regexp.MustCompile(`\bAADSTS\d+\b`)

// readEntra reads the error of a failed token request.
func readEntra(err error) (entraAnswer, bool) {
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) {
		return entraAnswer{}, false
	}
	a := entraAnswer{}
	if af.RawResponse == nil {
		return a, true
	}
	a.status = af.RawResponse.StatusCode
	body, _ := runtime.Payload(af.RawResponse)
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil {
		a.code = e.Error
		desc, _, _ := strings.Cut(e.Description, " Trace ID:")
		a.description = clip(desc)
		a.aadsts = aadstsCode.FindString(desc)
	}
	return a, true
}

// rejected reports whether Entra answered and said no (as opposed to failing to answer).
func (a entraAnswer) rejected() bool { return a.status >= 400 && a.status < 500 }

// said is Entra's answer for a detail: "AADSTS7000215: Invalid client secret provided. …".
func (a entraAnswer) said() string {
	switch {
	case a.description != "":
		return a.description
	case a.code != "":
		return a.code
	case a.status != 0:
		return "HTTP " + strconv.Itoa(a.status)
	}
	return "no answer"
}

// vaultInnerCode returns the inner error code of a Key Vault error answer (SecretDisabled,
// ForbiddenByRbac, …), "" when there is none.
func vaultInnerCode(err error) string { return keyvault.AnswerOf(err).InnerCode }

// vaultMessage returns Key Vault's error message (AKV10032: Invalid issuer …), "" when none.
func vaultMessage(err error) string {
	a := keyvault.AnswerOf(err)
	if a.Code == "" && a.Message == "" {
		return ""
	}
	return clip(strings.TrimSpace(a.Code + ": " + a.Message))
}

// jwtPayload decodes the payload of a JWT into v. It reports false when token is not a JWT
// (Entra may issue opaque tokens); the token is never kept.
func jwtPayload(token string, v any) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	return err == nil && json.Unmarshal(b, v) == nil
}

// tokenRoles returns the roles claim of a Graph token and whether the token is a JWT; a JWT
// without roles yields an empty, non-nil list.
func tokenRoles(token string) ([]string, bool) {
	var c struct {
		Roles []string `json:"roles"`
	}
	if !jwtPayload(token, &c) {
		return nil, false
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	return c.Roles, true
}

// tokenSubject returns the sub claim of a JWT (for an STS web identity token: the role ARN).
func tokenSubject(token string) string {
	var c struct {
		Sub string `json:"sub"`
	}
	if !jwtPayload(token, &c) {
		return ""
	}
	return c.Sub
}

var assumedRole = regexp.MustCompile(`arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/`)

// roleOfMessage returns the role ARN behind an assumed-role ARN that an AWS error message names
// ("User: arn:aws:sts::123456789012:assumed-role/NAME/SESSION is not authorized …"): the role's
// path is not in such an ARN, so it is exact only for roles without a path, as SAM creates them.
func roleOfMessage(msg string) string {
	m := assumedRole.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	return "arn:" + m[1] + ":iam::" + m[2] + ":role/" + m[3]
}
