package entra

// One tenant discovery per process and tenant (issue 17). MSAL fetches a tenant's OpenID
// configuration once per credential instance, before its first token request; the identity
// that reads Key Vault and the Graph app usually live in the same tenant, so the second fetch
// costs a round trip for the same public document.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/sync/singleflight"
)

// discoveryPath ends the URL of a tenant's OpenID configuration (tenant discovery).
const discoveryPath = "/.well-known/openid-configuration"

// maxDiscoveryBytes bounds a discovery document kept in memory (Entra's are about 1.7 kB).
const maxDiscoveryBytes = 64 << 10

// ShareDiscovery returns a transport that sends requests with next, except that a tenant's
// OpenID configuration (GET …/.well-known/openid-configuration) is fetched once per URL for the
// life of the returned transport: every credential built on it shares the first 200 answer,
// and concurrent fetches share one request. Other answers are passed on and not kept. The
// document is public (endpoints and issuer, no secret). nil next means Go's default client.
func ShareDiscovery(next policy.Transporter) policy.Transporter {
	if next == nil {
		next = http.DefaultClient
	}
	return &discoveryCache{next: next, docs: map[string]*document{}}
}

type discoveryCache struct {
	next    policy.Transporter
	flights singleflight.Group

	mu   sync.Mutex
	docs map[string]*document // URL → 200 answer
}

// document is one answer, kept whole.
type document struct {
	status int
	header http.Header
	body   []byte
}

// Do sends req, answering discovery from memory when it can.
func (c *discoveryCache) Do(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, discoveryPath) {
		return c.next.Do(req)
	}
	key := req.URL.String()
	c.mu.Lock()
	doc := c.docs[key]
	c.mu.Unlock()
	if doc == nil {
		v, err, _ := c.flights.Do(key, func() (any, error) { return c.fetch(req, key) })
		if err != nil {
			return nil, err
		}
		doc = v.(*document)
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", doc.status, http.StatusText(doc.status)), StatusCode: doc.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: doc.header.Clone(), Body: io.NopCloser(bytes.NewReader(doc.body)),
		ContentLength: int64(len(doc.body)), Request: req,
	}, nil
}

// fetch sends req and reads its answer whole, keeping a 200 under key.
func (c *discoveryCache) fetch(req *http.Request, key string) (*document, error) {
	resp, err := c.next.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tenant discovery: read answer: %w", err)
	}
	if len(body) > maxDiscoveryBytes {
		return nil, fmt.Errorf("tenant discovery: answer larger than %d bytes", maxDiscoveryBytes)
	}
	doc := &document{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	if resp.StatusCode == http.StatusOK {
		c.mu.Lock()
		c.docs[key] = doc
		c.mu.Unlock()
	}
	return doc, nil
}
