package followup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
)

// Defaults and bounds of SPEC §13.
const (
	DefaultFirstCheck = 60 * time.Second
	DefaultMaxAge     = 60 * time.Minute
	MinFirstCheck     = time.Second
	MaxFirstCheck     = 900 * time.Second
	MinMaxAge         = time.Second
	MaxMaxAge         = 12 * time.Hour

	// Defaults and bounds of SPEC §15's device checks.
	DefaultDeviceCheckInterval = 5 * time.Minute
	DefaultDeviceMaxAge        = 4 * time.Hour
	MinDeviceCheckInterval     = time.Minute
	MaxDeviceCheckInterval     = 15 * time.Minute
	MinDeviceMaxAge            = time.Minute
	MaxDeviceMaxAge            = 24 * time.Hour

	// MaxDelay is the longest delay SQS takes for one message (DelaySeconds ≤ 900).
	MaxDelay = 900 * time.Second
	// FinishSkew is how much older than the request a lastSyncDateTime may be and still count
	// as the sync's end (clocks of Intune and the function).
	FinishSkew = autopilot.ClockSkew
	// SlackNoticeAfter is when a Slack user whose sync has not finished is told it still runs.
	SlackNoticeAfter = 29 * time.Minute
	// SlackExpiry is how long Slack honours a response_url.
	SlackExpiry = 30 * time.Minute
	// DeliveryWindow is how long after the outcome failed deliveries are tried again.
	DeliveryWindow = time.Hour
)

// backoff holds the delays after the first, second, … check or delivery round; the last one
// repeats.
var backoff = [...]time.Duration{60 * time.Second, 120 * time.Second, 240 * time.Second, 480 * time.Second, 900 * time.Second}

// after returns the backoff delay after try n (n ≥ 1).
func after(n int) time.Duration {
	switch {
	case n < 1:
		n = 1
	case n > len(backoff):
		n = len(backoff)
	}
	return backoff[n-1]
}

// Schedule is the configured timing of follow-ups.
type Schedule struct {
	// FirstCheck is the delay of the first check (FOLLOWUP_FIRST_CHECK).
	FirstCheck time.Duration
	// MaxAge is how long after the request the outcome becomes timedOut (FOLLOWUP_MAX_AGE).
	MaxAge time.Duration
	// DeviceCheckInterval is the longest wait between two readiness checks
	// (DEVICE_CHECK_INTERVAL), and DeviceMaxAge how long after the request serials are followed
	// (DEVICE_MAX_AGE): for a request with serials it bounds everything (SPEC §15).
	DeviceCheckInterval time.Duration
	DeviceMaxAge        time.Duration
}

// ScheduleValues are the variables of a Schedule as the environment gives them ("" means the
// default).
type ScheduleValues struct {
	FirstCheck, MaxAge, DeviceCheckInterval, DeviceMaxAge string
}

// DefaultSchedule returns the schedule of unset variables.
func DefaultSchedule() Schedule {
	return Schedule{FirstCheck: DefaultFirstCheck, MaxAge: DefaultMaxAge,
		DeviceCheckInterval: DefaultDeviceCheckInterval, DeviceMaxAge: DefaultDeviceMaxAge}
}

// maxAge is how long after the request m is followed: DeviceMaxAge for a request with serials.
func (s Schedule) maxAge(m Message) time.Duration {
	if len(m.Serials) > 0 {
		return s.DeviceMaxAge
	}
	return s.MaxAge
}

// ParseSchedule reads the values of FOLLOWUP_FIRST_CHECK, FOLLOWUP_MAX_AGE,
// DEVICE_CHECK_INTERVAL and DEVICE_MAX_AGE. A value is a Go duration ("60s", "5m", "1h30m") or a
// number of seconds. It returns every problem at once, each naming its variable.
func ParseSchedule(v ScheduleValues) (Schedule, error) {
	s := DefaultSchedule()
	var errs []error
	read := func(name, value string, lo, hi time.Duration, to *time.Duration) {
		if value = strings.TrimSpace(value); value == "" {
			return
		}
		d, err := parseDuration(name, value, lo, hi)
		if err != nil {
			errs = append(errs, err)
			return
		}
		*to = d
	}
	if v := strings.TrimSpace(v.FirstCheck); v != "" {
		d, err := parseDuration("FOLLOWUP_FIRST_CHECK", v, MinFirstCheck, MaxFirstCheck)
		switch {
		case err != nil:
			errs = append(errs, err)
		case d%time.Second != 0:
			errs = append(errs, fmt.Errorf("FOLLOWUP_FIRST_CHECK: %s is not a whole number of seconds (SQS delays are)", d))
		default:
			s.FirstCheck = d
		}
	}
	read("FOLLOWUP_MAX_AGE", v.MaxAge, MinMaxAge, MaxMaxAge, &s.MaxAge)
	read("DEVICE_CHECK_INTERVAL", v.DeviceCheckInterval, MinDeviceCheckInterval, MaxDeviceCheckInterval, &s.DeviceCheckInterval)
	read("DEVICE_MAX_AGE", v.DeviceMaxAge, MinDeviceMaxAge, MaxDeviceMaxAge, &s.DeviceMaxAge)
	return s, errors.Join(errs...)
}

func parseDuration(name, v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil {
			return 0, fmt.Errorf("%s: %q is not a duration such as 60s or 5m", name, v)
		}
		if n < 0 || n > int64(hi/time.Second) {
			return 0, fmt.Errorf("%s: %s s is out of range %s to %s", name, v, lo, hi)
		}
		d = time.Duration(n) * time.Second
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s: %s is out of range %s to %s", name, d, lo, hi)
	}
	return d, nil
}

// FirstDelay is the delay of a follow-up's first message: FirstCheck, never past MaxAge.
func (s Schedule) FirstDelay() time.Duration {
	return queueDelay(min(s.FirstCheck, s.MaxAge))
}

// queueDelay rounds d up to whole seconds, at least 1 s and at most MaxDelay, so that a
// message never comes back before its time and a check never loops without a pause.
func queueDelay(d time.Duration) time.Duration {
	if d >= MaxDelay {
		return MaxDelay
	}
	return max((d+time.Second-1)/time.Second*time.Second, time.Second)
}
