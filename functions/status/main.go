// Command status is the status function: GET reads and PATCH updates the Autopilot sync settings (SPEC §5).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/logs"
	"github.com/autopilot-sync/autopilot-sync/internal/tenant"
	"github.com/autopilot-sync/autopilot-sync/internal/wiring"
)

func main() {
	cfg, err := config.Load(os.Getenv)
	log := logs.New(os.Stdout, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(log)
	lambda.Start(api.New(autopilot.FunctionStatus, wiring.Deps(cfg, err, tenant.Options{}, log)).Invoke)
}
