package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/autopilot-sync/autopilot-sync/internal/api"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// ownHosts are the host:port spellings that name this server, as a Host header or in an Origin.
type ownHosts struct {
	listen string          // the address listened on, for the refusal's detail
	names  map[string]bool // host:port, lower case
	// anyIPPort, when not "", is the port of a server bound to an unspecified address (0.0.0.0,
	// [::]): any IP address on that port names it.
	anyIPPort string
}

// newOwnHosts returns the spellings that name a server listening on addr: addr itself; for a
// loopback address, also localhost and the other loopback spelling; for an unspecified address,
// also localhost, hostname (this machine's name, "" for none) and every IP address, each on
// addr's port.
//
// A page whose host name an attacker re-points at the server's address (DNS rebinding) sends its
// own name as Host and is refused. A name is what such a page needs: a browser that is sent to an
// IP address reaches the machine at that address, so the page it runs came from this server, which
// serves none. Any IP address, not only those of this machine's interfaces, so that a server behind
// NAT or a container's published port answers the address its callers dial, and one whose
// interfaces change after it started still answers.
func newOwnHosts(addr net.Addr, hostname string) ownHosts {
	own := ownHosts{listen: addr.String(), names: map[string]bool{strings.ToLower(addr.String()): true}}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return own
	}
	port := strconv.Itoa(tcp.Port)
	var also []string
	switch {
	case tcp.IP.IsLoopback():
		also = []string{"localhost", "127.0.0.1", "[::1]"}
	case tcp.IP.IsUnspecified():
		also = []string{"localhost"}
		if hostname != "" {
			also = append(also, hostname)
		}
		own.anyIPPort = port
		own.listen = "this machine on port " + port
	}
	for _, h := range also {
		own.names[strings.ToLower(h)+":"+port] = true
	}
	return own
}

// has reports whether hostport (a Host header, or an Origin's host) names the server.
func (o ownHosts) has(hostport string) bool {
	hostport = strings.ToLower(hostport)
	if o.names[hostport] {
		return true
	}
	if o.anyIPPort == "" {
		return false
	}
	host, port, err := net.SplitHostPort(hostport)
	return err == nil && port == o.anyIPPort && net.ParseIP(host) != nil
}

// fromAnotherSite reports whether a browser says that r comes from a page that is not this
// server's: Sec-Fetch-Site cross-site or same-site (same-site covers every other port of the same
// host), or an Origin header that is not http:// and a spelling of own. A request with neither
// header, as curl and scripts send it, is from no site.
func (o ownHosts) fromAnotherSite(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-Fetch-Site") {
		if v = strings.ToLower(strings.TrimSpace(v)); v == "cross-site" || v == "same-site" {
			return true
		}
	}
	for _, v := range r.Header.Values("Origin") {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || u.Scheme != "http" || u.Opaque != "" || u.User != nil || u.Path != "" ||
			u.RawQuery != "" || u.Fragment != "" || !o.has(u.Host) {
			return true
		}
	}
	return false
}

// guard passes on a request only when it is addressed to the server (its Host is one of own,
// else 400 badRequest) and does not come from a page of another site (else 403 forbidden), whatever
// the configuration. A page on any site can make a browser send a request without a CORS
// preflight (a form, or fetch with a text/plain body) to a server on loopback: it could start
// syncs, and on the emulator send their outcome to any loopback port. The refusals are problems
// that echo nothing of the request.
func guard(own ownHosts, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !own.has(r.Host):
			api.WriteProblem(w, problem.New(problem.BadRequest, "This server answers only requests addressed to "+own.listen+" (the Host header)."))
		case own.fromAnotherSite(r):
			api.WriteProblem(w, problem.New(problem.Forbidden, "This server answers no request from a web page of another site (the Origin or Sec-Fetch-Site header); call it from curl or a script."))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// requireLoopback refuses addr, the value of flagName, unless it is on loopback; why says what
// would make a wider address unsafe.
func requireLoopback(flagName, addr, why string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", flagName, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q: %s, so it listens on loopback only (127.0.0.1, ::1 or localhost)", flagName, addr, why)
}
