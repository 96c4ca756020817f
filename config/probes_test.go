package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestProbesBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"modules", []string{
			`3: probe_modules.a.prober: icmp is not supported (it needs raw or ICMP datagram sockets); use tcp`,
			`7: probe_modules.b.http.valid_status_codes[0]: 99 is not an HTTP status code`,
			`8: probe_modules.b.http.fail_if_body_matches_regexp[0]: invalid regex "(": missing closing )`,
			`9: probe_modules.b.http.preferred_ip_protocol: "ip5" is not ip4 or ip6`,
			`12: probe_modules.c.dns: query_name is required`,
			`13: probe_modules.c.dns.query_type: unknown record type "BOGUS"`,
			`16: probes[0].module: no module "missing" in probe_modules`,
			`18: probes[1].name: duplicate probe name "x" (first in probes[0], line 15)`,
			`20: probes[1].target: "nohost" must be host:port`,
			`22: probes[1].timeout: "20s" is greater than interval "10s"`,
			`23: probes[2].name: "bad name" may hold only letters, digits and _ . : -`,
			`28: probes[2].steps[0].capture[0]: exactly one of json_path, header and regexp is required`,
			`31: probes[2].steps[1].name: duplicate step name "s"`,
			`31: probes[2].steps[1]: url is required`,
			`34: probes[2].labels.job: label "job" is set by the probe`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "probes", tt.file+".bad.yaml")
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			got := strings.ReplaceAll(err.Error(), path+":", "")
			if got != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
