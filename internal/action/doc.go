// Package action is what the two functions do: the action table (Table: one row per action of
// SPEC §12, each with every way a source selects it, the query parameters and chat words it reads,
// whether it runs when the configuration is broken, and its handler), the handlers, and the typed
// result each returns. A result renders itself: its HTTP answer, its chat words, its Lambda result
// or error, and its fields and metrics on the invocation line; the edge (package api) only picks
// the rendering its source needs.
//
// Adding an action is a handler and its result in a file of their own, and one row. Handlers talk
// to Graph only through an Intune's Do (a tenant.Tenant, with rotation) and the graph.Client's
// methods; their errors arrive already coded (problem.Of). The package never reads an event, a
// header or the environment, never checks a caller (package api and webhook do), and never puts an
// error's text into an answer.
package action
