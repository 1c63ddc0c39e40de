package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
)

// Clouds of SPEC §11: the value of an Entry's Cloud.
const (
	CloudGlobal   = "global"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod"
	CloudChina    = "china"
)

// AllSelector is the reserved selector for "every tenant" (GET /status?tenant=all, fan-out); no
// tenant may be named so.
const AllSelector = autopilot.AllTenants

const (
	maxNameLength       = 63
	maxSecretNameLength = 127
	// maxReported bounds how many problems a RegistryError lists, so its message stays short.
	maxReported = 10
)

// Entry is one tenant of the registry (SPEC §11).
type Entry struct {
	// Name selects the tenant: unique, 1–63 characters of [a-z0-9-], never "all".
	Name string `json:"name"`
	// TenantID is the Entra tenant: a GUID or a verified domain (contoso.onmicrosoft.com).
	TenantID string `json:"tenantId"`
	// ClientID is the Graph app registration in that tenant (a GUID).
	ClientID string `json:"clientId"`
	// CredentialSecretName names the Key Vault secret with the app's client secret or certificate.
	// Tenants consented to one multi-tenant app may share it.
	CredentialSecretName string `json:"credentialSecretName"`
	// Cloud is global, usgov, usgovdod or china; ParseRegistry turns "" into global.
	Cloud string `json:"cloud,omitempty"`
}

// EntryProblem is one reason a registry is invalid.
type EntryProblem struct {
	Index int    // 0-based position in the array; -1 for the document itself
	Name  string // the entry's name as written, "" when it has none
	Field string // JSON field, "" for the entry or document as a whole
	Msg   string
}

func (p EntryProblem) String() string {
	var b strings.Builder
	if p.Index >= 0 {
		fmt.Fprintf(&b, "entry %d", p.Index)
		if p.Name != "" {
			fmt.Fprintf(&b, " (%.63q)", p.Name)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// RegistryError is an invalid tenant registry. It lists the first problems found (at most 10),
// each naming the entry (index and name) and the field.
type RegistryError struct {
	Problems []EntryProblem
	// More counts the problems found beyond those listed.
	More int
}

func (e *RegistryError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	msg := "tenant registry: " + strings.Join(parts, "; ")
	if e.More > 0 {
		msg += fmt.Sprintf("; and %d more", e.More)
	}
	return msg
}

func (e *RegistryError) add(p EntryProblem) {
	if len(e.Problems) < maxReported {
		e.Problems = append(e.Problems, p)
		return
	}
	e.More++
}

// ParseRegistry reads a tenant registry: a JSON array of Entry. It checks every entry and
// returns them with Cloud defaulted to global, or a *RegistryError listing what is wrong: an
// unknown field, a missing or malformed value, a duplicate name or tenant id, the reserved name
// "all". An empty array is a registry of no tenants.
func ParseRegistry(data []byte) ([]Entry, error) {
	re := &RegistryError{}
	var raw []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		re.add(EntryProblem{Index: -1, Msg: "not a JSON array of tenants " + `[{"name","tenantId","clientId","credentialSecretName","cloud"}]`})
		return nil, re
	}
	if _, err := dec.Token(); err != io.EOF {
		re.add(EntryProblem{Index: -1, Msg: "unexpected data after the JSON array"})
		return nil, re
	}

	entries := make([]Entry, 0, len(raw))
	indexes := make([]int, 0, len(raw)) // of entries, in the array
	names := map[string]int{}           // name → index
	tenants := map[string]int{}         // lower-case tenant id → index
	for i, r := range raw {
		e, ok := decodeEntry(re, i, r)
		if !ok {
			continue
		}
		bad := func(field, format string, args ...any) {
			re.add(EntryProblem{Index: i, Name: e.Name, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case e.Name == "":
			bad("name", "required")
		case !autopilot.IsTenantName(e.Name):
			bad("name", "must be 1-%d characters of a-z, 0-9 and -", maxNameLength)
		case e.Name == AllSelector:
			bad("name", "%q is reserved for selecting every tenant", AllSelector)
		default:
			if j, dup := names[e.Name]; dup {
				bad("name", "duplicate of entry %d", j)
			} else {
				names[e.Name] = i
			}
		}
		switch tid := strings.ToLower(e.TenantID); {
		case tid == "":
			bad("tenantId", "required")
		case !autopilot.IsTenantID(tid):
			bad("tenantId", "%.40q is neither a GUID nor a domain", e.TenantID)
		default:
			if j, dup := tenants[tid]; dup {
				bad("tenantId", "duplicate of entry %d", j)
			} else {
				tenants[tid] = i
			}
		}
		switch {
		case e.ClientID == "":
			bad("clientId", "required")
		case !autopilot.IsGUID(strings.ToLower(e.ClientID)):
			bad("clientId", "%.40q is not a GUID (the application id of the Graph app)", e.ClientID)
		}
		switch {
		case e.CredentialSecretName == "":
			bad("credentialSecretName", "required")
		case !isSecretName(e.CredentialSecretName):
			bad("credentialSecretName", "not a Key Vault secret name (1-%d letters, digits and dashes)", maxSecretNameLength)
		}
		if e.Cloud == "" {
			e.Cloud = CloudGlobal
		}
		if _, _, err := CloudEndpoints(e.Cloud, "", ""); err != nil {
			bad("cloud", "%.20q is not one of %s, %s, %s, %s", e.Cloud, CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina)
		}
		entries = append(entries, e)
		indexes = append(indexes, i)
	}
	// A name that equals another entry's tenant id would make a selector ambiguous.
	for k, e := range entries {
		if j, ok := tenants[e.Name]; ok && j != indexes[k] {
			re.add(EntryProblem{Index: indexes[k], Name: e.Name, Field: "name", Msg: fmt.Sprintf("equals the tenantId of entry %d", j)})
		}
	}
	if len(re.Problems) > 0 {
		return nil, re
	}
	return entries, nil
}

// decodeEntry decodes one array element strictly, recording a problem when it is not an Entry.
func decodeEntry(re *RegistryError, i int, r json.RawMessage) (Entry, bool) {
	var e Entry
	if bytes.Equal(bytes.TrimSpace(r), []byte("null")) || len(bytes.TrimSpace(r)) == 0 || bytes.TrimSpace(r)[0] != '{' {
		re.add(EntryProblem{Index: i, Msg: "not a JSON object"})
		return e, false
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.DisallowUnknownFields()
	err := dec.Decode(&e)
	if err == nil {
		return e, true
	}
	// Name the entry when its name could be read, whatever else is wrong.
	var named struct {
		Name any `json:"name"`
	}
	_ = json.Unmarshal(r, &named)
	name, _ := named.Name.(string)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		re.add(EntryProblem{Index: i, Name: name, Field: typeErr.Field, Msg: "must be a string"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		re.add(EntryProblem{Index: i, Name: name, Field: fmt.Sprintf("%.40s", field), Msg: "unknown field (known: name, tenantId, clientId, credentialSecretName, cloud)"})
	default:
		re.add(EntryProblem{Index: i, Name: name, Msg: "not a valid tenant object"})
	}
	return e, false
}

// CloudEndpoints returns the Graph root and the Entra authority host of a cloud (SPEC §1, §11).
// For global ("" too), graphBaseOverride and authorityOverride win when not empty: pass
// GRAPH_BASE_URL and AZURE_AUTHORITY_HOST only when they were explicitly configured, so one
// emulator can serve a test fleet. National clouds ignore the overrides: their tokens and hosts
// never mix with another cloud's. An unknown cloud is an error.
func CloudEndpoints(cloud string, graphBaseOverride, authorityOverride string) (graphBaseURL, authorityHost string, err error) {
	switch cloud {
	case CloudGlobal, "":
		graphBaseURL, authorityHost = graph.DefaultBaseURL, config.DefaultAuthorityHost
		if graphBaseOverride != "" {
			graphBaseURL = strings.TrimRight(graphBaseOverride, "/")
		}
		if authorityOverride != "" {
			authorityHost = strings.TrimRight(authorityOverride, "/")
		}
		return graphBaseURL, authorityHost, nil
	case CloudUSGov:
		return "https://graph.microsoft.us/beta", "https://login.microsoftonline.us", nil
	case CloudUSGovDoD:
		return "https://dod-graph.microsoft.us/beta", "https://login.microsoftonline.us", nil
	case CloudChina:
		return "https://microsoftgraph.chinacloudapi.cn/beta", "https://login.chinacloudapi.cn", nil
	}
	return "", "", fmt.Errorf("unknown cloud %.20q: want %s, %s, %s or %s", cloud, CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina)
}

func isSecretName(s string) bool {
	if len(s) == 0 || len(s) > maxSecretNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
