// Package chat speaks the two chat front doors of SPEC §7: Slack slash commands and Microsoft
// Teams outgoing webhooks. Parse recognises a chat request from its Content-Type and raw body
// and reads the command words in it (`sync`, `sync wait`, `status`, `help`, an optional tenant
// name of SPEC §11); Render turns what happened into the answer each platform shows, in plain
// words, for every outcome (409 and 429 included: chat callers always get HTTP 200).
//
// The package never checks who is calling (SPEC §6 does that before Parse's command is acted
// on), never talks to Graph, and never sees a token or a secret: the caller (package api) fills
// an Outcome from what Graph answered. User-controlled text is escaped in every answer.
package chat
