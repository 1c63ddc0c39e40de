// Package graph is a small client for the Microsoft Graph (beta) resource
// windowsAutopilotSettings of an Intune tenant: read it, update it, and start a sync of Windows
// Autopilot devices.
//
// It runs on azcore's pipeline: tokens come from a runtime.BearerTokenPolicy scoped to the Graph
// host, retries from azcore's retry policy (429, 502, 503, 504 and transport errors for reads and
// updates; never 409 or 429 for a sync), and every request carries a fresh client-request-id.
// A non-2xx answer becomes a *Error. The package never reads configuration, never logs, and never
// retries a sync that Graph refused with 409 or 429.
//
// Microsoft Learn: https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotsettings?view=graph-rest-beta
package graph
