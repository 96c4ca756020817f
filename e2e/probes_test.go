package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoJourney runs the demo with the shop's cart broken from the start:
// the checkout journey fails at add_to_cart, which the probe series, the
// API, the /probes page and a page (the JourneyStepFailing rule) all name;
// /probe answers for a token holder only.
func TestDemoJourney(t *testing.T) {
	parallel(t, 25*time.Second)
	w := startWatchdog(t, "demo", "--web.listen-address", "127.0.0.1:0",
		"--storage.snapshot-path", t.TempDir()+"/snapshot.wds", "--demo.first-spike", "1h", "--demo.first-cart-outage", "0s")
	var shop string
	eventually(t, 30*time.Second, func() error {
		var probes []struct {
			Probe, Target string
			Health        string
			LastFailure   *struct {
				Step   string
				Status int
				Body   string
			}
		}
		w.api(t, "GET", "/api/v1/probes", "", &probes)
		for _, p := range probes {
			if p.Probe == "shop-home" {
				shop = p.Target
			}
		}
		for _, p := range probes {
			if p.Probe != "checkout" {
				continue
			}
			if f := p.LastFailure; p.Health != "down" || f == nil || f.Step != "add_to_cart" || f.Status != 503 ||
				!strings.Contains(f.Body, "cart service unavailable") {
				return fmt.Errorf("checkout: %+v", p)
			}
			return nil
		}
		return fmt.Errorf("no checkout probe in %+v", probes)
	})
	var vec []struct {
		Metric map[string]string `json:"metric"`
	}
	w.api(t, "GET", "/api/v1/query?query=probe_journey_failed_step%3D%3D1", "", &struct {
		Result *[]struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}{&vec})
	if len(vec) != 1 || vec[0].Metric["step"] != "add_to_cart" || vec[0].Metric["probe"] != "checkout" || vec[0].Metric["job"] != "probe" {
		t.Errorf("probe_journey_failed_step == 1: %+v", vec)
	}
	page := get(t, w.url+"/probes", "")
	if !strings.Contains(page, `<b class="failed-step">step add_to_cart</b>`) || !strings.Contains(page, "cart service unavailable") {
		t.Errorf("/probes does not name the failing step:\n%s", page)
	}
	eventually(t, 60*time.Second, func() error { _, err := w.firstPage("JourneyStepFailing"); return err })

	target := "/probe?module=http_2xx&target=" + shop
	if got := get(t, w.url+target, ""); !strings.Contains(got, "needs the API bearer token") {
		t.Errorf("/probe without the token: %s", got)
	}
	if got := get(t, w.url+target, w.token); !strings.Contains(got, "probe_success 1\n") || !strings.Contains(got, "probe_http_status_code 200\n") {
		t.Errorf("/probe with the token:\n%s", got)
	}
}

func get(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
