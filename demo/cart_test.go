package demo

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCartOutageSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewShop(ShopOptions{Start: start, Now: func() time.Time { return start }})
	for _, tt := range []struct {
		after time.Duration
		out   bool
	}{{0, false}, {4*time.Minute - time.Second, false}, {4 * time.Minute, true}, {4*time.Minute + 59*time.Second, true},
		{5 * time.Minute, false}, {11 * time.Minute, true}, {12 * time.Minute, false}} {
		if got := s.InCartOutage(start.Add(tt.after)); got != tt.out {
			t.Errorf("InCartOutage(start+%v) = %v, want %v", tt.after, got, tt.out)
		}
	}
}

func TestCartAPIRefusals(t *testing.T) {
	srv := httptest.NewServer(NewShop(ShopOptions{}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path, body string, hdr ...string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/cart/items", `{"sku":"SKU-1"}`); code != 401 {
		t.Errorf("adding without a session: %d, want 401", code)
	}
	if code := post("/api/login", `{"user":"demo","password":"nope"}`); code != 401 {
		t.Errorf("wrong password: %d, want 401", code)
	}
	if code := post("/api/login", strings.Repeat("[", 10000)); code != 400 {
		t.Errorf("garbage login: %d, want 400", code)
	}
	if code := post("/api/login", `{"user":"demo","password":"demo"}`); code != 200 {
		t.Fatalf("login: %d", code)
	}
	if code := post("/api/cart/items", `{"sku":"SKU-1"}`, "X-CSRF-Token", "forged"); code != 403 {
		t.Errorf("forged token: %d, want 403", code)
	}
	resp, err := c.Get(srv.URL + "/api/cart/SKU-1.0000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("forged cart id: %d, want 404", resp.StatusCode)
	}
}
