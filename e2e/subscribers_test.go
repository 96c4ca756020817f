package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchdog-sre/watchdog/pager"
)

// TestStatusWebhookSubscriber: against the real binary, an admin adds a
// webhook subscriber through the API; a responder's public status update
// then reaches it as a JSON POST whose signature checks with the secret
// returned once, carrying the update's text and nothing internal.
func TestStatusWebhookSubscriber(t *testing.T) {
	parallel(t, 15*time.Second)
	type hook struct {
		hdr  http.Header
		body []byte
	}
	got := make(chan hook, 32)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- hook{r.Header.Clone(), b}
	}))
	defer recv.Close()
	wd, id := startCheckoutPaging(t, signinConfig)
	// The public subscription forms take POSTs without a credential (a
	// mail client's RFC 8058 one-click unsubscribe has none); without an
	// email channel for subscribers the subscribe form is not offered.
	for _, tt := range []struct {
		path, form string
		code       int
	}{
		{"/status/subscriptions/unsubscribe/sub_0.0", "List-Unsubscribe=One-Click", 200},
		{"/status/subscribe", "email=a%40example.com", 404},
	} {
		resp, err := http.Post(wd.url+tt.path, "application/x-www-form-urlencoded", strings.NewReader(tt.form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("POST %s: %d, want %d", tt.path, resp.StatusCode, tt.code)
		}
	}

	var sub struct {
		ID, Secret string
	}
	wd.api(t, "POST", "/api/v1/pager/status-subscribers", fmt.Sprintf(`{"url": %q}`, recv.URL+"/status-hook"), &sub)
	if sub.Secret == "" {
		t.Fatalf("no secret in the answer: %+v", sub)
	}
	wd.api(t, "POST", "/api/v1/pager/incidents/"+id+"/status-updates", `{"status": "identified", "text": "Checkout is failing; we rolled back.", "by": "alice"}`, nil)
	deadline := time.After(30 * time.Second)
	for {
		var h hook
		select {
		case h = <-got:
		case <-deadline:
			t.Fatal("no status_update webhook within 30s")
		}
		if err := pager.VerifyWebhook(sub.Secret, h.hdr.Get("X-Watchdog-Timestamp"), h.hdr.Get("X-Watchdog-Signature"), h.body, time.Now(), time.Minute); err != nil {
			t.Fatalf("signature: %v (%s)", err, h.body)
		}
		if h.hdr.Get("X-Watchdog-Event") != "status_update" {
			continue // e.g. the component's state change when the incident opened
		}
		var pl struct{ Type, Status, Text string }
		if err := json.Unmarshal(h.body, &pl); err != nil || pl.Status != "identified" || pl.Text != "Checkout is failing; we rolled back." {
			t.Errorf("payload %s (%v)", h.body, err)
		}
		for _, internal := range []string{"CheckoutDown", "alice", id} {
			if strings.Contains(string(h.body), internal) {
				t.Errorf("payload leaks %q: %s", internal, h.body)
			}
		}
		return
	}
}
