package emulator

// National clouds (SPEC §1): the emulator also answers as the real Entra and Graph hosts of each
// cloud (its certificate names them all), for clients that reach it through StartProxy. The
// issuer and token endpoint it announces follow the host a request was sent to, and no token
// crosses clouds: an authority issues tokens only for its own cloud's resources, and Graph
// accepts only tokens whose resource is its own host.

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Cloud names understood by SetTenantCloud.
const (
	CloudGlobal   = "global"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod" // shares usgov's authority
	CloudChina    = "china"
)

// cloudHosts are one cloud's Entra host, Graph hosts and other resource hosts.
type cloudHosts struct {
	name, login     string
	instance        string // cloud_instance_name of its OpenID configuration
	aliases         []string
	graph, resource []string
}

// knownClouds returns the clouds the emulator answers as, the global cloud first. It is a
// function, not a package variable, so that no caller can change the table.
func knownClouds() []cloudHosts {
	return []cloudHosts{
		{
			name: CloudGlobal, login: "login.microsoftonline.com", instance: "microsoftonline.com",
			aliases: []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"},
			graph:   []string{"graph.microsoft.com"}, resource: []string{"vault.azure.net", "management.azure.com"},
		},
		{
			name: CloudUSGov, login: "login.microsoftonline.us", instance: "microsoftonline.us",
			aliases: []string{"login.microsoftonline.us", "login.usgovcloudapi.net"},
			graph:   []string{"graph.microsoft.us", "dod-graph.microsoft.us"}, resource: []string{"vault.usgovcloudapi.net", "management.usgovcloudapi.net"},
		},
		{
			name: CloudChina, login: "login.chinacloudapi.cn", instance: "partner.microsoftonline.cn",
			aliases: []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"},
			graph:   []string{"microsoftgraph.chinacloudapi.cn"}, resource: []string{"vault.azure.cn", "management.chinacloudapi.cn"},
		},
	}
}

// cloudHostNames returns the DNS names the emulator's certificate carries besides localhost: the
// Entra and Graph hosts of every cloud.
func cloudHostNames() []string {
	var names []string
	for _, c := range knownClouds() {
		names = append(names, c.login)
		names = append(names, c.graph...)
	}
	return names
}

// hostOnly returns the host of a host[:port], lower-case.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.Trim(hostport, "[]"))
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loginCloud returns the cloud whose Entra host is host; the emulator's own loopback address is
// the global cloud's.
func loginCloud(host string) (cloudHosts, bool) {
	host = hostOnly(host)
	if isLoopbackHost(host) {
		return knownClouds()[0], true
	}
	for _, c := range knownClouds() {
		for _, a := range c.aliases {
			if a == host {
				return c, true
			}
		}
	}
	return cloudHosts{}, false
}

// resourceCloud returns the cloud a token resource ("https://graph.microsoft.us") belongs to;
// ok is false for resources of no known cloud (they are not checked).
func resourceCloud(resource string) (string, bool) {
	u, err := url.Parse(resource)
	if err != nil {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if isLoopbackHost(host) {
		return CloudGlobal, true
	}
	for _, c := range knownClouds() {
		for _, h := range append(append([]string(nil), c.graph...), c.resource...) {
			if h == host {
				return c.name, true
			}
		}
	}
	return "", false
}

// authorityRoot returns the Entra root a request was sent to: "https://login.microsoftonline.us"
// for a request to that host (through StartProxy), else the loopback address the request was sent
// to (the emulator's, or a Link's in front of it).
func (e *Emulator) authorityRoot(r *http.Request) string {
	host := hostOnly(r.Host)
	if _, ok := loginCloud(host); ok && !isLoopbackHost(host) {
		return "https://" + host
	}
	if isLoopbackHost(host) && r.Host != "" {
		// The emulator's own address, or a Link's in front of it: the issuer follows the address
		// the client was given, port included, as MSAL requires.
		return "https://" + r.Host
	}
	return e.url
}

// SetTenantCloud binds a tenant to a cloud (CloudGlobal, CloudUSGov, CloudUSGovDoD or CloudChina)
// as real tenants are: from then on, another cloud's Entra answers that the tenant does not exist
// (AADSTS90002). Tenants that were never bound are found in every cloud. It panics on an unknown
// cloud name.
func (e *Emulator) SetTenantCloud(tenantID, cloud string) {
	if cloud == CloudUSGovDoD {
		cloud = CloudUSGov
	}
	switch cloud {
	case CloudGlobal, CloudUSGov, CloudChina:
	default:
		panic(fmt.Sprintf("emulator: SetTenantCloud: unknown cloud %q", cloud))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tenantClouds == nil {
		e.tenantClouds = map[string]string{}
	}
	e.tenantClouds[strings.ToLower(tenantID)] = cloud
}

// wrongCloud reports whether tenant is bound to a cloud other than that of the Entra host of r.
func (e *Emulator) wrongCloud(r *http.Request, tenant string) bool {
	c, ok := loginCloud(r.Host)
	e.mu.Lock()
	bound, isBound := e.tenantClouds[strings.ToLower(tenant)]
	e.mu.Unlock()
	return isBound && (!ok || c.name != bound)
}

// crossCloudResource returns the AADSTS500011 description when the Entra host of r belongs to a
// cloud other than resource's, else "".
func crossCloudResource(r *http.Request, tenant, resource string) string {
	c, ok := loginCloud(r.Host)
	rc, known := resourceCloud(resource)
	if !ok || !known || rc == c.name {
		return ""
	}
	return fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s. "+
		"This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. "+
		"You might have sent your authentication request to the wrong tenant.", resource, tenant)
}

// instanceDiscoveryAnswer is Entra's /common/discovery/instance answer for the authority in the
// request's authorization_endpoint (or the request's own host): the tenant discovery endpoint on
// that authority and the alias sets of every cloud, which MSAL uses to accept an issuer on an
// alias host. ok is false for an authority of no known cloud (Entra answers invalid_instance).
func (e *Emulator) instanceDiscoveryAnswer(r *http.Request) (map[string]any, bool) {
	root, tenant := e.authorityRoot(r), "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		if err != nil || u.Scheme != "https" {
			return nil, false
		}
		if _, known := loginCloud(u.Host); !known {
			return nil, false
		}
		root = "https://" + u.Host
		if segs := strings.Split(strings.Trim(u.Path, "/"), "/"); len(segs) > 0 && segs[0] != "" {
			tenant = segs[0]
		}
	}
	self := strings.TrimPrefix(e.url, "https://")
	metadata := []any{map[string]any{"preferred_network": self, "preferred_cache": self, "aliases": []string{self}}}
	for _, c := range knownClouds() {
		metadata = append(metadata, map[string]any{"preferred_network": c.aliases[0], "preferred_cache": c.aliases[0], "aliases": c.aliases})
	}
	return map[string]any{
		"tenant_discovery_endpoint": root + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  metadata,
	}, true
}

// cloudOfRoot returns the cloud_instance_name and msgraph_host of an Entra root.
func cloudOfRoot(root string) (instance, graphHost string) {
	c, ok := loginCloud(strings.TrimPrefix(root, "https://"))
	if !ok {
		c = knownClouds()[0]
	}
	return c.instance, c.graph[0]
}
