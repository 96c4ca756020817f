package pager

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// hookLog records the webhook posts of every replica, by replica.
type hookLog struct {
	mu   sync.Mutex
	sent []string
}

type hookTransport struct {
	log  *hookLog
	name string
}

func (h hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	text := string(b)
	if _, rest, ok := strings.Cut(text, `"text":"`); ok {
		text, _, _ = strings.Cut(rest, `"`)
	}
	h.log.sent = append(h.log.sent, h.name+" "+text)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

func (h *hookLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.sent
	h.sent = nil
	return out
}

// TestSubscribersOnlyLeaderSends: of three replicas only the leader tells
// subscribers; after it is cut off, the next leader sends the next update
// and the old one sends nothing.
func TestSubscribersOnlyLeaderSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, NewMemStore(), "10:00", reloadConfig(t, "same"))
		db := newFakeDB()
		rs := newReplicas(t, h, db, "a", "b", "c")
		hooks := &hookLog{}
		for _, r := range rs {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- r.p.RunSubscribers(ctx, SubscriberRunOptions{HTTP: channel.HTTPOptions{Client: &http.Client{Transport: hookTransport{hooks, r.name}}}})
			}()
			t.Cleanup(func() {
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("RunSubscribers of %s: %v", r.name, err)
				}
			})
		}
		synctest.Wait()
		lead, others := leader(t, rs)
		if _, _, err := others[0].p.AddWebhookSubscriber("https://hooks.example/x", "", Actor{User: "admin"}); err != nil {
			t.Fatal(err)
		}
		if err := others[0].p.Receive(page("HighErrors", "c1")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, err := others[1].p.PostStatusUpdate("inc-1", Actor{User: "alice"}, UpdateInvestigating, "first"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(11 * time.Second) // a round of every replica's loop
		synctest.Wait()
		if got := hooks.take(); len(got) != 1 || got[0] != lead.name+" first" {
			t.Fatalf("sent %q, want [%s first]", got, lead.name)
		}

		lead.r.partitioned.Store(true)
		time.Sleep(DefaultLease)
		synctest.Wait()
		next, _ := leader(t, others)
		if _, err := next.p.PostStatusUpdate("inc-1", Actor{User: "alice"}, UpdateIdentified, "second"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if got := hooks.take(); len(got) != 1 || got[0] != next.name+" second" {
			t.Errorf("sent %q, want [%s second]", got, next.name)
		}
	})
}
