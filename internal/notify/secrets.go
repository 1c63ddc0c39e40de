package notify

import (
	"context"
	"fmt"

	"github.com/autopilot-sync/autopilot-sync/internal/config"
	"github.com/autopilot-sync/autopilot-sync/internal/keyvault"
)

// SecretReader reads a secret by name, cached as every secret is (*keyvault.Store).
type SecretReader interface {
	Get(ctx context.Context, name string) (keyvault.Secret, error)
}

// SecretNames are the Key Vault secret names of the follow-up's targets; an empty name is a
// target that is not configured.
type SecretNames struct {
	TeamsURL        string // TEAMS_NOTIFY_URL_SECRET_NAME
	CallbackTargets string // CALLBACK_TARGETS_SECRET_NAME
	CallbackSigning string // CALLBACK_SIGNING_SECRET_NAME
}

// VaultSecrets reads the follow-up's secrets from Key Vault and checks each as it is read. It is
// the Secrets of a Sender and what the sync checks a callbackUrl against. Its errors: a
// *keyvault.Error for a failed read, a *config.Error naming the variable and the secret for a
// value that is not usable, ErrNotConfigured for a name that is not set.
type VaultSecrets struct {
	Vault SecretReader
	Names SecretNames
}

func (s VaultSecrets) read(ctx context.Context, variable, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s: %w", variable, ErrNotConfigured)
	}
	secret, err := s.Vault.Get(ctx, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", variable, err)
	}
	return secret.Value, nil
}

// unusable names the variable and the secret of a value that cannot be used.
func unusable(variable, name string, err error) error {
	return &config.Error{Err: fmt.Errorf("%s: Key Vault secret %q: %w", variable, name, err)}
}

// TeamsURL returns the Workflows URL of TEAMS_NOTIFY_URL_SECRET_NAME (see ParseTeamsURL).
func (s VaultSecrets) TeamsURL(ctx context.Context) (Prefix, error) {
	v, err := s.read(ctx, "TEAMS_NOTIFY_URL_SECRET_NAME", s.Names.TeamsURL)
	if err != nil {
		return Prefix{}, err
	}
	p, err := ParseTeamsURL(v)
	if err != nil {
		return Prefix{}, unusable("TEAMS_NOTIFY_URL_SECRET_NAME", s.Names.TeamsURL, err)
	}
	return p, nil
}

// CallbackTargets returns the prefixes of CALLBACK_TARGETS_SECRET_NAME (see
// ParseCallbackTargets).
func (s VaultSecrets) CallbackTargets(ctx context.Context) ([]Prefix, error) {
	v, err := s.read(ctx, "CALLBACK_TARGETS_SECRET_NAME", s.Names.CallbackTargets)
	if err != nil {
		return nil, err
	}
	p, err := ParseCallbackTargets([]byte(v))
	if err != nil {
		return nil, unusable("CALLBACK_TARGETS_SECRET_NAME", s.Names.CallbackTargets, err)
	}
	return p, nil
}

// Signer returns the signer of CALLBACK_SIGNING_SECRET_NAME (see ParseSigningSecret).
func (s VaultSecrets) Signer(ctx context.Context) (*Signer, error) {
	v, err := s.read(ctx, "CALLBACK_SIGNING_SECRET_NAME", s.Names.CallbackSigning)
	if err != nil {
		return nil, err
	}
	signer, err := ParseSigningSecret(v)
	if err != nil {
		return nil, unusable("CALLBACK_SIGNING_SECRET_NAME", s.Names.CallbackSigning, err)
	}
	return signer, nil
}
