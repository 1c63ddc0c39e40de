package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autopilot-sync/autopilot-sync/internal/contract"
	"github.com/autopilot-sync/autopilot-sync/internal/followup"
	"github.com/autopilot-sync/autopilot-sync/internal/outbound"
)

// post is one request a fakePoster got.
type post struct {
	target  outbound.Target
	body    []byte
	headers map[string]string
}

// fakePoster records posts and answers with result.
type fakePoster struct {
	mu     sync.Mutex
	posts  []post
	result outbound.Result
	err    error
}

func (f *fakePoster) Post(_ context.Context, t outbound.Target, body []byte, headers map[string]string) (outbound.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts = append(f.posts, post{t, body, headers})
	return f.result, f.err
}

// fakeSecrets answers with its function fields; a nil field is ErrNotConfigured.
type fakeSecrets struct {
	teams     func() (Prefix, error)
	callbacks func() ([]Prefix, error)
	signer    func() (*Signer, error)
}

func (f fakeSecrets) TeamsURL(context.Context) (Prefix, error) {
	if f.teams == nil {
		return Prefix{}, ErrNotConfigured
	}
	return f.teams()
}

func (f fakeSecrets) CallbackTargets(context.Context) ([]Prefix, error) {
	if f.callbacks == nil {
		return nil, ErrNotConfigured
	}
	return f.callbacks()
}

func (f fakeSecrets) Signer(context.Context) (*Signer, error) {
	if f.signer == nil {
		return nil, ErrNotConfigured
	}
	return f.signer()
}

const (
	testSlackURL    = "https://hooks.slack.com/commands/T0001/1234/s3cr3t"
	testCallbackURL = "https://contoso.service-now.com/api/x_autopilot/done?token=s3cr3t"
	testTeamsURL    = "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3t"
)

// sender returns a Sender with every target configured and a fake poster answering 200.
func sender(t *testing.T) (*Sender, *fakePoster) {
	t.Helper()
	slack, err := ParseSlackPrefixes("")
	if err != nil {
		t.Fatal(err)
	}
	callbacks, err := ParseCallbackTargets([]byte(`[{"urlPrefix":"https://contoso.service-now.com/api/x_autopilot/","headers":{"Authorization":"Basic s3cr3t"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	teams, err := ParseTeamsURL(testTeamsURL)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ParseSigningSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	poster := &fakePoster{result: outbound.Result{Verdict: outbound.Delivered, Status: 200}}
	return &Sender{
		Poster: poster,
		Secrets: fakeSecrets{
			teams:     func() (Prefix, error) { return teams, nil },
			callbacks: func() ([]Prefix, error) { return callbacks, nil },
			signer:    func() (*Signer, error) { return signer, nil },
		},
		SlackPrefixes: slack,
		TenantID:      "00000000-0000-0000-0000-000000000001",
		Now:           func() time.Time { return t0.Add(5 * time.Minute) },
	}, poster
}

func notice(target followup.Target, url string) followup.Notice {
	n := notices["completed"]
	n.Target, n.URL = target, url
	return n
}

func TestDeliverEachTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		notice      followup.Notice
		wantURL     string
		wantBody    func(followup.Notice) ([]byte, error)
		unsigned    bool // no CALLBACK_SIGNING_SECRET_NAME
		wantHeaders []string
	}{
		{"slack", notice(followup.Slack, testSlackURL), testSlackURL,
			func(n followup.Notice) ([]byte, error) { return SlackBody(n, t0.Add(5*time.Minute)) }, false, nil},
		{"teams", notice(followup.Teams, ""), testTeamsURL,
			func(n followup.Notice) ([]byte, error) { return TeamsBody(n, t0.Add(5*time.Minute)) }, false, nil},
		{"callback", notice(followup.Callback, testCallbackURL), testCallbackURL,
			func(n followup.Notice) ([]byte, error) {
				return CallbackBody(n, "00000000-0000-0000-0000-000000000001")
			},
			false, []string{"Authorization", "webhook-id", "webhook-signature", "webhook-timestamp"}},
		{"callback unsigned", notice(followup.Callback, testCallbackURL), testCallbackURL,
			func(n followup.Notice) ([]byte, error) {
				return CallbackBody(n, "00000000-0000-0000-0000-000000000001")
			},
			true, []string{"Authorization", "webhook-id", "webhook-timestamp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, poster := sender(t)
			if tt.unsigned {
				f := s.Secrets.(fakeSecrets)
				f.signer = nil
				s.Secrets = f
			}
			d := s.Deliver(context.Background(), tt.notice)
			if d.Verdict != outbound.Delivered || d.Err != nil || d.Status != 200 || d.Again() {
				t.Fatalf("delivery = %+v, want delivered", d)
			}
			if len(poster.posts) != 1 {
				t.Fatalf("%d posts, want 1", len(poster.posts))
			}
			p := poster.posts[0]
			if p.target.URL != tt.wantURL || p.target.LiteralIPAllowed {
				t.Errorf("target = %+v, want %s", p.target, tt.wantURL)
			}
			want, _ := tt.wantBody(tt.notice)
			if string(p.body) != string(want) {
				t.Errorf("body = %s, want %s", p.body, want)
			}
			var names []string
			for name := range p.headers {
				names = append(names, name)
			}
			slices.Sort(names)
			if got := strings.Join(names, ","); got != strings.Join(tt.wantHeaders, ",") {
				t.Errorf("headers = %s, want %s", got, strings.Join(tt.wantHeaders, ","))
			}
			if tt.notice.Target != followup.Callback {
				return
			}
			if got, want := p.headers["webhook-id"], tt.notice.ID; got != want {
				t.Errorf("webhook-id = %q, want the follow-up id %q", got, want)
			}
			if got, want := p.headers["webhook-timestamp"], strconv.FormatInt(t0.Add(5*time.Minute).Unix(), 10); got != want {
				t.Errorf("webhook-timestamp = %q, want %q", got, want)
			}
		})
	}
}

func TestDeliverFailures(t *testing.T) {
	t.Parallel()
	kvDown := errors.New("key vault: 503")
	tests := []struct {
		name    string
		notice  followup.Notice
		secrets func(*fakeSecrets)
		poster  func(*fakePoster)
		want    outbound.Verdict
		posted  bool
	}{
		{"slack URL no longer allowed", notice(followup.Slack, "https://hooks.example/commands/s3cr3t"), nil, nil, outbound.Blocked, false},
		{"callback prefix removed", notice(followup.Callback, "https://fabrikam.example/api/s3cr3t"), nil, nil, outbound.Blocked, false},
		{"callbacks no longer configured", notice(followup.Callback, testCallbackURL), func(f *fakeSecrets) { f.callbacks = nil }, nil, outbound.Blocked, false},
		{"callback targets unreadable now", notice(followup.Callback, testCallbackURL),
			func(f *fakeSecrets) { f.callbacks = func() ([]Prefix, error) { return nil, kvDown } }, nil, outbound.Retry, false},
		{"signing secret unreadable now", notice(followup.Callback, testCallbackURL),
			func(f *fakeSecrets) { f.signer = func() (*Signer, error) { return nil, kvDown } }, nil, outbound.Retry, false},
		{"teams no longer configured", notice(followup.Teams, ""), func(f *fakeSecrets) { f.teams = nil }, nil, outbound.Blocked, false},
		{"teams URL unreadable now", notice(followup.Teams, ""),
			func(f *fakeSecrets) { f.teams = func() (Prefix, error) { return Prefix{}, kvDown } }, nil, outbound.Retry, false},
		{"still running is for Slack only", followup.Notice{Target: followup.Teams, ID: "f-1", RequestedAt: t0}, nil, nil, outbound.Blocked, false},
		{"unknown target", followup.Notice{Target: "email", ID: "f-1", RequestedAt: t0, Outcome: notices["completed"].Outcome}, nil, nil, outbound.Blocked, false},
		{"receiver answers 503", notice(followup.Callback, testCallbackURL), nil,
			func(p *fakePoster) { p.result = outbound.Result{Verdict: outbound.Retry, Status: 503} }, outbound.Retry, true},
		{"receiver answers 404", notice(followup.Slack, testSlackURL), nil,
			func(p *fakePoster) { p.result = outbound.Result{Verdict: outbound.Refused, Status: 404} }, outbound.Refused, true},
		{"connection failure", notice(followup.Teams, ""), nil,
			func(p *fakePoster) {
				p.result, p.err = outbound.Result{Verdict: outbound.Retry}, errors.New("outbound: connection reset")
			}, outbound.Retry, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, poster := sender(t)
			if tt.secrets != nil {
				f := s.Secrets.(fakeSecrets)
				tt.secrets(&f)
				s.Secrets = f
			}
			if tt.poster != nil {
				tt.poster(poster)
			}
			d := s.Deliver(context.Background(), tt.notice)
			if d.Verdict != tt.want || d.Err == nil {
				t.Errorf("delivery = %+v, want %v with an error", d, tt.want)
			}
			if got := len(poster.posts) > 0; got != tt.posted {
				t.Errorf("posted = %v, want %v", got, tt.posted)
			}
			if got, want := d.Again(), tt.want == outbound.Retry; got != want {
				t.Errorf("Again = %v, want %v", got, want)
			}
			if d.Err != nil && strings.Contains(d.Err.Error(), "s3cr3t") {
				t.Errorf("error shows a URL or header: %v", d.Err)
			}
		})
	}
}

// TestDeliverOverLoopback sends a callback, signed and unsigned, through the real outbound
// client to a receiver on loopback, as cmd/local does on its embedded emulator, and reads it
// as a receiver would: webhook-id and webhook-timestamp on every callback, a signature that
// verifies when signed, and headers and body as the webhooks entry of openapi.yaml says.
func TestDeliverOverLoopback(t *testing.T) {
	t.Parallel()
	for _, signed := range []bool{true, false} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			t.Parallel()
			type received struct {
				header http.Header
				body   []byte
			}
			got := make(chan received, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- received{r.Header.Clone(), body}
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			signer, err := ParseSigningSecret(vectorSecret)
			if err != nil {
				t.Fatal(err)
			}
			secrets := fakeSecrets{signer: func() (*Signer, error) { return signer, nil }}
			if !signed {
				secrets.signer = nil
			}
			now := time.Now()
			s := &Sender{
				Poster:   outbound.New(outbound.Options{AllowLoopback: true}),
				Secrets:  secrets,
				Loopback: true,
				TenantID: "00000000-0000-0000-0000-000000000001",
				Now:      func() time.Time { return now },
			}
			n := notice(followup.Callback, srv.URL+"/done")
			if d := s.Deliver(context.Background(), n); d.Verdict != outbound.Delivered || d.Status != http.StatusNoContent {
				t.Fatalf("delivery = %+v, want delivered with 204", d)
			}
			r := <-got
			if got, want := r.header.Get("webhook-id"), n.ID; got != want {
				t.Errorf("webhook-id = %q, want the follow-up id %q", got, want)
			}
			if got, want := r.header.Get("webhook-timestamp"), strconv.FormatInt(now.Unix(), 10); got != want {
				t.Errorf("webhook-timestamp = %q, want %q", got, want)
			}
			if got := r.header.Get("webhook-signature") != ""; got != signed {
				t.Errorf("webhook-signature present = %v, want %v", got, signed)
			}
			if signed {
				wh, err := standardwebhooks.NewWebhook(vectorSecret)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.Verify(r.body, r.header); err != nil {
					t.Errorf("the receiver cannot verify the callback: %v", err)
				}
			}
			if err := contract.CheckCallback(r.header, r.body); err != nil {
				t.Error(err)
			}
			var event CallbackEvent
			if err := json.Unmarshal(r.body, &event); err != nil || event.Type != "autopilot.sync.completed" {
				t.Errorf("body %s: %v", r.body, err)
			}
		})
	}
}
