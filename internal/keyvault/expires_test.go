package keyvault_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/emulator"
)

// TestExpires: a secret's exp attribute, as `az keyvault secret set --expires` sets it, comes
// back as Secret.Expires, also from memory; a secret without one has a zero Expires.
func TestExpires(t *testing.T) {
	t.Parallel()
	exp := time.Date(2027, 3, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name       string
		attributes string
		want       time.Time
	}{
		{"with exp", fmt.Sprintf(`{"enabled":true,"exp":%d}`, exp.Unix()), exp},
		{"without exp", `{"enabled":true}`, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, 15*time.Minute, nil)
			f.e.SetSecret("graph-credential", "value", "")
			f.e.AddFault(emulator.Fault{Service: emulator.Vault, Method: http.MethodGet, PathContains: "/secrets/graph-credential/", Status: http.StatusOK,
				Body: `{"value":"value","id":"` + f.e.VaultURL() + `secrets/graph-credential/0123","attributes":` + tc.attributes + `}`})
			for _, from := range []string{"the vault", "memory"} {
				got, err := f.s.Get(context.Background(), "graph-credential")
				if err != nil {
					t.Fatal(err)
				}
				if !got.Expires.Equal(tc.want) {
					t.Errorf("from %s: Expires = %v, want %v", from, got.Expires, tc.want)
				}
			}
		})
	}
}
