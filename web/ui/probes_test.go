package ui

import (
	"strings"
	"testing"
)

func TestProbesPage(t *testing.T) {
	f := newFixture(t)
	code, body, _ := f.get(t, "/probes")
	if code != 200 {
		t.Fatalf("GET /probes = %d", code)
	}
	for _, want := range []string{
		`1 up · 1 down · 0 not run yet`,
		`<b class="failed-step">step add_to_cart</b>`,
		`<span>HTTP 500</span>`,
		`<div class="reason">status 500 is not 2xx</div>`,
		`<pre class="body">cart is broken &lt;script&gt;alert(1)&lt;/script&gt;</pre>`,
		`data-step="login">login 200</span>`,
		`<span class="badge down" data-step="add_to_cart">add_to_cart 500</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Index(body, `data-probe="checkout"`) > strings.Index(body, `data-probe="home"`) {
		t.Error("the failing probe is not listed first")
	}
}
