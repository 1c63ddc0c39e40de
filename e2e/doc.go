// Package e2e holds the end-to-end tests: the functions' real bootstrap binaries run under the
// AWS Lambda Runtime Interface Emulator (aws-lambda-rie, a tool of go.mod) and talk over HTTPS to
// the loopback emulator of Entra ID, Key Vault and Graph. It has no code of its own outside tests.
package e2e
