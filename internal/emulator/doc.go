// Package emulator is a loopback emulator of the three Microsoft services that
// autopilot-sync talks to: Entra ID (OpenID discovery and the OAuth 2.0 token
// endpoint, client-secret and certificate-assertion flows), Azure Key Vault
// (secret reads behind the bearer challenge) and the Microsoft Graph beta
// resource deviceManagement/windowsAutopilotSettings with its sync action.
//
// It exists for tests (in-process, or as the backend of Lambda binaries run in
// subprocesses, which trust it through SSL_CERT_FILE and WriteCAFile) and for
// the local development server in cmd/local. It serves HTTPS on 127.0.0.1 only,
// with a certificate from a CA generated in memory at Start, and answers with
// the status codes, headers and error bodies of the real services, including
// the sync state machine (204, 409 while in progress, 429 within ten minutes of
// the previous manual sync) driven by an injectable Clock. Faults (statuses,
// delays, hangs, connection resets) can be injected per service.
//
// Its certificate also names the Entra and Graph hosts of every national cloud
// (login.microsoftonline.us, graph.microsoft.us, dod-graph.microsoft.us,
// login.chinacloudapi.cn, microsoftgraph.chinacloudapi.cn) and the global ones:
// a client that reaches it through StartProxy, a CONNECT proxy that tunnels
// every host to the emulator, talks to "graph.microsoft.us" for real. Issuers
// follow the host a request was sent to, and no token crosses clouds or hosts
// (clouds.go).
//
// It never contacts the network beyond its own listener, never persists
// anything, never logs secret values or tokens, and must never be imported by
// production Lambda code.
package emulator
