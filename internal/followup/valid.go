package followup

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The checks of a message's fields (Message.validate).

// sane reports whether t is set and between the years 2000 and 9998 (JSON cannot encode a
// time past 9999, and a time derived from it must stay encodable).
func sane(t time.Time) bool {
	return !t.IsZero() && t.Year() >= 2000 && t.Year() <= 9998
}

// validName reports whether s is at most limit ASCII letters, digits, '-' and extra.
func validName(s string, limit int, extra string) bool {
	if len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// validText reports whether s is at most maxTextLength printable ASCII characters.
func validText(s string) bool {
	if len(s) > maxTextLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validURL checks a target URL: empty, or an absolute https URL (http too when plainOK, for
// cmd/local's loopback callbacks) of printable ASCII, at most MaxURLBytes long. Delivery checks
// it again against the configured prefixes.
func validURL(s string, plainOK bool) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxURLBytes {
		return fmt.Errorf("is longer than %d bytes", MaxURLBytes)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return errors.New("holds a character that is not printable ASCII")
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || plainOK && u.Scheme == "http") {
		return errors.New("is not an absolute https URL")
	}
	return nil
}

// clip shortens a field name quoted in an error.
func clip(s string) string {
	const limit = 40
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
