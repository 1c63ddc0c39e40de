package followup

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	// sched is the default schedule with first check and max age set.
	sched := func(first, maxAge time.Duration) Schedule {
		s := DefaultSchedule()
		s.FirstCheck, s.MaxAge = first, maxAge
		return s
	}
	tests := []struct {
		first, maxAge string
		want          Schedule
		wantErr       []string // each must appear in the error
	}{
		{"", "", DefaultSchedule(), nil},
		{"  ", "", DefaultSchedule(), nil},
		{"30s", "2h", sched(30*time.Second, 2*time.Hour), nil},
		{"1s", "1s", sched(time.Second, time.Second), nil},
		{"900s", "12h", sched(900*time.Second, 12*time.Hour), nil},
		{"15m", "720m", sched(15*time.Minute, 12*time.Hour), nil},
		{"45", "3600", sched(45*time.Second, time.Hour), nil},
		{"0s", "", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "out of range"}},
		{"901s", "", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "out of range"}},
		{"1.5s", "", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "whole number of seconds"}},
		{"-5", "", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "out of range"}},
		{"soon", "", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "not a duration"}},
		{"", "13h", DefaultSchedule(), []string{"FOLLOWUP_MAX_AGE", "out of range"}},
		{"", "500ms", DefaultSchedule(), []string{"FOLLOWUP_MAX_AGE", "out of range"}},
		{"", "99999999999999999999", DefaultSchedule(), []string{"FOLLOWUP_MAX_AGE", "not a duration"}},
		{"x", "y", DefaultSchedule(), []string{"FOLLOWUP_FIRST_CHECK", "FOLLOWUP_MAX_AGE"}},
	}
	for _, tt := range tests {
		t.Run(tt.first+"|"+tt.maxAge, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchedule(ScheduleValues{FirstCheck: tt.first, MaxAge: tt.maxAge})
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("schedule = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one mentioning %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseDeviceSchedule(t *testing.T) {
	t.Parallel()
	got, err := ParseSchedule(ScheduleValues{DeviceCheckInterval: "2m", DeviceMaxAge: "90m"})
	if err != nil || got.DeviceCheckInterval != 2*time.Minute || got.DeviceMaxAge != 90*time.Minute || got.MaxAge != DefaultMaxAge {
		t.Errorf("got %+v, %v", got, err)
	}
	if d := DefaultSchedule(); d.DeviceCheckInterval != 5*time.Minute || d.DeviceMaxAge != 4*time.Hour {
		t.Errorf("defaults %+v, want 5m and 4h (SPEC §3)", d)
	}
	for _, v := range []ScheduleValues{{DeviceCheckInterval: "59s"}, {DeviceCheckInterval: "16m"}, {DeviceMaxAge: "30s"}, {DeviceMaxAge: "25h"}, {DeviceMaxAge: "soon"}} {
		_, err := ParseSchedule(v)
		if name := map[bool]string{true: "DEVICE_CHECK_INTERVAL", false: "DEVICE_MAX_AGE"}[v.DeviceCheckInterval != ""]; err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%+v: err %v, want one naming %s", v, err, name)
		}
	}
}

func TestDelays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    Schedule
		want time.Duration
	}{
		{DefaultSchedule(), 60 * time.Second},
		{Schedule{FirstCheck: 900 * time.Second, MaxAge: 10 * time.Second}, 10 * time.Second},
		{Schedule{FirstCheck: time.Second, MaxAge: 12 * time.Hour}, time.Second},
	} {
		if got := tt.s.FirstDelay(); got != tt.want {
			t.Errorf("%+v.FirstDelay() = %s, want %s", tt.s, got, tt.want)
		}
	}
}
