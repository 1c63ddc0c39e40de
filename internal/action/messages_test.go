package action

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/chat"
	"github.com/autopilot-sync/autopilot-sync/internal/chat/chattest"
	"github.com/autopilot-sync/autopilot-sync/internal/diagnose"
	"github.com/autopilot-sync/autopilot-sync/internal/graph"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// message is one chat answer an action gives: a result as a handler returns it. silent marks
// the one result that answers with no words at all (Slack's SSL check gets an empty 200).
type message struct {
	name   string
	res    Result
	silent bool
}

// callerText is text written for the caller that holds every character Slack's mrkdwn or
// Teams' Markdown and HTML give a meaning to.
const callerText = "No tenant \"<!channel>&co\" in the registry; try `status contoso`, *a* _b_ [c](d) #e |f ~g \\h."

// messages is every chat message the actions send, by result type. A new result type, or a new
// shape of one, adds its rows here; TestEveryResultHasMessages fails while a Result type of the
// package has none, and failures holds a row for every problem code of SPEC §5.
func messages(t *testing.T) []message {
	t.Helper()
	long := strings.Repeat("tenant-name, ", 400) // 5,200 characters: clipped in Slack's section
	refused409 := withGraph(problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running."))
	refused409.LastManualSyncTriggerDateTime, refused409.SyncStatus = ptr(at(14, 58, 40)), "inProgress"
	refused429 := func(next *time.Time, retryAfter int) *problem.Problem {
		p := problem.New(problem.SyncThrottled, "Intune allows one manual sync every 10 minutes.")
		p.NextSyncAllowedAt, p.RetryAfterSeconds = next, retryAfter
		return p
	}
	longNote := problem.New(problem.GraphError, "")
	longNote.Graph = &problem.Graph{RequestID: strings.Repeat("r", 4000), ClientRequestID: "<&>", Date: "Sat, 28 Nov 2026 15:04:29 GMT"}
	running := autopilot.Status{SyncStatus: "inProgress", LastManualSyncTriggerDateTime: at(15, 4, 8)}
	completed := autopilot.Status{SyncStatus: "completed", LastSyncDateTime: at(15, 4, 25), LastManualSyncTriggerDateTime: at(15, 4, 10)}
	doc := autopilot.Status{SyncStatus: "completed", LastSyncDateTime: at(14, 10, 5), LastManualSyncTriggerDateTime: at(14, 0, 0),
		NextManualSyncAllowedAt: ptr(at(14, 10, 0)), CanSyncNow: true}

	rows := []message{
		{name: "sync started", res: Synced{Result: autopilot.Started, RequestedAt: at(15, 4, 12), NextSyncAllowedAt: at(15, 14, 12)}},
		{name: "sync started, a post will follow", res: Synced{Result: autopilot.Started, RequestedAt: at(15, 4, 12), NextSyncAllowedAt: at(15, 14, 12),
			FollowUp: &FollowUpRef{ID: "f-1"}, ChatFollowUp: followUpComing}},
		{name: "sync started, reply address refused", res: Synced{Result: autopilot.Started, RequestedAt: at(15, 4, 12), NextSyncAllowedAt: at(15, 14, 12),
			ChatFollowUp: followUpRefused}},
		{name: "sync completed after wait", res: Synced{Result: autopilot.Completed, Waited: true, RequestedAt: at(15, 4, 10), NextSyncAllowedAt: at(15, 14, 10), Status: completed}},
		{name: "sync completed without settings", res: Synced{Result: autopilot.Completed, Waited: true}},
		{name: "sync failed after wait", res: Synced{Result: autopilot.Failed, Waited: true, RequestedAt: at(15, 3, 50), NextSyncAllowedAt: at(15, 13, 50),
			Status: autopilot.Status{SyncStatus: "failed", LastSyncDateTime: at(15, 4, 20)}}},
		{name: "sync still running after wait", res: Synced{Result: autopilot.InProgress, Waited: true, RequestedAt: at(15, 4, 8), NextSyncAllowedAt: at(15, 14, 8), Status: running}},
		{name: "sync still running, a post will follow", res: Synced{Result: autopilot.InProgress, Waited: true, RequestedAt: at(15, 4, 8), NextSyncAllowedAt: at(15, 14, 8),
			Status: running, FollowUp: &FollowUpRef{ID: "f-1"}, ChatFollowUp: followUpComing}},

		{name: "refused 409, start known", res: Refused{P: refused409, Result: autopilot.InProgress}},
		{name: "refused 409, start unknown", res: Refused{P: problem.New(problem.SyncInProgress, "A sync of Autopilot devices is already running."), Result: autopilot.InProgress}},
		{name: "refused 429, next allowed known", res: Refused{P: withGraph(refused429(ptr(at(15, 10, 0)), 330)), Result: autopilot.Throttled}},
		{name: "refused 429, Retry-After only", res: Refused{P: refused429(nil, 412), Result: autopilot.Throttled}},
		{name: "refused 429, nothing known", res: Refused{P: refused429(nil, 0), Result: autopilot.Throttled}},
		{name: "refused 429, next allowed tomorrow", res: Refused{P: refused429(ptr(at(15, 4, 30).Add(24*time.Hour)), 86400), Result: autopilot.Throttled}},
		{name: "deferred after 429, a post will follow", res: Deferred{RequestedAt: at(15, 4, 12), SyncAt: at(15, 10, 0), ChatFollowUp: followUpComing,
			refused: Refused{P: refused429(ptr(at(15, 10, 0)), 348), Result: autopilot.Throttled}, lastTrigger: at(15, 0, 0)}},
		{name: "deferred after 429, last trigger unknown", res: Deferred{RequestedAt: at(15, 4, 12), SyncAt: at(15, 10, 0),
			refused: Refused{P: refused429(ptr(at(15, 10, 0)), 348), Result: autopilot.Throttled}}},
		{name: "deferred after 409, reply address refused", res: Deferred{RequestedAt: at(15, 4, 12), SyncAt: at(15, 5, 12), ChatFollowUp: followUpRefused,
			refused: Refused{P: refused409, Result: autopilot.InProgress}, lastTrigger: at(14, 58, 40)}},
		{name: "deferred after 409, start unknown", res: Deferred{RequestedAt: at(15, 4, 12), SyncAt: at(15, 5, 12),
			refused: Refused{P: refused409, Result: autopilot.InProgress}}},

		{name: "status completed", res: StatusDoc(doc)},
		{name: "status running", res: StatusDoc(autopilot.Status{SyncStatus: "inProgress", LastSyncDateTime: at(12, 0, 0),
			LastManualSyncTriggerDateTime: at(15, 1, 0), NextManualSyncAllowedAt: ptr(at(15, 11, 0))})},
		{name: "status running long", res: StatusDoc(autopilot.Status{SyncStatus: "inProgress", LastSyncDateTime: at(15, 4, 0),
			LastManualSyncTriggerDateTime: at(14, 30, 0), NextManualSyncAllowedAt: ptr(at(14, 40, 0))})},
		{name: "status failed days ago", res: StatusDoc(autopilot.Status{SyncStatus: "failed", LastSyncDateTime: at(9, 30, 0).Add(-72 * time.Hour), CanSyncNow: true})},
		{name: "status failed without time", res: StatusDoc(autopilot.Status{SyncStatus: "failed", CanSyncNow: true})},
		{name: "status unknown, never synced", res: StatusDoc(autopilot.Status{SyncStatus: "unknown", CanSyncNow: true})},
		{name: "status empty", res: StatusDoc(autopilot.Status{})},
		{name: "status value Graph added later, with markup", res: StatusDoc(autopilot.Status{SyncStatus: graph.SyncStatus(callerText), LastSyncDateTime: at(15, 0, 0),
			LastManualSyncTriggerDateTime: at(14, 54, 45), NextManualSyncAllowedAt: ptr(at(15, 4, 45))})},

		{name: "help", res: Help{}},
		{name: "sync at the status function", res: Help{syncNotHere: true}},
		{name: "Slack's SSL check", res: Help{sslCheck: true}, silent: true},
		{name: "options", res: Options{allow: Allow(autopilot.FunctionSync)}},

		{name: "fleet status", res: FleetStatus{Tenants: []TenantStatus{{Name: "contoso", Result: "ok", Status: &doc},
			{Name: "fabrikam", Result: string(problem.GraphUnavailable), Detail: "Microsoft Graph could not be reached; try again later."}}}},
		{name: "fleet status of one tenant", res: FleetStatus{Tenants: []TenantStatus{{Name: "contoso", Result: "ok", Status: &doc}}}},
		{name: "fleet status of none", res: FleetStatus{}},
		{name: "enqueued none", res: Enqueued{}},
		{name: "enqueued one", res: Enqueued{Enqueued: 1}},
		{name: "enqueued many", res: Enqueued{Enqueued: 250}},
		{name: "diagnose passed", res: Report{OK: true, Function: autopilot.FunctionSync}},
		{name: "diagnose failed", res: Report{Function: autopilot.FunctionStatus, Checks: []diagnose.Check{
			{Name: "configuration", OK: true}, {Name: "graphToken", Code: problem.CredentialRejected, Detail: "AADSTS7000215"}, {Name: "graphRead", Skipped: true}}}},
		{name: "follow-up completed", res: FollowUpResult{ID: "f-1", Result: autopilot.Completed, Checked: true}},
		{name: "follow-up pending", res: FollowUpResult{ID: "f-1", Result: autopilot.Pending}},

		{name: "importing (never in chat, which does not import)", res: Imported{RequestedAt: at(15, 4, 12), Devices: []ImportedRef{{SerialNumber: "5CG1234XYZ", ImportID: "r1"}},
			FollowUp: &FollowUpRef{ID: "f-1"}}},
		{name: "devices of every state", res: Devices{Devices: []autopilot.Readiness{
			{SerialNumber: "5CG1234XYZ", State: autopilot.StateAssigned, Ready: true, Devices: []autopilot.Device{{GroupTag: callerText, Manufacturer: "HP", Model: "EliteBook 840", DeploymentProfileAssignmentStatus: "assignedInSync"}}},
			{SerialNumber: "PF-2AB3C", State: autopilot.StateRegistered, Devices: []autopilot.Device{{DeploymentProfileAssignmentStatus: "notAssigned"}}},
			{SerialNumber: "TPM_LESS.1", State: autopilot.StateFailed, Devices: []autopilot.Device{{DeploymentProfileAssignmentStatus: "failed", DeploymentProfileAssignmentDetailedStatus: "hardwareRequirementsNotMet"}}},
			{SerialNumber: "NOPE 1", State: autopilot.StateNotRegistered, Devices: []autopilot.Device{}},
			{SerialNumber: "BROKEN1", State: autopilot.StateError, Code: problem.GraphUnavailable, Devices: []autopilot.Device{}},
			autopilot.ImportFailedReadiness("OTHER-TENANT-1", "ZtdDeviceAssignedToOtherTenant", 808),
			autopilot.ImportFailedReadiness("ODD-1", "<b>NewName</b>", 9),
		}}},
		{name: "devices, twenty of the longest", res: func() Result {
			d := Devices{}
			for i := range MaxSerials {
				d.Devices = append(d.Devices, autopilot.Readiness{SerialNumber: strings.Repeat("X", 63) + strconv.Itoa(i%10), State: autopilot.StateRegistered,
					Devices: []autopilot.Device{{GroupTag: strings.Repeat("g", 128), Manufacturer: strings.Repeat("m", 64), Model: strings.Repeat("m", 64)}}})
			}
			return d
		}()},

		{name: "method not allowed", res: MethodNotAllowed(autopilot.FunctionSync, "DELETE")},
		{name: "refused caller", res: Fail(problem.New(problem.Unauthorized, "The request is not signed."))},
		{name: "queue message dropped", res: dropMessage(nil, context.Background(), &Request{MessageID: "m-1"})},
		{name: "long detail", res: Failure{P: problem.New(problem.BadRequest, "Several tenants are configured; add one of: "+long), attempt: attemptRead}},
		{name: "long Graph note", res: Failure{P: longNote, attempt: attemptSync}},
		{name: "empty problem", res: Failure{P: &problem.Problem{}}},
	}
	return append(rows, failures(t)...)
}

// failures is a Failure of every problem code (read from the source: see problemCodes), each
// met in every attempt, with and without Graph's identifiers, with a detail written for the
// caller.
func failures(t *testing.T) []message {
	t.Helper()
	var rows []message
	for _, code := range problemCodes(t) {
		for _, a := range []attempt{attemptOther, attemptRead, attemptSync} {
			rows = append(rows,
				message{name: fmt.Sprintf("failure %s, attempt %d", code, a), res: Failure{P: problem.New(code, callerText), attempt: a}},
				message{name: fmt.Sprintf("failure %s, attempt %d, Graph ids", code, a), res: Failure{P: withGraph(problem.New(code, callerText)), attempt: a}})
		}
	}
	return rows
}

// TestMessagesKeepToPlatformRules renders every message of messages for each platform, about no
// tenant, a registry name and a word made of markup, and passes it through the platform's rules:
// Block Kit's for Slack, the outgoing-webhook answer for Teams. A message with no words must be
// the one marked silent (the edge then answers an empty 200).
func TestMessagesKeepToPlatformRules(t *testing.T) {
	t.Parallel()
	for _, m := range messages(t) {
		for _, tenant := range []string{"", "contoso", "<!channel>&*_[x](y)"} {
			t.Run(m.name+"/tenant "+strconv.Quote(tenant), func(t *testing.T) {
				t.Parallel()
				for _, platform := range []autopilot.Source{autopilot.SourceSlack, autopilot.SourceTeams} {
					w := m.res.Words(chat.StyleOf(platform), now)
					if len(w.Paragraphs) == 0 {
						if !m.silent {
							t.Errorf("%s: no words", platform)
						}
						continue
					}
					if m.silent {
						t.Errorf("%s: words %q, want none", platform, w.Paragraphs)
					}
					body, err := chat.Reply(platform, w, tenant)
					if err != nil {
						t.Fatal(err)
					}
					if platform == autopilot.SourceSlack {
						chattest.CheckSlack(t, body)
					} else {
						chattest.CheckTeamsReply(t, body)
					}
				}
			})
		}
	}
}

// TestEveryResultHasMessages fails while a type of the package that implements Result has no
// row in messages, or a row's type is not among them (then the scan of the source is broken).
func TestEveryResultHasMessages(t *testing.T) {
	t.Parallel()
	declared := resultTypes(t)
	var covered []string
	for _, m := range messages(t) {
		typ := reflect.TypeOf(m.res)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if !slices.Contains(covered, typ.Name()) {
			covered = append(covered, typ.Name())
		}
	}
	for _, name := range declared {
		if !slices.Contains(covered, name) {
			t.Errorf("Result type %s has no row in messages: add the chat messages it can give", name)
		}
	}
	for _, name := range covered {
		if !slices.Contains(declared, name) {
			t.Errorf("messages has rows of %s, which the scan of the source did not find among %q", name, declared)
		}
	}
}

// resultTypes reads the package's source (its non-test files) and returns the types that have
// every method of Result, on the type or its pointer.
func resultTypes(t *testing.T) []string {
	t.Helper()
	methods := map[string][]string{}
	for _, f := range sourceFiles(t, ".") {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); ok {
				methods[id.Name] = append(methods[id.Name], fn.Name.Name)
			}
		}
	}
	result := reflect.TypeFor[Result]()
	var types []string
	for typ, ms := range methods {
		implements := true
		for i := range result.NumMethod() {
			implements = implements && slices.Contains(ms, result.Method(i).Name)
		}
		if implements {
			types = append(types, typ)
		}
	}
	slices.Sort(types)
	if len(types) < 10 {
		t.Fatalf("the scan found only %q implementing Result: is it still reading the package?", types)
	}
	return types
}

// problemCodes reads the problem codes from the source: the constants of type Code in package
// problem and of type problem.Code here (queueUnavailable), so that a new code gets its chat
// answer checked without anyone adding a row.
func problemCodes(t *testing.T) []problem.Code {
	t.Helper()
	var codes []problem.Code
	for dir, codeType := range map[string]string{"../problem": "Code", ".": "problem.Code"} {
		for _, f := range sourceFiles(t, dir) {
			for _, d := range f.Decls {
				gen, ok := d.(*ast.GenDecl)
				if !ok || gen.Tok != token.CONST {
					continue
				}
				for _, spec := range gen.Specs {
					v := spec.(*ast.ValueSpec)
					if v.Type == nil || types(v.Type) != codeType {
						continue
					}
					for _, value := range v.Values {
						lit, ok := value.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							t.Fatalf("%s: a Code that is not a string literal", dir)
						}
						s, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						codes = append(codes, problem.Code(s))
					}
				}
			}
		}
	}
	slices.Sort(codes)
	for _, want := range []problem.Code{problem.SyncInProgress, problem.Misconfigured, problem.Forbidden, problem.QueueUnavailable} {
		if !slices.Contains(codes, want) {
			t.Fatalf("the scan found codes %q, not %s: is it still reading the packages?", codes, want)
		}
	}
	return codes
}

// types spells a type expression as written: "Code", "problem.Code".
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return types(e.X) + "." + e.Sel.Name
	}
	return ""
}

// sourceFiles parses the non-test Go files of dir.
func sourceFiles(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}
