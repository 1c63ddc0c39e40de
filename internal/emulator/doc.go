// Package emulator is a loopback emulator of the three Microsoft services that
// autopilot-sync talks to: Entra ID (OpenID discovery and the OAuth 2.0 token
// endpoint, client-secret and certificate-assertion flows), Azure Key Vault
// (secret reads behind the bearer challenge) and the Microsoft Graph beta
// resources deviceManagement/windowsAutopilotSettings with its sync action and
// deviceManagement/windowsAutopilotDeviceIdentities (filtered and paged as the
// service does, failures included; devices pending registration appear after
// the next completed sync and get their profile after a scripted delay), and
// deviceManagement/importedWindowsAutopilotDeviceIdentities (import, read, delete,
// with outcomes scripted per serial or per hash).
//
// It exists for tests (in-process, or as the backend of Lambda binaries run in
// subprocesses, which trust it through SSL_CERT_FILE and WriteCAFile) and for
// the local development server in cmd/local. It serves HTTPS on 127.0.0.1 only,
// with a certificate from a CA generated in memory at Start, and answers with
// the status codes, headers and error bodies of the real services, including
// the sync state machine (204, 409 while in progress, 429 within ten minutes of
// the previous manual sync) driven by an injectable Clock. Faults (statuses,
// delays, holds released by the test, hangs, connection resets) can be
// injected per service, and tell the test when a request has reached them.
//
// Its certificate also names the Entra and Graph hosts of every national cloud
// (login.microsoftonline.us, graph.microsoft.us, dod-graph.microsoft.us,
// login.chinacloudapi.cn, microsoftgraph.chinacloudapi.cn) and the global ones:
// a client that reaches it through StartProxy, a CONNECT proxy that tunnels
// every host to the emulator, talks to "graph.microsoft.us" for real. Issuers
// follow the host a request was sent to, and no token crosses clouds or hosts
// (clouds.go).
//
// Files: emulator.go (Start, Close, addresses, routing), state.go (apps,
// secrets, settings, counters), seed.go, faults.go, link.go (a forwarder with a network's
// latency that closes or blackholes its connections on command), entra.go, federation.go
// (federated identity credentials), vault.go, graph.go, devices.go (Windows Autopilot
// device identities), registration.go (registration and profile assignment over
// time), imports.go and importapi.go (imports of devices), clouds.go, proxy.go,
// clock.go, tokens.go (JWT-shaped access tokens with the app's roles, roles
// changed after registration, disabled secrets). Beside it: package emutest starts a seeded emulator for a test,
// package fakests is the fake AWS STS whose tokens federation.go checks.
//
// It holds no package-level state: everything lives in an Emulator. It never
// contacts the network beyond its own listener (and the issuers of federated
// credentials a test registers), never persists anything, never logs secret
// values or tokens, and must never be imported by production Lambda code.
package emulator
