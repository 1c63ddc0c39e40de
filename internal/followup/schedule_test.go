package followup

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first, maxAge string
		want          Schedule
		wantErr       []string // each must appear in the error
	}{
		{"", "", DefaultSchedule(), nil},
		{"  ", "", DefaultSchedule(), nil},
		{"30s", "2h", Schedule{30 * time.Second, 2 * time.Hour}, nil},
		{"1s", "1s", Schedule{time.Second, time.Second}, nil},
		{"900s", "12h", Schedule{900 * time.Second, 12 * time.Hour}, nil},
		{"15m", "720m", Schedule{15 * time.Minute, 12 * time.Hour}, nil},
		{"45", "3600", Schedule{45 * time.Second, time.Hour}, nil},
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
			got, err := ParseSchedule(tt.first, tt.maxAge)
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

func TestDelays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want int32
	}{
		{-time.Second, 0}, {0, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2},
		{900 * time.Second, 900}, {901 * time.Second, 900}, {time.Duration(1<<63 - 1), 900},
	} {
		if got := DelaySeconds(tt.d); got != tt.want {
			t.Errorf("DelaySeconds(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
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
