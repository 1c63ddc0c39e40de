package api

import (
	"log/slog"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/webhook"
)

// Wire builds a function's Deps from its configuration (or the error loading it): the tenant
// behind the bootstrap identity and Key Vault. Problems are logged once, here, at cold start;
// requests then answer 500 misconfigured (or 401 when no caller check is configured).
func Wire(cfg config.Config, cfgErr error, o tenant.Options, log *slog.Logger) Deps {
	d := Deps{Err: cfgErr, Log: log, Now: o.Now, AllowUnauthenticated: cfg.AllowUnauthenticated}
	if cfgErr == nil {
		t, vault, err := tenant.Open(cfg, o)
		if err != nil {
			d.Err = err
		} else {
			d.Intune = t
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
