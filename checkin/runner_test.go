package checkin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/watchdog-sre/watchdog/rules/alertmanager"
)

// recorder collects the alerts a Runner sends and the samples it writes.
type recorder struct {
	mu      sync.Mutex
	alerts  []alertmanager.Alert
	samples map[string]float64 // series → last value
}

func (r *recorder) notify(alerts ...alertmanager.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, alerts...)
}

// take returns the alerts sent since the last take.
func (r *recorder) take() []alertmanager.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.alerts
	r.alerts = nil
	return out
}

func (r *recorder) sample(series string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.samples[series]
	return v, ok
}

type recAppender struct {
	r       *recorder
	pending map[string]float64
}

func (a *recAppender) Append(_ uint64, l labels.Labels, _ int64, v float64) (uint64, error) {
	a.pending[l.String()] = v
	return 0, nil
}

func (a *recAppender) Commit() error {
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	if a.r.samples == nil {
		a.r.samples = map[string]float64{}
	}
	for k, v := range a.pending {
		a.r.samples[k] = v
	}
	return nil
}

func (a *recAppender) Rollback() error { return nil }

const testToken = "0123456789abcdef-token"

var backup = Spec{Name: "backup", Period: 10 * time.Second, Grace: 5 * time.Second, Token: testToken,
	Labels: map[string]string{"severity": "page", "team": "storage"}, Annotations: map[string]string{"runbook_url": "https://runbooks/backup"}}

// start builds a Runner with backup applied and runs it until the test ends.
func start(t *testing.T, rec *recorder, statePath string) (*Runner, context.CancelFunc, chan struct{}) {
	t.Helper()
	r := New(Options{Notify: rec.notify, StatePath: statePath, GeneratorURL: "http://wd/heartbeats",
		Appender: func() Appender { return &recAppender{r: rec, pending: map[string]float64{}} }})
	r.Apply([]Spec{backup})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	synctest.Wait()
	return r, cancel, done
}

func ping(t *testing.T, r *Runner, kind Kind, msg string) Status {
	t.Helper()
	st, err := r.Ping("backup", testToken, kind, msg)
	if err != nil {
		t.Fatalf("Ping %s: %v", kind, err)
	}
	synctest.Wait()
	return st
}

func checkAlert(t *testing.T, got []alertmanager.Alert, name Alert, firing bool, now time.Time) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("alerts %+v, want one %s", got, name)
	}
	a := got[0]
	if a.Labels["alertname"] != string(name) || a.Labels["heartbeat"] != "backup" || a.Labels["team"] != "storage" || a.Labels["severity"] != "page" {
		t.Fatalf("alert labels %v", a.Labels)
	}
	if a.GeneratorURL != "http://wd/heartbeats" {
		t.Errorf("generator URL %q", a.GeneratorURL)
	}
	if firing != a.EndsAt.After(now) {
		t.Fatalf("alert %s endsAt %v at %v, want firing=%v", name, a.EndsAt, now, firing)
	}
	if firing && a.Annotations["runbook_url"] != "https://runbooks/backup" {
		t.Errorf("annotations %v", a.Annotations)
	}
}

// TestRunnerOnTimeAndLate: check-ins on time and late within the grace
// fire nothing; the series say up.
func TestRunnerOnTimeAndLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r, cancel, done := start(t, rec, "")
		defer func() { cancel(); <-done }()
		for range 3 {
			time.Sleep(9 * time.Second)
			if st := ping(t, r, Success, ""); st != StatusUp {
				t.Fatalf("status %s", st)
			}
		}
		time.Sleep(14 * time.Second) // late, within grace
		synctest.Wait()
		if got := r.List()[0].Status; got != StatusLate {
			t.Fatalf("status %s, want late", got)
		}
		r.writeSeries(time.Now())
		if v, ok := rec.sample(`{__name__="watchdog_checkin_up", heartbeat="backup"}`); !ok || v != 1 {
			t.Errorf("up = %v, %v", v, ok)
		}
		if v, ok := rec.sample(`{__name__="watchdog_checkin_state", heartbeat="backup", state="late"}`); !ok || v != 1 {
			t.Errorf("state late = %v, %v", v, ok)
		}
		if v, ok := rec.sample(`{__name__="watchdog_checkin_last_success_timestamp_seconds", heartbeat="backup"}`); !ok || v != float64(time.Now().Add(-14*time.Second).UnixMilli())/1e3 {
			t.Errorf("last success = %v, %v", v, ok)
		}
		ping(t, r, Success, "")
		time.Sleep(14 * time.Second)
		synctest.Wait()
		if a := rec.take(); len(a) != 0 {
			t.Fatalf("alerts %+v, want none", a)
		}
	})
}

// TestRunnerMissed: no check-in for period + grace fires HeartbeatMissed at
// that moment, resends it while it fires, and the next success resolves it.
func TestRunnerMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r, cancel, done := start(t, rec, "")
		defer func() { cancel(); <-done }()
		ping(t, r, Success, "")
		time.Sleep(15 * time.Second) // exactly period + grace: still late
		synctest.Wait()
		if a := rec.take(); len(a) != 0 {
			t.Fatalf("alerts at period+grace: %+v", a)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		a := rec.take()
		checkAlert(t, a, AlertMissed, true, time.Now())
		if want := time.Now().Add(-time.Millisecond); !a[0].StartsAt.Equal(want) {
			t.Errorf("startsAt %v, want %v", a[0].StartsAt, want)
		}
		time.Sleep(time.Minute) // resent
		synctest.Wait()
		checkAlert(t, rec.take(), AlertMissed, true, time.Now())
		if v, ok := rec.sample(`{__name__="watchdog_checkin_up", heartbeat="backup"}`); !ok || v != 0 {
			t.Errorf("up = %v, %v, want 0", v, ok)
		}
		ping(t, r, Success, "")
		checkAlert(t, rec.take(), AlertMissed, false, time.Now().Add(time.Nanosecond))
	})
}

// TestRunnerFailure: /fail fires HeartbeatFailed at once, with the
// message; a success resolves it; start→success measures the run.
func TestRunnerFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r, cancel, done := start(t, rec, "")
		defer func() { cancel(); <-done }()
		ping(t, r, Start, "")
		time.Sleep(2 * time.Second)
		if st := ping(t, r, Fail, "disk full"); st != StatusFailed {
			t.Fatalf("status %s", st)
		}
		a := rec.take()
		checkAlert(t, a, AlertFailed, true, time.Now())
		if a[0].Annotations["message"] != "disk full" {
			t.Errorf("annotations %v", a[0].Annotations)
		}
		time.Sleep(30 * time.Second) // failed stays failed, no missed on top
		synctest.Wait()
		if a := rec.take(); len(a) != 0 {
			t.Fatalf("alerts %+v", a)
		}
		ping(t, r, Start, "")
		time.Sleep(3 * time.Second)
		ping(t, r, Success, "ok")
		checkAlert(t, rec.take(), AlertFailed, false, time.Now().Add(time.Nanosecond))
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if v, ok := rec.sample(`{__name__="watchdog_checkin_last_duration_seconds", heartbeat="backup"}`); !ok || v != 3 {
			t.Errorf("last duration = %v, %v, want 3", v, ok)
		}
	})
}

// TestRunnerRestart: states survive a restart in the middle of a period;
// a deadline that passed while the watchdog was down fires at start, from
// the persisted last success; an alert firing at shutdown is sent again.
func TestRunnerRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "heartbeats.json")
		rec := &recorder{}
		r, cancel, done := start(t, rec, path)
		time.Sleep(3 * time.Second)
		ping(t, r, Success, "first")
		last := time.Now()
		time.Sleep(2 * time.Second) // mid-period
		cancel()
		<-done

		r2, cancel2, done2 := start(t, rec, path)
		got := r2.List()[0]
		if !got.State.LastSuccess.Equal(last) || got.State.Message != "first" || got.Status != StatusUp {
			t.Fatalf("after restart: %+v", got)
		}
		time.Sleep(10 * time.Second) // 15s after the success: late, not missed
		synctest.Wait()
		if a := rec.take(); len(a) != 0 {
			t.Fatalf("alerts %+v", a)
		}
		cancel2()
		<-done2

		time.Sleep(time.Minute) // down across the deadline
		r3, cancel3, done3 := start(t, rec, path)
		a := rec.take()
		checkAlert(t, a, AlertMissed, true, time.Now())
		if want := last.Add(15 * time.Second); !a[0].StartsAt.Equal(want) {
			t.Errorf("startsAt %v, want %v (last success + period + grace)", a[0].StartsAt, want)
		}
		cancel3()
		<-done3

		r4, cancel4, done4 := start(t, rec, path) // the firing alert is sent again
		checkAlert(t, rec.take(), AlertMissed, true, time.Now())
		ping(t, r4, Success, "")
		checkAlert(t, rec.take(), AlertMissed, false, time.Now().Add(time.Nanosecond))
		cancel4()
		<-done4
		_ = r3
	})
}

// TestRunnerCorruptState: an unreadable state file is moved aside and the
// heartbeats start afresh.
func TestRunnerCorruptState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heartbeats.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"heartbeats":{"backup":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("load: %v, want ErrCorrupt", err)
	}
	r := New(Options{StatePath: path})
	r.Apply([]Spec{backup})
	if got := r.List(); len(got) != 1 || got[0].Status != StatusNew {
		t.Fatalf("list %+v", got)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt file not kept: %v", err)
	}
}

// TestRunnerRefused: an unknown name or a wrong token changes nothing and
// fails the same way.
func TestRunnerRefused(t *testing.T) {
	r := New(Options{})
	r.Apply([]Spec{backup})
	before := r.List()
	for _, c := range []struct{ name, token string }{
		{"backup", "wrong"}, {"backup", ""}, {"nope", testToken}, {"nope", ""}, {"backup", testToken + "x"},
	} {
		if _, err := r.Ping(c.name, c.token, Success, "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Ping(%q, %q): %v, want ErrNotFound", c.name, c.token, err)
		}
	}
	if _, err := r.Ping("backup", testToken, Tick, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ping tick: %v", err)
	}
	if after := r.List(); after[0].State != before[0].State {
		t.Errorf("state changed: %+v → %+v", before[0].State, after[0].State)
	}
}

// TestRunnerApply: a reload keeps states, resolves the alert of a removed
// heartbeat, and re-labels a firing one (old resolved, new fired).
func TestRunnerApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r, cancel, done := start(t, rec, "")
		defer func() { cancel(); <-done }()
		if st := ping(t, r, Fail, ""); st != StatusFailed {
			t.Fatal(st)
		}
		rec.take()
		relabeled := backup
		relabeled.Labels = map[string]string{"team": "storage", "severity": "ticket"}
		r.Apply([]Spec{relabeled})
		synctest.Wait()
		a := rec.take()
		if len(a) != 2 || a[0].Labels["severity"] != "page" || a[0].EndsAt.After(time.Now()) ||
			a[1].Labels["severity"] != "ticket" || !a[1].EndsAt.After(time.Now()) {
			t.Fatalf("relabel alerts %+v", a)
		}
		if got := r.List()[0].State.Pings; got != 1 {
			t.Errorf("pings after reload %d, want 1 (state kept)", got)
		}
		r.Apply(nil)
		synctest.Wait()
		a = rec.take()
		if len(a) != 1 || a[0].Labels["severity"] != "ticket" || a[0].EndsAt.After(time.Now()) {
			t.Fatalf("removal alerts %+v", a)
		}
	})
}

// TestRunnerRestartResolves: an alert persisted as firing that the new
// configuration no longer calls for (a longer period) is resolved at start.
func TestRunnerRestartResolves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "heartbeats.json")
		rec := &recorder{}
		_, cancel, done := start(t, rec, path)
		time.Sleep(16 * time.Second)
		synctest.Wait()
		checkAlert(t, rec.take(), AlertMissed, true, time.Now())
		cancel()
		<-done

		r := New(Options{Notify: rec.notify, StatePath: path})
		longer := backup
		longer.Period = time.Hour
		r.Apply([]Spec{longer})
		ctx, cancel2 := context.WithCancel(context.Background())
		done2 := make(chan struct{})
		go func() { r.Run(ctx); close(done2) }()
		synctest.Wait()
		a := rec.take()
		if len(a) != 1 || a[0].Labels["alertname"] != string(AlertMissed) || a[0].Labels["team"] != "storage" || a[0].EndsAt.After(time.Now()) {
			t.Fatalf("alerts at start %+v, want HeartbeatMissed resolved", a)
		}
		cancel2()
		<-done2
	})
}
