// Package diagnose checks every link of a function's chain (SPEC §4, §14) and says, for each
// broken one, the command that mends it: Run performs the checks in order (configuration,
// keyVaultToken, graphCredential, callerSecrets, graphToken, graphRead, and with a tenant
// registry one set per tenant) and returns a Report, which the functions answer to the direct
// invocation {"action":"diagnose"} and cmd/local prints for -diagnose. fixes.go holds the fix
// texts, with the vault, secret and app ids of the configuration filled in.
//
// Each run builds its own credentials and Key Vault client, so it sees the services as they are
// now and not what a warm function has cached. It never starts a sync and never writes to Graph
// or Key Vault: it asks Entra ID for tokens, and sends GET requests to Key Vault and Graph only.
// It never shows a secret value, a token or a signature: a Graph token's payload is decoded only
// to read its roles, an AWS STS token's only to read its subject (the role ARN a fix names).
package diagnose
