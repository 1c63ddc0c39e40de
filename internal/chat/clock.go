package chat

import (
	"fmt"
	"math"
	"time"
)

// Past is the time of day of an event that happened, in UTC, to the minute (rounded down), with
// the date when it was not on now's day.
func Past(t, now time.Time) string { return clock(t.UTC().Truncate(time.Minute), now.UTC()) }

// Future is the time of day from which something is allowed, rounded up to the minute so that
// trying at the time shown never fails, with the date when it is not on now's day.
func Future(t, now time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Minute); r.Before(t) {
		t = r.Add(time.Minute)
	}
	return clock(t, now.UTC())
}

func clock(t, now time.Time) string {
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// In says how long until something, in minutes rounded up.
func In(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	return hoursMinutes(int(math.Ceil(d.Minutes())))
}

// Took says how long something took, in minutes rounded down.
func Took(d time.Duration) string {
	if d < time.Minute {
		return "less than a minute"
	}
	return hoursMinutes(int(d / time.Minute))
}

func hoursMinutes(minutes int) string {
	switch {
	case minutes < 60:
		return fmt.Sprintf("%d min", minutes)
	case minutes%60 == 0:
		return fmt.Sprintf("%d h", minutes/60)
	}
	return fmt.Sprintf("%d h %d min", minutes/60, minutes%60)
}

// Ago says how long since something, rounded down.
func Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 48*time.Hour:
		return "1 day ago"
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
