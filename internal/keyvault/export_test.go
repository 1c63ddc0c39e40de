package keyvault

import "time"

// SetHooks sets test seams of s before it is used: missed runs when Get found nothing in memory
// (before it joins or starts a read), joined when a caller starts waiting for a read in flight.
func SetHooks(s *Store, missed, joined func(name string)) {
	s.hooks = hooks{missed: missed, joined: joined}
}

// SetReadTimeout replaces ReadTimeout for s; it must not be called while s is in use.
func SetReadTimeout(s *Store, d time.Duration) { s.readTimeout = d }
