package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

const (
	contentTypeJSON = "application/json"
	userAgent       = "Watchdog"
	// timeFormat is what Alertmanager's own client writes (strfmt.DateTime).
	timeFormat = "2006-01-02T15:04:05.000Z07:00"
	// maxErrBody is how much of an error response is quoted in the error.
	maxErrBody = 256
)

// Backoff bounds used by DefaultBackoff.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// DefaultBackoff is capped exponential backoff with jitter: before retry n
// it waits a random duration in [d/2, d), d = min(500ms·2^(n-1), 30s).
func DefaultBackoff(attempt int) time.Duration {
	d := backoffMax
	if attempt >= 1 && attempt < 16 {
		d = min(backoffBase<<(attempt-1), backoffMax)
	}
	return d/2 + rand.N(d/2)
}

// postableAlert is one element of the Alertmanager API v2 postableAlerts
// body: labels are required, the rest optional.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// encode renders a batch as a postableAlerts JSON array.
func encode(alerts []Alert) ([]byte, error) {
	out := make([]postableAlert, len(alerts))
	for i, a := range alerts {
		lbls := a.Labels
		if lbls == nil {
			lbls = map[string]string{}
		}
		out[i] = postableAlert{
			Labels:       lbls,
			Annotations:  a.Annotations,
			StartsAt:     formatTime(a.StartsAt),
			EndsAt:       formatTime(a.EndsAt),
			GeneratorURL: a.GeneratorURL,
		}
	}
	return json.Marshal(out)
}

// deliver sends one batch to t, retrying with backoff, and counts the
// outcome.
func (s *Sender) deliver(ctx context.Context, t *target, batch []Alert) {
	body, err := encode(batch)
	if err != nil {
		// Maps of strings and strings always encode.
		panic("BUG: alertmanager: encode alerts: " + err.Error())
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t.retries.Inc()
			timer := time.NewTimer(s.opts.Backoff(attempt))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		retry, err := s.send(ctx, t, body)
		if err == nil {
			t.sent.Add(len(batch))
			return
		}
		if ctx.Err() != nil {
			return // shutting down: neither sent nor failed
		}
		if !retry || attempt >= s.opts.MaxRetries {
			t.failed.Add(len(batch))
			s.log.Error("alertmanager: giving up on alerts", "alertmanager", t.base,
				"alerts", len(batch), "attempts", attempt+1, "retryable", retry, "err", err)
			return
		}
		s.log.Warn("alertmanager: send failed, will retry", "alertmanager", t.base,
			"alerts", len(batch), "attempt", attempt+1, "err", err)
	}
}

// send makes one attempt, bounded by the Sender's Timeout. retry reports
// whether a later attempt may succeed: network errors, 429 and 5xx.
func (s *Sender) send(ctx context.Context, t *target, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentTypeJSON)
	req.Header.Set("User-Agent", userAgent)
	if s.opts.Authorization != nil {
		v, err := s.opts.Authorization(t.base)
		if err != nil {
			// A missing or unreadable credentials file: a later
			// attempt may find it (it is read at each send).
			return true, fmt.Errorf("authorization: %w", err)
		}
		if v != "" {
			req.Header.Set("Authorization", v)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("post alerts: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("post alerts: %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5, err
}
