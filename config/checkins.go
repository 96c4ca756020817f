package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/prometheus/common/model"
)

// Check-in defaults and bounds.
const (
	// DefaultCheckinGrace is how long after its period a heartbeat is late
	// before it is missed, when grace is not set.
	DefaultCheckinGrace = model.Duration(time.Minute)
	// MinCheckinPeriod is the shortest period (and grace) a heartbeat may have.
	MinCheckinPeriod = model.Duration(time.Second)
	// MaxCheckins bounds the heartbeats of one configuration.
	MaxCheckins = 10_000
)

// checkinName is what a heartbeat name may be: it is a path segment of the
// check-in URLs and a label value.
var checkinName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// CheckinConfig is one entry of the `heartbeats:` list: a job that must
// check in (POST /api/v1/heartbeats/NAME) at least every Period. A check-in
// later than Period is late; later than Period + Grace it is missed and an
// alert HeartbeatMissed fires; a job that reports failure (…/NAME/fail)
// fires HeartbeatFailed. The next successful check-in resolves either.
// This is the opposite direction of the `heartbeat:` section (the
// watchdog's own dead man's switch, calling out). The list is reloadable.
type CheckinConfig struct {
	// Name identifies the heartbeat in its URL, the label heartbeat=NAME
	// and the console.
	Name string `yaml:"name"`
	// Period is the longest expected time between two successful check-ins.
	Period model.Duration `yaml:"period"`
	// Grace is how long a check-in may be late before it counts as missed
	// (default 1m).
	Grace model.Duration `yaml:"grace"`
	// TokenFile or TokenEnv hold the heartbeat's own secret token, which a
	// check-in must carry (in the URL, ?token= or "Authorization: Bearer").
	// Exactly one is set; inline tokens are refused.
	TokenFile string `yaml:"token_file,omitempty"`
	TokenEnv  string `yaml:"token_env,omitempty"`
	// Labels are added to the heartbeat's alerts (severity, team, ...).
	Labels map[string]string `yaml:"labels,omitempty"`
	// Annotations are added to the heartbeat's alerts (summary, runbook_url, ...).
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

func validateCheckins(r *report, path string, cs []*CheckinConfig, scheme model.ValidationScheme) {
	if len(cs) > MaxCheckins {
		r.errorf(path, "%d heartbeats, more than the limit of %d", len(cs), MaxCheckins)
		return
	}
	names := map[string]string{}
	for i, c := range cs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if c == nil {
			continue // reported by the decoder as an empty entry
		}
		c.validate(r, p, scheme)
		if c.Name == "" {
			continue
		}
		if first, dup := names[c.Name]; dup {
			r.errorf(p+".name", "duplicate heartbeat name %q (first in %s, line %d)", c.Name, first, r.lineOf(first))
			continue
		}
		names[c.Name] = p
	}
}

func (c *CheckinConfig) validate(r *report, path string, scheme model.ValidationScheme) {
	switch {
	case c.Name == "":
		r.errorf(path, "a heartbeat needs a name")
	case !checkinName.MatchString(c.Name):
		r.errorf(path+".name", "%q is not a heartbeat name (letters, digits, '_', '.', '-'; at most 128; starting with a letter or digit)", c.Name)
	}
	switch {
	case c.Period == 0:
		r.errorf(path, "a heartbeat needs a period")
	case c.Period < MinCheckinPeriod:
		r.errorf(path+".period", "%q is shorter than 1s", c.Period)
	}
	switch {
	case c.Grace == 0:
		c.Grace = DefaultCheckinGrace
	case c.Grace < MinCheckinPeriod:
		r.errorf(path+".grace", "%q is shorter than 1s", c.Grace)
	}
	if (c.TokenFile == "") == (c.TokenEnv == "") {
		r.errorf(path, "a heartbeat needs exactly one of token_file and token_env")
	}
	if c.TokenEnv != "" && !envName.MatchString(c.TokenEnv) {
		r.errorf(path+".token_env", "%q is not an environment variable name", c.TokenEnv)
	}
	validateLabels(r, path+".labels", c.Labels, scheme)
	for _, reserved := range []string{"alertname", "heartbeat"} {
		if _, ok := c.Labels[reserved]; ok {
			r.errorf(joinPath(path+".labels", reserved), "label %q is set by the watchdog", reserved)
		}
	}
	validateLabels(r, path+".annotations", c.Annotations, model.UTF8Validation)
}

// checkinFiles lists the token files of the heartbeats, for Config.files.
func checkinFiles(path string, cs []*CheckinConfig) []fileRef {
	var out []fileRef
	for i, c := range cs {
		if c != nil {
			out = append(out, fileRef{ptr: &c.TokenFile, path: fmt.Sprintf("%s[%d].token_file", path, i), secret: true})
		}
	}
	return out
}
