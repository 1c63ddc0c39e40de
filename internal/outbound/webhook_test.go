package outbound

import (
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	autopilotsync "github.com/autopilot-sync/autopilot-sync"
)

// TestClassifyAsDocumented checks the webhooks entry of openapi.yaml against Classify for every
// status a receiver can answer: the response documented for it (its own code first, then its
// class, as OpenAPI reads them) says "Tried again" exactly when Classify retries, and "ends"
// otherwise; and the entry's description names 408 and 429 among the retried.
func TestClassifyAsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(autopilotsync.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Webhooks["syncOutcome"]
	if item == nil || item.Post == nil {
		t.Fatal("openapi.yaml: no webhooks entry syncOutcome with a post operation")
	}
	responses := item.Post.Responses
	for status := 200; status <= 599; status++ {
		code := strconv.Itoa(status)
		r := responses.Value(code)
		if r == nil {
			r = responses.Value(code[:1] + "XX")
		}
		if r == nil || r.Value == nil || r.Value.Description == nil {
			t.Errorf("openapi.yaml: webhook syncOutcome documents no response for %d", status)
			continue
		}
		text := *r.Value.Description
		retried, ends := strings.Contains(text, "Tried again"), strings.Contains(text, "ends")
		if want := Classify(status) == Retry; retried != want || ends == want {
			t.Errorf("openapi.yaml: webhook syncOutcome says of %d %q; Classify says %v", status, text, Classify(status))
		}
	}
	description := item.Post.Description
	for _, want := range []string{"other than 408 and 429", "A 408, a 429, a 5xx"} {
		if !strings.Contains(description, want) {
			t.Errorf("openapi.yaml: the webhook's description lacks %q:\n%s", want, description)
		}
	}
}
