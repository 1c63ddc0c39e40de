package action

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/autopilot-sync/autopilot-sync/internal/autopilot"
	"github.com/autopilot-sync/autopilot-sync/internal/problem"
)

// The actions of SPEC §12, as the log line names them.
const (
	NameOptions       Name = "options"
	NameSync          Name = "sync"
	NameSyncWait      Name = "syncWait"
	NameScheduledSync Name = "scheduledSync"
	NameFanOut        Name = "fanOut"
	NameFollowUp      Name = "followUp"
	NameSQSMessage    Name = "sqsMessage"
	NameStatus        Name = "status"
	NameFleetStatus   Name = "fleetStatus"
	NameUpdate        Name = "update"
	NameChatSync      Name = "chatSync"
	NameChatStatus    Name = "chatStatus" // the status row's name in chat
	NameChatHelp      Name = "chatHelp"
	NameDiagnose      Name = "diagnose"
	NameImport        Name = "import"
	NameDevice        Name = "device"
	NameChatDevice    Name = "chatDevice" // the device row's name in chat
)

// Table is the action table: every action, every way a source selects it, and its handler. A
// request is served by the row Route finds; none is a 405 (HTTP), the help text (chat), a
// Lambda error naming what the function takes (direct), or a dropped record (SQS).
var Table = []Row{
	{Name: NameOptions, On: []Trigger{httpAt(BothFns, http.MethodOptions)}, Run: options},
	{Name: NameImport, On: []Trigger{httpAt(SyncFn, http.MethodPost, ParamWait, ParamTenant, ParamDefer).when(importing).fields(syncFields)}, Run: importHTTP},
	{Name: NameSync, On: []Trigger{httpAt(SyncFn, http.MethodPost, ParamWait, ParamTenant, ParamDefer).fields(syncFields)}, Run: syncHTTP},
	{Name: NameSyncWait, On: []Trigger{httpAt(SyncFn, http.MethodPost, ParamWait, ParamTenant, ParamDefer).when(waiting).fields(syncFields)}, Run: syncHTTP},
	{Name: NameScheduledSync, On: []Trigger{
		scheduled(SyncFn),
		direct(SyncFn, "sync", false, `{"action":"sync","tenant":"<name>"}`),
		queued(SyncFn, QueueFleet, `{"tenant":"<name>"}`),
	}, Run: scheduledSync},
	{Name: NameFanOut, On: []Trigger{direct(SyncFn, "sync", true, `{"action":"sync","tenants":"all"}`)}, Run: fanOut},
	{Name: NameFollowUp, On: []Trigger{queued(SyncFn, QueueFollowUp, "")}, KeepsMessages: true, Run: followUp},
	{Name: NameSQSMessage, On: []Trigger{queued(SyncFn, QueueOther, "")}, RunsMisconfigured: true, Run: dropMessage},
	{Name: NameChatSync, On: []Trigger{chatWord(SyncFn, "sync", syncArgs,
		HelpLine{"sync", "start a sync of Windows Autopilot devices (Intune allows one manual sync every 10 minutes)", "sync contoso"},
		HelpLine{"sync wait", "start a sync and wait briefly for it to finish", "sync wait contoso"},
		HelpLine{"sync 5CG1234XYZ", "start a sync and tell you here when those devices (serial numbers) are ready", ""},
	)}, Run: chatSync},
	{Name: NameStatus, ChatName: NameChatStatus, On: []Trigger{
		httpAt(StatusFn, http.MethodGet, ParamTenant),
		scheduled(StatusFn),
		direct(BothFns, "status", false, `{"action":"status","tenant":"<name>"}`),
		chatWord(BothFns, "status", tenantArg,
			HelpLine{"status", "show the last sync and when the next manual sync is allowed", "status contoso"}),
	}, Run: status},
	{Name: NameFleetStatus, On: []Trigger{
		httpAt(StatusFn, http.MethodGet, ParamTenant).when(allTenants),
		direct(BothFns, "status", true, `{"action":"status","tenants":"all"}`),
	}, Run: fleetStatus},
	{Name: NameUpdate, On: []Trigger{httpAt(StatusFn, http.MethodPatch, ParamTenant)}, Run: update},
	{Name: NameDevice, ChatName: NameChatDevice, On: []Trigger{
		httpAt(StatusFn, http.MethodGet, ParamTenant, paramSerial).when(hasSerials),
		chatWord(BothFns, "device", deviceArgs, HelpLine{"device 5CG1234XYZ", "show whether devices (serial numbers) are registered in Windows Autopilot and have their deployment profile", "device contoso 5CG1234XYZ"}),
		{Fns: BothFns, Via: ViaDirect, Action: "device", Fields: serialsField, Example: `{"action":"device","serials":["<serial>"]}`},
	}, Run: readDevices},
	{Name: NameChatHelp, On: []Trigger{
		chatWord(BothFns, "help", anyWords, HelpLine{"help", "show this list", ""}),
		chatWord(StatusFn, "sync", syncArgs),
	}, Run: chatHelp},
	{Name: NameDiagnose, On: []Trigger{direct(BothFns, "diagnose", false, `{"action":"diagnose"}`)}, RunsMisconfigured: true, Run: diagnoseChain},
}

func httpAt(fns Functions, method string, params ...Param) Trigger {
	return Trigger{Fns: fns, Via: ViaHTTP, Method: method, Params: params}
}

func (t Trigger) when(cond func(*Request) bool) Trigger { t.When = cond; return t }

// fields reads an HTTP trigger's JSON body fields (its POST body, when a JSON object).
func (t Trigger) fields(read func(json.RawMessage, *Request) *problem.Problem) Trigger {
	t.Fields = read
	return t
}

func chatWord(fns Functions, word string, args Args, help ...HelpLine) Trigger {
	return Trigger{Fns: fns, Via: ViaChat, Word: word, Args: args, Help: help}
}

func scheduled(fns Functions) Trigger { return Trigger{Fns: fns, Via: ViaSchedule} }

func direct(fns Functions, action string, all bool, example string) Trigger {
	return Trigger{Fns: fns, Via: ViaDirect, Action: action, All: all, Example: example}
}

func queued(fns Functions, q Queue, example string) Trigger {
	return Trigger{Fns: fns, Via: ViaQueue, Queue: q, Example: example}
}

// Query holds the query parameters of an HTTP request, as its trigger's Params read them.
type Query struct {
	// Wait is ?wait=N (the sync function).
	Wait time.Duration
	// Defer is ?defer=true|false (the sync function); nil: SYNC_WHEN_BUSY decides.
	Defer *bool
}

// Param is a query parameter an HTTP trigger reads.
type Param struct {
	Name string
	// Read parses the parameter's values (nil when absent) into the request; its problem is a 400.
	Read func(values []string, req *Request) *problem.Problem
}

// MaxWait is the longest ?wait a caller may ask for (SPEC §5), below API Gateway's 30 s limit.
const MaxWait = 25 * time.Second

// The query parameters.
var (
	// ParamWait is ?wait=N: whole seconds written as digits only, 0 to 25. Absent means 0.
	ParamWait = Param{Name: "wait", Read: func(v []string, req *Request) *problem.Problem {
		if v == nil {
			return nil
		}
		bad := problem.New(problem.BadRequest, "wait must be a whole number of seconds from 0 to 25.")
		if len(v) != 1 || v[0] == "" || len(v[0]) > 2 || strings.Trim(v[0], "0123456789") != "" {
			return bad
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || n > int(MaxWait/time.Second) {
			return bad
		}
		req.Query.Wait = time.Duration(n) * time.Second
		return nil
	}}
	// ParamTenant is ?tenant=<name|tenantId|all> (SPEC §11).
	ParamTenant = Param{Name: "tenant", Read: func(v []string, req *Request) *problem.Problem {
		if v == nil {
			return nil
		}
		if len(v) != 1 || v[0] == "" || len(v[0]) > 256 {
			return problem.New(problem.BadRequest, "tenant must be given once, as a tenant name or tenant id.")
		}
		req.Tenant = strings.ToLower(strings.TrimSpace(v[0]))
		return nil
	}}
)

func waiting(req *Request) bool    { return req.Query.Wait > 0 }
func allTenants(req *Request) bool { return req.Tenant == autopilot.AllTenants }

// The chat words' arguments.
var (
	// syncArgs reads "sync [wait] [tenant] [serial…]" (syncArgsWords).
	syncArgs = Args{Usage: "[wait] [tenant] [serial…]", Read: syncArgsWords}
	// tenantArg reads "[tenant]".
	tenantArg = Args{Usage: "[tenant]", Read: func(req *Request, args []string) bool {
		switch len(args) {
		case 0:
			return true
		case 1:
			tenantWord(req, args[0])
			return true
		}
		return false
	}}
	// anyWords takes whatever follows.
	anyWords = Args{Read: func(*Request, []string) bool { return true }}
)

// tenantWord sets the tenant a chat word names when it is shaped like a registry name or a tenant
// id, and BadTenant otherwise (never echoed).
func tenantWord(req *Request, word string) {
	word = strings.ToLower(word)
	if autopilot.IsTenantName(word) || autopilot.IsTenantID(word) {
		req.Tenant = word
	} else {
		req.BadTenant = true
	}
}

// badTenant refuses a chat tenant word that is neither a registry name nor a tenant id before it
// reaches a tenant (never echoed: SPEC §7); nil when the request has none.
func badTenant(req *Request) *problem.Problem {
	if !req.BadTenant {
		return nil
	}
	return problem.New(problem.UnknownTenant, "No tenant of that name is configured; name a tenant by its registry name or its tenant id (a GUID).")
}
