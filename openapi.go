// Package autopilotsync holds the project's data that the code embeds: the HTTP API contract,
// openapi.yaml (OpenAPI 3.1), for the local server that serves it and the tests that check every
// answer against it, and the sample invocation events of events/ for the tests and the
// benchmark. It holds data only, and no function binary imports it.
package autopilotsync

import _ "embed"

// OpenAPI is openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
