// Package notify tells the targets of SPEC §13 how a followed sync ended: a Slack slash
// command's response_url, a Teams Workflows URL and HTTP callbacks, the last signed as
// Standard Webhooks 1.0 says.
//
// It holds:
//
//   - the rules for target URLs: MatchCallback checks a callbackUrl against the urlPrefix
//     entries of CALLBACK_TARGETS_SECRET_NAME (ParseCallbackTargets), MatchSlack a response_url
//     against SLACK_RESPONSE_URL_PREFIXES (ParseSlackPrefixes), and their errors are fit for a
//     400 detail. URLs must be https, ASCII (an international host name is compared in its
//     xn-- form, never mapped, so no two spellings name one host), at most 2 KB, without user
//     info, fragment, percent-encoded host, backslash, encoded slash, %25, or path segment
//     that a server reads as . or .. (also ..; and %2e%2e), and are compared by scheme, host,
//     effective port and path prefix, not as strings;
//
//   - the bodies: SlackBody, TeamsBody (an Adaptive Card 1.4) and CallbackBody, in plain words
//     with echoed text escaped for each platform's markup;
//
//   - Signer, on the Standard Webhooks reference library (160 lines, standard library only),
//     tested against the test vector its libraries share;
//
//   - Sender, which delivers a followup.Notice through an outbound client.
//
//   - VaultSecrets, which reads the targets' secrets through a SecretReader (the Key Vault store)
//     and checks each value as it is read.
//
// Header values, the Teams URL, response_urls and callback URLs are secrets for logging
// purposes: no error of this package contains one, and a Prefix prints as its host only.
// The package never reads the environment, never logs, and never retries (followup plans the
// retries).
package notify
