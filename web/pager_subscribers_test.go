package web

import (
	"strings"
	"testing"
)

// TestStatusSubscribersAPI: webhook subscribers are an admin's business:
// every method needs the token (GET too: URLs may hold secrets); the
// secret is returned once, never listed; bad URLs are refused; e-mail
// addresses are only counted.
func TestStatusSubscribersAPI(t *testing.T) {
	_, p, clk := newTestPager(t)
	srv, h := newTestServer(t, Options{Token: pagerToken, Now: clk.now})
	h.EnablePager(PagerOptions{Pager: p})
	const path = "/api/v1/pager/status-subscribers"
	for _, tt := range []struct{ method, path, body string }{
		{"GET", path, ""}, {"POST", path, `{"url":"https://hooks.example/x"}`}, {"DELETE", path + "/sub_x", ""},
	} {
		if r := doJSON(t, srv, tt.method, tt.path, tt.body, false); r.code != 401 {
			t.Errorf("%s %s without token: %d %s", tt.method, tt.path, r.code, r.body)
		}
	}
	for _, body := range []string{`{"url":"ftp://x.example/"}`, `{"url":"https://x.example/","secret":"short"}`,
		`{"type":"email","url":"https://x.example/"}`, `{"url":"https://x.example/","extra":1}`} {
		if r := doJSON(t, srv, "POST", path, body, true); r.code != 400 {
			t.Errorf("POST %s: %d %s, want 400", body, r.code, r.body)
		}
	}
	var created apiSubscriber
	decodeData(t, doJSON(t, srv, "POST", path, `{"url":"https://hooks.example/x","by":"alice"}`, true), &created)
	if !strings.HasPrefix(created.ID, "sub_") || len(created.Secret) < 32 || created.URL != "https://hooks.example/x" || created.By != "alice" {
		t.Fatalf("created %+v", created)
	}
	r := doJSON(t, srv, "GET", path, "", true)
	var list apiSubscribers
	decodeData(t, r, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != created.ID || list.Webhooks[0].Secret != "" || strings.Contains(string(r.body), created.Secret) {
		t.Errorf("list %s", r.body)
	}
	if r := doJSON(t, srv, "DELETE", path+"/"+created.ID, "", true); r.code != 200 {
		t.Errorf("DELETE: %d %s", r.code, r.body)
	}
	if r := doJSON(t, srv, "DELETE", path+"/"+created.ID, "", true); r.code != 404 {
		t.Errorf("DELETE again: %d %s, want 404", r.code, r.body)
	}
}
