// Package wiring builds a function's dependencies from its configuration, once, at cold start:
// the bootstrap identity and Key Vault, the tenant (or the fleet's registry), the caller checks,
// and the checks of the diagnose action (built even when the configuration is broken).
// The mains and cmd/local call it; the request path never does. Problems are logged once, here;
// requests then answer 500 misconfigured (or 401 when no caller check is configured). It links
// no SQS client: the sync function's main adds the fan-out queue (WithQueue), so the status
// binary never carries one.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/awssts"
	"github.com/autopilot-sync/autopilot-sync/internal/azhttp"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Deps builds a function's dependencies from its configuration (or the error loading it): the
// tenant behind the bootstrap identity and Key Vault, or the fleet's registry, and the caller
// checks.
func Deps(cfg config.Config, cfgErr error, o tenant.Options, log *slog.Logger) api.Deps {
	d, _ := Build(cfg, cfgErr, o, log)
	return d
}

// Build is Deps, and the Key Vault store they read (nil when the configuration is broken), for
// what the sync function adds (WithFollowUp).
func Build(cfg config.Config, cfgErr error, o tenant.Options, log *slog.Logger) (api.Deps, *keyvault.Store) {
	var store *keyvault.Store
	d := api.Deps{Deps: action.Deps{Err: cfgErr, Log: log, Now: o.Now, TenantID: cfg.GraphTenantID, SenderID: cfg.SyncRoleID, DeferWhenBusy: cfg.DeferWhenBusy},
		AllowUnauthenticated: cfg.AllowUnauthenticated, CallerChecksConfigured: cfg.AuthSchemesConfigured()}
	if cfgErr == nil && cfg.FederatedTokenSource == config.FederatedTokenSourceAWSSTS && o.Assertion == nil {
		// No Azure secret in AWS (SPEC §4): the identity that reads Key Vault proves itself with
		// a web identity token that AWS STS signs for this function's execution role.
		sts, err := awssts.New(awssts.OptionsFrom(cfg.AWS))
		if err != nil {
			cfgErr = &config.Error{Err: fmt.Errorf("AZURE_FEDERATED_TOKEN_SOURCE=aws-sts: %w", err)}
			d.Err = cfgErr
		} else {
			o.Assertion, o.ExplainAssertionError = sts.Assertion, sts.Explain
		}
	}
	if o.Transport == nil {
		// One transport, preconnected by tenant.Open, for the tenant and the fleet's alike.
		o.Transport = azhttp.Default()
	}
	d.Diagnose = diagnoser(cfg, o)
	if cfgErr == nil {
		t, vault, err := tenant.Open(cfg, o)
		if err != nil {
			d.Err = err
		} else {
			store = vault
			d.Intune = t
			if cfg.TenantRegistrySecretName != "" {
				d.Tenants = action.Fleet{Fleet: tenant.NewFleet(vault, cfg.TenantRegistrySecretName,
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
		log.Error("configuration is invalid: every request will answer 500 misconfigured until it is fixed; a direct invocation {\"action\":\"diagnose\"} says how", slog.String("error", d.Err.Error()))
	}
	if !cfg.AllowUnauthenticated && !cfg.AuthSchemesConfigured() {
		log.Warn("no caller authentication is configured (WEBHOOK_TOKEN_SECRET_NAME, WEBHOOK_HMAC_SECRET_NAME, SLACK_SIGNING_SECRET_NAME, TEAMS_WEBHOOK_SECRET_NAME) and ALLOW_UNAUTHENTICATED is not true: every HTTP request will answer 401")
	}
	return d, store
}

// diagnoser returns the diagnose action's checks (SPEC §14) for cfg, with the transport, clock
// and aws-sts assertion the tenant uses. It is built whatever the configuration error: the
// action reports it as its first check.
func diagnoser(cfg config.Config, o tenant.Options) func(context.Context, autopilot.Function, error) diagnose.Report {
	return func(ctx context.Context, fn autopilot.Function, cfgErr error) diagnose.Report {
		return diagnose.Run(ctx, cfg, cfgErr, diagnose.Options{
			Function: fn, Transport: o.Transport, Now: o.Now,
			Assertion: o.Assertion, ExplainAssertionError: o.ExplainAssertionError,
		})
	}
}

// The queues the sync function sends to and consumes (awssqs.Queue; cmd/local's in-process
// delayed queue for the follow-up): each ARN tells its records apart from another queue's.
type (
	FleetQueue interface {
		action.Enqueuer
		ARN() string
	}
	FollowUpQueue interface {
		action.MessageQueue
		ARN() string
	}
)

// WithQueue adds the fan-out queue of FLEET_QUEUE_URL to d (SPEC §11), or the error building it.
func WithQueue(d api.Deps, q FleetQueue, err error) api.Deps {
	switch {
	case err != nil:
		d.Err = errors.Join(d.Err, &config.Error{Err: fmt.Errorf("FLEET_QUEUE_URL: %w", err)})
	case q != nil:
		d.Fleet, d.FleetARN = q, q.ARN()
	}
	return d
}
