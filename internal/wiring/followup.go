package wiring

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/autopilot-sync/autopilot-sync/internal/action"
	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
	"github.com/autopilot-sync/autopilot-sync/internal/notify"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// FollowUpOptions are what WithFollowUp needs besides the configuration.
type FollowUpOptions struct {
	// Outbound configures the network-safe client of every target (zero: production).
	Outbound outbound.Options
	// Loopback lets callbacks go to loopback URLs without CALLBACK_TARGETS_SECRET_NAME: cmd/local
	// on its embedded emulator only (with Outbound.AllowLoopback).
	Loopback bool
	Log      *slog.Logger
}

// WithFollowUp adds the follow-up of SPEC §13 to d: the queue q of FOLLOWUP_QUEUE_URL (or the
// error building it), the schedule, the Slack prefixes, and the targets whose secrets vault
// holds. Only the sync function's main calls it, so the status binary never links the outbound
// client. A configuration error joins d.Err (every request then answers misconfigured).
func WithFollowUp(d api.Deps, cfg config.Config, vault *keyvault.Store, q FollowUpQueue, qErr error, o FollowUpOptions) api.Deps {
	var errs []error
	if qErr != nil {
		errs = append(errs, fmt.Errorf("FOLLOWUP_QUEUE_URL: %w", qErr))
	}
	schedule, err := followup.ParseSchedule(followup.ScheduleValues{FirstCheck: cfg.FollowUpFirstCheck, MaxAge: cfg.FollowUpMaxAge,
		DeviceCheckInterval: cfg.DeviceCheckInterval, DeviceMaxAge: cfg.DeviceMaxAge})
	if err != nil {
		errs = append(errs, err)
	}
	slackPrefixes, err := notify.ParseSlackPrefixes(cfg.SlackResponseURLPrefixes)
	if err != nil {
		errs = append(errs, err)
	}
	if vault == nil {
		errs = append(errs, errors.New("no Key Vault: the configuration above is broken"))
	}
	if len(errs) > 0 {
		err := &config.Error{Err: errors.Join(errs...)}
		if o.Log != nil {
			o.Log.Error("follow-up configuration is invalid: every request will answer 500 misconfigured until it is fixed", slog.String("error", err.Error()))
		}
		d.Err = errors.Join(d.Err, err)
		return d
	}
	secrets := notify.VaultSecrets{Vault: vault, Names: notify.SecretNames{
		TeamsURL:        cfg.TeamsNotifyURLSecretName,
		CallbackTargets: cfg.CallbackTargetsSecretName,
		CallbackSigning: cfg.CallbackSigningSecretName,
	}}
	sender := &notify.Sender{
		Poster:        outbound.New(o.Outbound),
		Secrets:       secrets,
		SlackPrefixes: slackPrefixes,
		TenantID:      cfg.GraphTenantID,
		Loopback:      o.Loopback,
		Now:           d.Now,
	}
	fu := &action.FollowUp{
		Queue:         q,
		QueueARN:      q.ARN(),
		Schedule:      schedule,
		SlackPrefixes: slackPrefixes,
		Teams:         cfg.TeamsNotifyURLSecretName != "",
		Loopback:      o.Loopback,
		Deliver:       sender.Deliver,
	}
	if cfg.CallbackTargetsSecretName != "" {
		fu.Callbacks = secrets
	}
	d.FollowUp = fu
	return d
}
