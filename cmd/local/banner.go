package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// banner is what cmd/local prints once it listens.
type banner struct {
	base string
	emu  *emulator.Emulator // nil: the real services
	cfg  config.Config
	// speed is how many times as fast as real time the clocks run (-speed; 1 with a real
	// configuration or an emulator of the test's); syncDuration is -sync-duration.
	speed        int
	syncDuration time.Duration
}

// print writes the banner: where it listens, against what, and lines to paste.
func (b banner) print(w io.Writer) {
	fmt.Fprintf(w, "autopilot-sync listening on %s\n", b.base)
	if b.emu != nil {
		fmt.Fprintf(w, "Using the embedded emulator of Entra ID, Key Vault and Microsoft Graph at %s.\n", b.emu.URL())
		fmt.Fprintln(w, "Caller checks are off on the emulator; it listens on loopback only.")
		printSeededDevices(w)
	} else {
		fmt.Fprintln(w, "Using the real services configured in the environment; caller checks apply.")
	}
	if b.cfg.DeferWhenBusy {
		fmt.Fprintln(w, "SYNC_WHEN_BUSY=defer: a sync that Intune refuses (409 while one runs, 429 within 10 minutes of the last) answers 202 deferred and is served by the next sync; ?defer=false refuses it instead.")
	}
	switch {
	case b.emu == nil:
		printSigningHelp(w, b.cfg)
		fmt.Fprintf(w, `Try:
  curl -i -X POST %[1]s/sync
  curl -i %[1]s/status
  curl -i -X PATCH -H 'Content-Type: application/json' -d '{"syncStatus":"completed"}' %[1]s/status
`, b.base)
	case b.speed > 1:
		fmt.Fprintln(w, speedNote(b.speed, b.syncDuration))
		printDeferralWalkThrough(w, b.base, b.speed)
	default:
		printWalkThrough(w, b.base, b.cfg.DeferWhenBusy)
	}
	fmt.Fprintln(w, "Ctrl-C stops.")
}

// speedNote is the banner's line about -speed N (N > 1).
func speedNote(speed int, syncDuration time.Duration) string {
	return fmt.Sprintf("The emulated clock runs %d× as fast as real time (-speed %d): Intune's 10 minutes pass in %s, a sync (-sync-duration %s) in %s.\n"+
		`Times in answers and callbacks are emulated; the log's "time" and the receiver's are real.`,
		speed, speed, realTime(10*time.Minute, speed), shortDuration(syncDuration), realTime(syncDuration, speed))
}

// realTime is how long d of a clock that runs speed times as fast takes in real time, as the
// banner says it: to a tenth of a second.
func realTime(d time.Duration, speed int) string {
	return shortDuration((d / time.Duration(speed)).Round(100 * time.Millisecond))
}

// shortDuration is d as time.Duration prints it, without zero seconds or minutes after a larger
// unit (1m, not 1m0s), as a person types it.
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, zero := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, zero) {
			s = s[:len(s)-2]
		}
	}
	return s
}

// printWalkThrough prints the emulator's walk-through at real speed: lines to paste in the order
// given, each with the answer it gets on a fresh emulator. One sync is followed to its end and
// its outcome sent to the receiver; a PATCH that ended it early would leave lastSyncDateTime
// before it, and the follow-up would wait an hour for it, so the PATCH comes last and lifts the
// 10-minute wait instead. With SYNC_WHEN_BUSY=defer the refused syncs ask ?defer=false, so that
// they are refused as the lines say. TestWalkThrough does what the lines say.
func printWalkThrough(w io.Writer, base string, deferWhenBusy bool) {
	refused := base + "/sync"
	if deferWhenBusy {
		refused = "'" + base + "/sync?defer=false'"
	}
	fmt.Fprintf(w, `Try, in this order (an emulated sync runs -sync-duration, 1m by default; Intune allows a sync 10 minutes after the last):
  go run ./cmd/local -receive 127.0.0.1:9000   # in another terminal: it prints the sync's outcome
  curl -i -X POST -d '{"callbackUrl":"http://127.0.0.1:9000/done"}' %[1]s/sync   # 202 started, followed to its end
  curl -i -X POST %[2]s   # 409 syncInProgress while it runs
  curl -i %[1]s/status   # 200 inProgress while it runs
Once it has ended (the receiver prints the outcome FOLLOWUP_FIRST_CHECK, 60s by default, after the sync, or at a later check):
  curl -i -X POST %[2]s   # 429 syncThrottled until 10 minutes after the last
  curl -i -X PATCH -H 'Content-Type: application/json' -d '{"lastManualSyncTriggerDateTime":"2020-01-01T00:00:00Z"}' %[1]s/status   # 200 completed; the emulator's 10-minute wait is over: start again from the first curl
Deferred syncs and devices followed to ready wait for Intune's 10 minutes: go run ./cmd/local -speed 20 runs the clock 20× as fast and walks through them in about a minute.
`, base, refused)
}

// printDeferralWalkThrough prints the walk-through of deferred syncs (SPEC §16) and of devices
// followed to ready (SPEC §15, §17) on a clock that runs speed (> 1) times as fast: a sync, then
// two requests deferred to the next sync with their outcomes sent to the receiver, a request with
// a seeded serial number and an import of two seeded serial numbers (seed.go). The next sync is
// allowed 10 minutes after the first; then one waiting request's check triggers it and the
// others merge into it. The serial, registered by the first sync, is then ready; the imported
// device that completes is registered by that second sync and assigned a few minutes later, the
// other is registered to another tenant. TestWalkThroughDeferred does what the lines say.
func printDeferralWalkThrough(w io.Writer, base string, speed int) {
	fmt.Fprintf(w, `Try deferred syncs and devices, in this order:
  go run ./cmd/local -receive 127.0.0.1:9000   # in another terminal: it prints each outcome
  curl -i -X POST %[1]s/sync   # 202 started
  curl -i -X POST -d '{"callbackUrl":"http://127.0.0.1:9000/a"}' '%[1]s/sync?defer=true'   # 202 deferred to the next sync; syncAt says when it looks again
  curl -i -X POST -d '{"callbackUrl":"http://127.0.0.1:9000/b"}' '%[1]s/sync?defer=true'   # 202 deferred as well
  curl -i -X POST -d '{"serials":["%[3]s"],"callbackUrl":"http://127.0.0.1:9000/ready"}' %[1]s/sync   # 202 deferred: serials wait for the next sync, then are followed to ready
  curl -i -X POST -d '{"devices":[{"serialNumber":"%[4]s","hardwareHash":"%[6]s"},{"serialNumber":"%[5]s","hardwareHash":"%[7]s"}],"callbackUrl":"http://127.0.0.1:9000/import"}' %[1]s/sync   # 202 importing: imported, then synced, then followed to ready
Then, %[2]s after the first sync (10 emulated minutes), the log shows one waiting request's check start the next sync ("action":"followUp" with "outcome":"started") and the others' merge into it ("outcome":"merged"); once that sync has ended, the receiver prints its completed outcome twice, to /a and to /b, and autopilot.devices.ready to /ready (%[3]s, registered by the first sync, has its profile).
Within %[8]s of the first sync (20 emulated minutes), the receiver prints autopilot.devices.notReady to /import: %[4]s assigned (imported, registered by the second sync), %[5]s importFailed (808 ZtdDeviceAssignedToOtherTenant).
`, base, realTime(10*time.Minute, speed), serialSyncThenAssigned, serialImportOK, serialOtherTenant, demoHashes[0], demoHashes[1], realTime(20*time.Minute, speed))
}

// printSigningHelp shows how to sign a test request for each configured caller check (SPEC §6).
// It names the Key Vault secrets; it never reads or prints their values.
func printSigningHelp(w io.Writer, cfg config.Config) {
	if !cfg.AuthSchemesConfigured() {
		if !cfg.AllowUnauthenticated {
			fmt.Fprintln(w, "No caller check is configured and ALLOW_UNAUTHENTICATED is not true: every request will answer 401.")
		}
		return
	}
	fmt.Fprintln(w, "Sign test requests with the secrets from Key Vault (SECRET holds the secret's value, BODY the exact body):")
	if n := cfg.WebhookTokenSecretName; n != "" {
		fmt.Fprintf(w, "  token (%s):  curl -X POST -H \"Authorization: Bearer $SECRET\" URL\n", n)
	}
	if n := cfg.WebhookHMACSecretName; n != "" {
		fmt.Fprintf(w, "  HMAC (%s):   curl -X POST -H \"X-Hub-Signature-256: sha256=$(printf '%%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" | awk '{print $NF}')\" --data-binary \"$BODY\" URL\n", n)
	}
	if n := cfg.SlackSigningSecretName; n != "" {
		fmt.Fprintf(w, "  Slack (%s):  TS=$(date +%%s); X-Slack-Request-Timestamp: $TS, X-Slack-Signature: v0=hex(HMAC-SHA256($SECRET, \"v0:$TS:$BODY\"))\n", n)
	}
	if n := cfg.TeamsWebhookSecretName; n != "" {
		fmt.Fprintf(w, "  Teams (%s):  Authorization: HMAC base64(HMAC-SHA256(base64decode($SECRET), $BODY))\n", n)
	}
}
