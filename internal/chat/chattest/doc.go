// Package chattest checks the chat messages the product sends against what the platforms
// publish: a Teams Workflows message against its envelope and its Adaptive Card against the
// official Adaptive Cards 1.4 JSON schema (embedded under testdata, see testdata/README.md), and
// a Slack message against Block Kit's documented block types and limits.
//
// It is test support only: tests of the packages that write messages (chat, notify, action)
// pass every message they build through CheckCard or CheckSlack. No function binary imports it,
// it never renders a message itself, and it never reaches the network (the schema is compiled
// from the embedded copy; the compiler loads no URL).
package chattest
