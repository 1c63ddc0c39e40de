package chat

import (
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d       time.Duration
		in, ago string
	}{
		{-2 * time.Minute, "less than a minute", "less than a minute ago"},
		{0, "less than a minute", "less than a minute ago"},
		{59 * time.Second, "less than a minute", "less than a minute ago"},
		{time.Minute, "1 min", "1 min ago"},
		{61 * time.Second, "2 min", "1 min ago"},
		{59*time.Minute + time.Second, "1 h", "59 min ago"},
		{time.Hour, "1 h", "1 h ago"},
		{65 * time.Minute, "1 h 5 min", "1 h ago"},
		{23*time.Hour + 59*time.Minute, "23 h 59 min", "23 h ago"},
		{24 * time.Hour, "24 h", "1 day ago"},
		{50 * time.Hour, "50 h", "2 days ago"},
	}
	for _, tt := range tests {
		if got := In(tt.d); got != tt.in {
			t.Errorf("In(%v) = %q, want %q", tt.d, got, tt.in)
		}
		if got := Ago(tt.d); got != tt.ago {
			t.Errorf("Ago(%v) = %q, want %q", tt.d, got, tt.ago)
		}
	}
}
