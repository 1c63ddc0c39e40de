// Package outbound is the one HTTP client for every request the functions send to an address a
// caller or an administrator chose (SPEC §13): a Slack response_url, a Teams Workflows URL, an
// HTTP callback. It makes such requests safe to send from inside AWS Lambda:
//
//   - The address actually dialled is checked, after DNS, on every connection
//     (net.Dialer.ControlContext with code.dny.dev/ssrf's IANA special-purpose registries):
//     loopback, private, shared, link-local, multicast, documentation and other special-purpose
//     addresses are refused, so a name that resolves to 127.0.0.1 (where the Lambda Runtime API
//     listens) or to 169.254.169.254 is refused just as the literal address is.
//   - The one exception is a Target whose URL has a literal IP address as its host and that the
//     configuration allowed as such (Target.LiteralIPAllowed: an administrator's explicit
//     choice). Exactly that address may then be dialled, unless it is a loopback, unspecified,
//     link-local or multicast address: those are never allowed, whoever asks (the Runtime API
//     and extensions listen on loopback; cloud metadata lives on link-local).
//   - Options.AllowLoopback (cmd/local on the embedded emulator only; off by default) allows
//     loopback addresses and plain http to a loopback host.
//   - No proxy variable applies (Transport.Proxy is nil: HTTPS_PROXY would bypass any dialer
//     check), redirects are never followed (the 3xx is the answer), at most 64 KiB of an answer
//     and of its headers is read, each Post gets at most 10 s, and a connection idle for more
//     than 90 s is never reused (Transport.IdleConnTimeout; Go compares wall-clock idle time at
//     reuse, so this holds after a Lambda thaw too).
//
// Errors never contain the URL: a response_url, a Teams URL and a callback URL are secrets for
// logging purposes, and header values are never seen by anything but the request.
//
// The package never retries (the follow-up queue does), never logs, and never reads
// configuration or secrets.
package outbound
