package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The test vector shared by the Standard Webhooks reference libraries (Go, C#, Elixir, …).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignerTestVector(t *testing.T) {
	t.Parallel()
	s, err := ParseSigningSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Headers(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"webhook-id":        vectorID,
		"webhook-timestamp": "1614265330",
		"webhook-signature": vectorSignature,
	}
	for name, value := range want {
		if got := h[name]; got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers = %v, want exactly %v", h, want)
	}
}

// TestSignerMatchesTheSpec recomputes the signature of SPEC §13 with crypto/hmac alone and
// verifies it with the reference library, as a receiver would.
func TestSignerMatchesTheSpec(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	s, err := ParseSigningSecret(" " + secret + "\n")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 15, 4, 5, 0, time.UTC)
	body := []byte(`{"type":"autopilot.sync.completed"}`)
	h, err := s.Headers("f-1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "f-1.%d.%s", at.Unix(), body)
	if got, want := h["webhook-signature"], "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{}
	for name, value := range h {
		header.Set(name, value)
	}
	if err := wh.VerifyIgnoringTimestamp(body, header); err != nil {
		t.Errorf("a receiver refuses the signature: %v", err)
	}
}

func TestParseSigningSecretRefuses(t *testing.T) {
	t.Parallel()
	for name, secret := range map[string]string{
		"empty":          "",
		"no prefix":      base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s3cr3t", 5))),
		"another prefix": "whsk_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s3cr3t", 5))),
		"not base64":     "whsec_s3cr3t!!",
		"too short":      "whsec_" + base64.StdEncoding.EncodeToString([]byte("s3cr3t-s3cr3t")),
		"too long":       "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s3cr3t", 11))),
		"only a prefix":  "whsec_",
	} {
		s, err := ParseSigningSecret(secret)
		if err == nil || s != nil {
			t.Errorf("%s: ParseSigningSecret accepted it", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") || (len(secret) > 8 && strings.Contains(err.Error(), secret[6:])) {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
}

func TestSignerPrintsNoKey(t *testing.T) {
	t.Parallel()
	s, err := ParseSigningSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%v %+v %#v %s", s, s, s, s); strings.Contains(got, "MfKQ") || strings.Contains(got, "0x") {
		t.Errorf("printed %s", got)
	}
}
