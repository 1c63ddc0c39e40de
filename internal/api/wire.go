package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Wire builds a function's Deps from its configuration (or the error loading it): the tenant
// behind the bootstrap identity and Key Vault, or the fleet's registry. The fan-out queue is the
// sync function's alone: its main adds it (WithQueue), so the status binary never links SQS. Problems are logged once, here, at cold start;
// requests then answer 500 misconfigured (or 401 when no caller check is configured).
func Wire(cfg config.Config, cfgErr error, o tenant.Options, log *slog.Logger) Deps {
	d := Deps{Err: cfgErr, Log: log, Now: o.Now, AllowUnauthenticated: cfg.AllowUnauthenticated,
		CallerChecksConfigured: cfg.AuthSchemesConfigured(), TenantID: cfg.GraphTenantID}
	if cfgErr == nil && cfg.FederatedTokenSource == config.FederatedTokenSourceAWSSTS && o.Assertion == nil {
		// No Azure secret in AWS (SPEC §4): the identity that reads Key Vault proves itself with
		// a web identity token that AWS STS signs for this function's execution role.
		sts, err := awssts.New(awssts.OptionsFromEnv(os.Getenv))
		if err != nil {
			cfgErr = &config.Error{Err: fmt.Errorf("AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: %w", err)}
			d.Err = cfgErr
		} else {
			o.Assertion, o.ExplainAssertionError = sts.Assertion, sts.Explain
		}
	}
	if cfgErr == nil {
		t, vault, err := tenant.Open(cfg, o)
		if err != nil {
			d.Err = err
		} else {
			d.Intune = t
			if cfg.TenantRegistrySecretName != "" {
				d.Tenants = fleetTenants{tenant.NewFleet(vault, cfg.TenantRegistrySecretName,
					tenant.Overrides{GraphBaseURL: cfg.GraphBaseURL, AuthorityHost: cfg.AuthorityHost}, o)}
			}
			if cfg.AuthSchemesConfigured() {
				d.Callers = webhook.New(vault, webhook.Names{
					Token: cfg.WebhookTokenSecretName,
					HMAC:  cfg.WebhookHMACSecretName,
					Slack: cfg.SlackSigningSecretName,
					Teams: cfg.TeamsWebhookSecretName,
				}, o.Now)
			}
		}
	}
	if d.Err != nil {
		log.Error("configuration is invalid: every request will answer 500 misconfigured until it is fixed", slog.String("error", d.Err.Error()))
	}
	if !cfg.AllowUnauthenticated && !cfg.AuthSchemesConfigured() {
		log.Warn("no caller authentication is configured (WEBHOOK_TOKEN_SECRET_NAME, WEBHOOK_HMAC_SECRET_NAME, SLACK_SIGNING_SECRET_NAME, TEAMS_WEBHOOK_SECRET_NAME) and ALLOW_UNAUTHENTICATED is not true: every HTTP request will answer 401")
	}
	return d
}

// WithQueue adds the fan-out queue of FLEET_QUEUE_URL to d (SPEC §11), or the error building it.
func WithQueue(d Deps, q Enqueuer, err error) Deps {
	switch {
	case err != nil:
		d.Err = errors.Join(d.Err, &config.Error{Err: fmt.Errorf("FLEET_QUEUE_URL: %w", err)})
	case q != nil:
		d.Fleet = q
	}
	return d
}

// fleetTenants selects tenants from the registry of SPEC §11.
type fleetTenants struct{ fleet *tenant.Fleet }

func (f fleetTenants) Select(ctx context.Context, selector string) (Intune, string, error) {
	if selector == "" {
		return nil, "", ErrNoTenantSelected
	}
	t, entry, err := f.fleet.Tenant(ctx, selector)
	if errors.Is(err, tenant.ErrUnknownTenant) {
		return nil, "", fmt.Errorf("%w: %w", ErrUnknownTenant, err)
	}
	if err != nil {
		return nil, "", err
	}
	return t, entry.Name, nil
}

func (f fleetTenants) Names(ctx context.Context) ([]string, error) {
	entries, err := f.fleet.Entries(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names, nil
}
