package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/watchdog-sre/watchdog/pager"
)

// postableAlert is one alert of an Alertmanager API v2 POST /api/v2/alerts
// body, the shape Prometheus and vmalert send.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// validate checks a as Alertmanager does; now fills a missing startsAt.
func (a *postableAlert) validate(now time.Time) error {
	if len(a.Labels) == 0 {
		return errors.New("labels: at least one label is required")
	}
	for k, v := range a.Labels {
		if k == "" || !model.UTF8Validation.IsValidLabelName(k) {
			return fmt.Errorf("labels: invalid label name %q", k)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("labels: invalid value of %q: not UTF-8", k)
		}
	}
	for k, v := range a.Annotations {
		if k == "" || !utf8.ValidString(v) {
			return fmt.Errorf("annotations: invalid annotation %q", k)
		}
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	if !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return errors.New("endsAt is before startsAt")
	}
	return nil
}

// AlertBuffer holds alerts the pager could not take, in order, and hands
// them to it once it can (cmd/watchdog's bounded in-memory alert queue).
type AlertBuffer interface {
	// Holding reports whether alerts are waiting or being handed over;
	// newer ones then queue behind them, so that an alert's end never
	// overtakes its start.
	Holding() bool
	// Hold queues alerts; it never blocks (a full queue drops its oldest).
	Hold(alerts ...pager.Alert)
}

// receive serves POST /api/v2/alerts, the Alertmanager receiver: a JSON
// array of postable alerts is routed into incidents. A body that does not
// decode or holds an invalid alert is refused whole (400, or 413 when over
// MaxRequestBodyBytes) and nothing is received. Like every state-changing
// call it needs the bearer token: give Prometheus an authorization block
// (credentials_file) in its alertmanager_config.
//
// An alert without endsAt resolves after the pager's resolve_timeout
// (default 5m) unless it is sent again, as in Alertmanager; Prometheus
// always sends endsAt.
//
// With a Buffer, alerts the pager refuses (its database is down), and any
// that arrive while earlier ones are still held, are queued and answered
// 200 with "queued": true; they become incidents once the database is
// back. Without one the refusal is a 500 and the sender retries.
//
// At most PagerOptions.MaxConcurrentReceives bodies are decoded at once
// (see there); the others wait, their bodies read.
func (a *pagerAPI) receive(h *Handler, w http.ResponseWriter, r *http.Request) {
	// Read the body before taking a slot: a slow sender holds none.
	body, err := io.ReadAll(r.Body) // bounded by the handler's MaxBytesReader
	if err != nil {
		h.respondError(w, bodyError(err))
		return
	}
	select {
	case a.ingest <- struct{}{}:
	case <-r.Context().Done():
		h.respondError(w, &apiError{typ: errorUnavailable, code: http.StatusServiceUnavailable,
			msg: "receive alerts: gave up waiting for other POSTs: " + r.Context().Err().Error()})
		return
	}
	in, aerr := a.decodeAlerts(body)
	<-a.ingest // the pager's group commit serialises what follows
	if aerr != nil {
		h.respondError(w, aerr)
		return
	}
	if buf := a.o.Buffer; buf != nil && buf.Holding() {
		buf.Hold(in...)
		h.respond(w, apiResult{data: receivedView{Received: len(in), Queued: true}})
		return
	}
	receive := a.o.Pager.Receive
	if o, ok := a.o.Pager.(ownedReceiver); ok {
		receive = o.ReceiveOwned // in holds fresh maps nobody else has
	}
	if err := receive(in...); err != nil {
		if buf := a.o.Buffer; buf != nil {
			h.logger.Warn("pager receive failed: alerts queued until the pager takes them", "alerts", len(in), "err", err)
			buf.Hold(in...)
			h.respond(w, apiResult{data: receivedView{Received: len(in), Queued: true}})
			return
		}
		h.logger.Error("pager receive", "err", err)
		h.respondError(w, &apiError{typ: errorInternal, msg: "receive alerts: " + err.Error()})
		return
	}
	h.respond(w, apiResult{data: receivedView{Received: len(in)}})
}

// decodeAlerts decodes and checks a POST /api/v2/alerts body.
func (a *pagerAPI) decodeAlerts(body []byte) ([]pager.Alert, *apiError) {
	alerts, err := decodePostableAlerts(body)
	if err != nil {
		return nil, bodyError(err)
	}
	now := a.now()
	in := make([]pager.Alert, 0, len(alerts))
	for i := range alerts {
		pa := &alerts[i]
		if err := pa.validate(now); err != nil {
			return nil, badData(fmt.Errorf("alert %d: %w", i, err))
		}
		in = append(in, pager.Alert{Labels: pa.Labels, Annotations: pa.Annotations, StartsAt: pa.StartsAt,
			EndsAt: pa.EndsAt, GeneratorURL: pa.GeneratorURL, Timeout: pa.EndsAt.IsZero()})
	}
	return in, nil
}

// ownedReceiver is a Pager that can keep the alerts' maps it is handed
// instead of copying them (pager.Pager.ReceiveOwned).
type ownedReceiver interface {
	ReceiveOwned(alerts ...pager.Alert) error
}

// defaultConcurrentReceives is the default of
// PagerOptions.MaxConcurrentReceives: one less than the Go scheduler's
// processors, at least one.
func defaultConcurrentReceives() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// receivedView is the data of POST /api/v2/alerts's answer.
type receivedView struct {
	Received int `json:"received"`
	// Queued: the alerts wait in the in-memory queue for the pager.
	Queued bool `json:"queued,omitempty"`
}
