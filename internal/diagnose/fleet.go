package diagnose

// The tenants check of a deployment with a tenant registry (SPEC §11): the registry is read and
// parsed as the functions do, then each tenant's own Graph app is checked, a few tenants at once.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/entra"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
)

const registryVariable = "TENANT_REGISTRY_SECRET_NAME"

// entryRef finds the entries a registry problem refers to ("duplicate of entry 0"), counted from 0.
var entryRef = regexp.MustCompile(`\bentry \d+\b`)

// fromOne renumbers "entry 0" as "entry 1", as the report counts entries.
func fromOne(ref string) string {
	n, err := strconv.Atoi(strings.TrimPrefix(ref, "entry "))
	if err != nil {
		return ref
	}
	return "entry " + strconv.Itoa(n+1)
}

// tenants reads the registry and checks every tenant, at most Options.Concurrency at once. It
// fails when the registry cannot be read or parsed, or when any tenant fails.
func (r *runner) tenants(ctx context.Context, l *links, ck *Check) *fault {
	name := r.cfg.TenantRegistrySecretName
	readCtx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout)
	secret, err := l.vault.Get(readCtx, name)
	if err != nil {
		defer cancel()
		return r.readFault(readCtx, err, name, " ("+registryVariable+")", FixMissingCallerSecret(r.vaultName, name, registryVariable))
	}
	cancel()
	entries, err := tenant.ParseRegistry([]byte(secret.Value))
	if err != nil {
		return r.registryFault(err)
	}

	ck.Tenants = make([]TenantReport, len(entries))
	slots := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			ck.Tenants[i] = r.tenant(ctx, l, i+1, e)
		})
	}
	wg.Wait()

	var failed []string
	var first *Check
	for _, t := range ck.Tenants {
		for j, tc := range t.Checks {
			if !tc.OK && !tc.Skipped {
				failed = append(failed, fmt.Sprintf("%s (%s)", t.Name, tc.Name))
				if first == nil {
					first = &t.Checks[j]
				}
				break
			}
		}
	}
	if first == nil {
		return nil
	}
	return &fault{first.Code, fmt.Sprintf("%d of %d tenants failed a check: %s.", len(failed), len(entries), strings.Join(failed, ", ")), FixTenantChecks()}
}

// tenant runs the checks of one registry entry (entry counts from 1) with its own Graph app.
func (r *runner) tenant(ctx context.Context, l *links, entry int, e tenant.Entry) TenantReport {
	graphBaseURL, authorityHost, err := tenant.CloudEndpoints(e.Cloud, r.cfg.GraphBaseURL, r.cfg.AuthorityHost)
	a := app{
		id: entra.Identity{
			TenantID: e.TenantID, ClientID: e.ClientID, AuthorityHost: authorityHost,
			Transport: r.o.Transport, DisableInstanceDiscovery: config.IsLoopback(authorityHost),
		},
		secretName:   e.CredentialSecretName,
		graphBaseURL: graphBaseURL,
		tenant:       e.TenantID,
		entry:        entry,
	}
	c := r.chain()
	var cred *credential
	credOK := c.step(ctx, CheckGraphCredential, true, func(ctx context.Context, _ *Check) *fault {
		if err != nil { // ParseRegistry refuses unknown clouds already
			return &fault{problem.Misconfigured, err.Error(), FixRegistryEntry(r.vaultName, r.cfg.TenantRegistrySecretName, entry, "cloud")}
		}
		var f *fault
		cred, f = r.graphCredential(ctx, l, a)
		return f
	})
	tokenOK := c.step(ctx, CheckGraphToken, credOK, func(ctx context.Context, ck *Check) *fault {
		return r.graphToken(ctx, cred, a, ck)
	})
	c.step(ctx, CheckGraphRead, tokenOK, func(ctx context.Context, _ *Check) *fault {
		_, f := r.graphRead(ctx, cred, a)
		return f
	})
	ok := true
	for _, ck := range c.checks {
		ok = ok && ck.OK
	}
	return TenantReport{Name: e.Name, TenantID: e.TenantID, OK: ok, Checks: c.checks}
}

// registryFault explains a registry that does not parse: every problem, entries counted from 1
// as the fix counts them, and the fix of the first.
func (r *runner) registryFault(err error) *fault {
	name := r.cfg.TenantRegistrySecretName
	var re *tenant.RegistryError
	if !errors.As(err, &re) || len(re.Problems) == 0 {
		return &fault{problem.Misconfigured, fmt.Sprintf("Key Vault secret %q (%s) is not a valid tenant registry: %s", name, registryVariable, clip(err.Error())),
			FixRegistryEntry(r.vaultName, name, 0, "")}
	}
	parts := make([]string, 0, len(re.Problems))
	for _, p := range re.Problems {
		where := "the document"
		if p.Index >= 0 {
			where = fmt.Sprintf("entry %d", p.Index+1)
			if p.Name != "" {
				where += fmt.Sprintf(" (%.63q)", p.Name)
			}
		}
		if p.Field != "" {
			where += ", " + p.Field
		}
		parts = append(parts, where+": "+entryRef.ReplaceAllStringFunc(p.Msg, fromOne))
	}
	detail := fmt.Sprintf("Key Vault secret %q (%s) is not a valid tenant registry (entries counted from 1): %s", name, registryVariable, strings.Join(parts, "; "))
	if re.More > 0 {
		detail += fmt.Sprintf("; and %d more", re.More)
	}
	first := re.Problems[0]
	return &fault{problem.Misconfigured, clipLines(detail + "."), FixRegistryEntry(r.vaultName, name, first.Index+1, first.Field)}
}
