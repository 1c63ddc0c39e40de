// Package chat speaks the two chat front doors of SPEC §7, Slack slash commands and Microsoft
// Teams outgoing webhooks, and the plain words every message of the product is written in.
//
// It reads a command (FromForm, FromActivity: the platform, the command word and the words after
// it; what they mean is declared by the action table), marks up plain words for each platform
// (Style: Slack mrkdwn, Teams messages, Adaptive Card text, with outside text made inert), says
// times and durations in words (Past, Future, In, Took, Ago), says what a problem means
// (ProblemWords), and assembles the answer each platform shows (SlackReply, TeamsReply) within
// its limits. The follow-up's notices (package notify) are written with the same styles, words
// and message types.
//
// The package never checks who is calling (SPEC §6 does that before a command is acted on),
// never talks to Graph, never decides what a word does, and never sees a token or a secret.
package chat
