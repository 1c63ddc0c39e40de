// Package autopilotsync holds the project's HTTP API contract, openapi.yaml (OpenAPI 3.1), for
// the local server that serves it and the tests that check every answer against it.
package autopilotsync

import _ "embed"

// OpenAPI is openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
