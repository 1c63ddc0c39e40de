package diagnose

// Reading Key Vault secrets for the report: what a failed read means and what mends it, and the
// callerSecrets check.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Key Vault's inner error codes that change the fix.
const (
	innerSecretDisabled  = "SecretDisabled"
	innerForbiddenByRBAC = "ForbiddenByRbac"
	innerAccessDenied    = "AccessDenied"
	innerForbiddenPolicy = "ForbiddenByPolicy"
)

// readFault explains a failed read of the Key Vault secret name. label (" (WEBHOOK_TOKEN_SECRET_NAME)")
// says which setting names it; missingFix mends its absence.
func (r *runner) readFault(ctx context.Context, err error, name, label, missingFix string) *fault {
	var ve *keyvault.Error
	isVault := errors.As(err, &ve)
	inner := vaultInnerCode(err)
	var stsErr *awssts.Error
	switch {
	case isVault && ve.NotFound && ve.StatusCode == http.StatusNotFound:
		return &fault{problem.Misconfigured, fmt.Sprintf("Key Vault has no enabled secret named %q%s.", name, label), missingFix}
	case isVault && ve.NotFound, inner == innerSecretDisabled:
		return &fault{problem.Misconfigured, fmt.Sprintf("Key Vault secret %q%s is disabled.", name, label), FixDisabledSecret(r.vaultName, name)}
	case isVault && ve.StatusCode == http.StatusForbidden:
		fix := FixVaultAccess(r.vaultName, r.cfg.ClientID)
		if inner == innerAccessDenied || inner == innerForbiddenPolicy {
			fix = FixVaultAccessPolicy(r.vaultName, r.cfg.ClientID)
		}
		return &fault{problem.Misconfigured, fmt.Sprintf("Key Vault refused the identity that reads it (AZURE_CLIENT_ID %s) the secret %q%s: %s (%s); it needs the role %s on the vault.",
			r.cfg.ClientID, name, label, vaultMessage(err), inner, RoleSecretsUser), fix}
	case isVault && ve.StatusCode == http.StatusUnauthorized:
		return &fault{problem.Misconfigured, fmt.Sprintf("Key Vault refused the token of the identity that reads it, reading secret %q%s: %s",
			name, label, vaultMessage(err)), FixVaultTenant(r.vaultName, r.cfg.TenantID)}
	case isVault && ve.StatusCode != 0:
		return &fault{problem.SecretStoreUnavailable, fmt.Sprintf("Key Vault answered HTTP %d to the read of secret %q%s: %s",
			ve.StatusCode, name, label, vaultMessage(err)), FixTryAgain("Key Vault")}
	case problem.IsTimeout(err) || ctx.Err() != nil:
		return &fault{problem.UpstreamTimeout, fmt.Sprintf("Key Vault (%s) did not answer the read of secret %q%s within %s.",
			r.cfg.KeyVaultURL, name, label, r.o.CheckTimeout), FixVaultUnreachable(r.vaultName)}
	case errors.As(err, &stsErr):
		return r.stsFault(stsErr)
	}
	if a, ok := readEntra(err); ok && a.status != 0 {
		return r.readerFault(ctx, err) // the token expired since keyVaultToken, and Entra refused
	}
	return &fault{problem.SecretStoreUnavailable, fmt.Sprintf("Key Vault (%s) could not be reached to read secret %q%s: %s",
		r.cfg.KeyVaultURL, name, label, clip(err.Error())), FixVaultUnreachable(r.vaultName)}
}

// namedSecret is a Key Vault secret of the configuration, by the variable that names it.
type namedSecret struct {
	variable, name string
	// read, when set, reads a value as the function does (beyond its being there); its errors
	// say what is wrong and never show the value.
	read func(value string) error
}

// readers read a caller secret's value as the function does, by the variable that names it.
var readers = map[string]func(value string) error{
	"TEAMS_WEBHOOK_SECRET_NAME": func(v string) error {
		_, err := webhook.DecodeTeamsKey(v)
		return err
	},
	"TEAMS_NOTIFY_URL_SECRET_NAME": func(v string) error {
		_, err := notify.ParseTeamsURL(v)
		return err
	},
	"CALLBACK_TARGETS_SECRET_NAME": func(v string) error {
		_, err := notify.ParseCallbackTargets([]byte(v))
		return err
	},
	"CALLBACK_SIGNING_SECRET_NAME": func(v string) error {
		_, err := notify.ParseSigningSecret(v)
		return err
	},
}

// callerSecrets lists the configured secrets of the caller checks (SPEC §6) and of the
// follow-up targets (§13), in that order (config.SecretNames).
func callerSecrets(cfg config.Config) []namedSecret {
	var out []namedSecret
	for _, s := range cfg.SecretNames() {
		if s.Caller && s.Name != "" {
			out = append(out, namedSecret{s.Variable, s.Name, readers[s.Variable]})
		}
	}
	return out
}

// callerSecretsStep adds the callerSecrets check when any caller secret is configured: each
// exists, is enabled and not empty, and the follow-up's are usable as the function reads them.
func (r *runner) callerSecretsStep(ctx context.Context, c *chain, l *links, ready bool) {
	secrets := callerSecrets(r.cfg)
	if len(secrets) == 0 {
		return
	}
	c.step(ctx, CheckCallerSecrets, ready, func(ctx context.Context, _ *Check) *fault {
		var faults []*fault
		for _, s := range secrets {
			label := " (" + s.variable + ")"
			missing := FixMissingCallerSecret(r.vaultName, s.name, s.variable)
			secret, err := l.vault.Get(ctx, s.name)
			switch {
			case err != nil:
				faults = append(faults, r.readFault(ctx, err, s.name, label, missing))
			case strings.TrimSpace(secret.Value) == "":
				faults = append(faults, &fault{problem.Misconfigured, fmt.Sprintf("Key Vault secret %q%s is empty.", s.name, label), missing})
			case s.read != nil:
				if err := s.read(secret.Value); err != nil {
					faults = append(faults, &fault{problem.Misconfigured,
						clipLines(fmt.Sprintf("Key Vault secret %q%s cannot be used: %s", s.name, label, sentence(oneLine(err.Error())))),
						FixUnusableCallerSecret(r.vaultName, s.name, s.variable)})
				}
			}
		}
		return joinFaults(faults)
	})
}

// oneLine joins the lines of a joined error with "; ".
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// joinFaults reports several failures as one: the first one's code, every detail, each fix once.
func joinFaults(faults []*fault) *fault {
	if len(faults) == 0 {
		return nil
	}
	details := make([]string, 0, len(faults))
	var fixes []string
	for _, f := range faults {
		details = append(details, f.detail)
		if !slices.Contains(fixes, f.fix) {
			fixes = append(fixes, f.fix)
		}
	}
	return &fault{faults[0].code, strings.Join(details, " "), strings.Join(fixes, "; ")}
}
