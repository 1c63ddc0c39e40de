// Package graph is a small client for the Microsoft Graph (beta) resources of Windows Autopilot in
// an Intune tenant: read and update windowsAutopilotSettings and start a sync of Windows Autopilot
// devices (graph.go), find the device identities of a serial number (devices.go), and import
// devices by hardware hash, read and delete the records of those imports (imports.go).
//
// It runs on azcore's pipeline: tokens come from a runtime.BearerTokenPolicy scoped to the Graph
// host, retries from azcore's retry policy (429, 502, 503, 504 and transport errors for reads,
// updates and deletes; never 409 or 429 for a sync; nothing at all for an import), and every
// request carries a fresh client-request-id. A non-2xx answer becomes a *Error. The package never
// reads configuration, never logs, never retries a sync that Graph refused with 409 or 429, never
// retries an import, and never follows an @odata.nextLink off the Graph host it was given (the
// pipeline would send it the token).
//
// Microsoft Learn: https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotsettings?view=graph-rest-beta
package graph
