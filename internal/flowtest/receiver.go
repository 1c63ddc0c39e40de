package flowtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// maxCallbackBytes bounds what the receiver reads of a callback body.
const maxCallbackBytes = 1 << 20

// Callback is one callback the receiver got: its webhook-id (the follow-up's id), the path under
// the receiver, the header and body as sent, and the Flow's clock when it came.
type Callback struct {
	ID     string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
	// Type is the body's "type" (autopilot.sync.completed, autopilot.devices.ready, …).
	Type string
}

// Decode decodes the callback's body into v.
func (c Callback) Decode(v any) error { return json.Unmarshal(c.Body, v) }

// receiver is the callback receiver: it answers 204 and keeps every callback, by webhook-id.
type receiver struct {
	clock Clock

	mu      sync.Mutex
	all     []Callback
	byID    map[string][]int // indexes into all
	invalid []string
}

func (c *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBytes))
	var head struct {
		Type string `json:"type"`
	}
	if err == nil {
		err = json.Unmarshal(body, &head)
	}
	id := r.Header.Get("webhook-id")
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || id == "" {
		c.invalid = append(c.invalid, fmt.Sprintf("%s: webhook-id %q, %v", r.URL.Path, id, err))
	} else {
		c.byID[id] = append(c.byID[id], len(c.all))
		c.all = append(c.all, Callback{ID: id, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: c.clock.Now(), Type: head.Type})
	}
	w.WriteHeader(http.StatusNoContent)
}

// of returns the callbacks of a webhook-id, in the order they came.
func (c *receiver) of(id string) []Callback {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Callback, 0, len(c.byID[id]))
	for _, i := range c.byID[id] {
		out = append(out, c.all[i])
	}
	return out
}

// callbacks returns every callback, in the order they came.
func (c *receiver) callbacks() []Callback {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.all)
}

// err reports callbacks the receiver could not read.
func (c *receiver) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.invalid) > 0 {
		return fmt.Errorf("%d callbacks could not be read, the first: %s", len(c.invalid), c.invalid[0])
	}
	return nil
}

// startReceiver starts h over HTTPS on loopback with an ECDSA certificate of its own (httptest's
// RSA one makes each of the outbound client's handshakes cost a millisecond of CPU, and the
// outbound client keeps few idle connections).
func startReceiver(h http.Handler) (*httptest.Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callback receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // handshakes cut short by Close
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, CurvePreferences: []tls.CurveID{tls.X25519}}
	srv.StartTLS()
	return srv, nil
}
