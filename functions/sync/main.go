// Command sync is the sync function: POST starts a sync of Windows Autopilot devices (SPEC §5).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/awssqs"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	log := logs.New(os.Stdout, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(log)
	deps, vault := wiring.Build(cfg, err, tenant.Options{}, log)
	if err == nil && cfg.FleetQueueURL != "" {
		q, err := awssqs.New(cfg.FleetQueueURL, awssqs.Options{AWS: cfg.AWS})
		deps = wiring.WithQueue(deps, q, err)
	}
	if err == nil && cfg.FollowUpQueueURL != "" {
		q, err := awssqs.New(cfg.FollowUpQueueURL, awssqs.Options{AWS: cfg.AWS})
		deps = wiring.WithFollowUp(deps, cfg, vault, q, err, wiring.FollowUpOptions{Log: log})
	}
	lambda.Start(api.New(autopilot.FunctionSync, deps).Invoke)
}
