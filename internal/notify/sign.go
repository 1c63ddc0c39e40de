package notify

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks headers.
const (
	HeaderWebhookID        = standardwebhooks.HeaderWebhookID
	HeaderWebhookTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderWebhookSignature = standardwebhooks.HeaderWebhookSignature
)

const (
	secretPrefix = "whsec_"
	// Standard Webhooks: a key of 24 to 64 bytes.
	minKeyBytes = 24
	maxKeyBytes = 64
)

// errSecretFormat is the one error a bad signing secret gets: it never shows any of it.
var errSecretFormat = errors.New(`the callback signing secret must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))`)

// Signer signs callbacks as Standard Webhooks 1.0 says, with the key of
// CALLBACK_SIGNING_SECRET_NAME. It prints as "Signer" only.
type Signer struct {
	wh *standardwebhooks.Webhook
}

// ParseSigningSecret reads a secret "whsec_<base64 key>" (surrounding spaces ignored).
func ParseSigningSecret(secret string) (*Signer, error) {
	encoded, ok := strings.CutPrefix(strings.TrimSpace(secret), secretPrefix)
	if !ok {
		return nil, errSecretFormat
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(key) < minKeyBytes || len(key) > maxKeyBytes {
		return nil, errSecretFormat
	}
	wh, err := standardwebhooks.NewWebhookRaw(key)
	if err != nil {
		return nil, errSecretFormat
	}
	return &Signer{wh: wh}, nil
}

// Headers returns the three signature headers of body sent at time at as message id:
// webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature "v1,<base64(HMAC-SHA256(key, id.timestamp.body))>".
func (s *Signer) Headers(id string, at time.Time, body []byte) (map[string]string, error) {
	signature, err := s.wh.Sign(id, at, body)
	if err != nil {
		return nil, errors.New("sign the callback: " + err.Error())
	}
	headers := idHeaders(id, at)
	headers[HeaderWebhookSignature] = signature
	return headers, nil
}

// idHeaders returns webhook-id and webhook-timestamp (Unix seconds), which every callback
// carries, signed or not.
func idHeaders(id string, at time.Time) map[string]string {
	return map[string]string{HeaderWebhookID: id, HeaderWebhookTimestamp: strconv.FormatInt(at.Unix(), 10)}
}

// String hides the key.
func (s *Signer) String() string { return "Signer" }

// GoString hides the key.
func (s *Signer) GoString() string { return "Signer" }
