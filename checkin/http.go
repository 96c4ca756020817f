package checkin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBodyBytes bounds a check-in's body.
const MaxBodyBytes = 1 << 20

// Register adds the check-in endpoints to a mux through handle:
//
//	POST /api/v1/heartbeats/NAME[/TOKEN]          success
//	POST /api/v1/heartbeats/NAME[/TOKEN]/fail     failure
//	POST /api/v1/heartbeats/NAME[/TOKEN]/start    a run started
//	GET  /api/v1/heartbeats                       the list (never a token)
//
// The token comes in the path, in ?token= or in "Authorization: Bearer
// TOKEN". An unknown name and a wrong token both answer 404. Only POST
// changes anything: other methods on a check-in URL answer 405 (a link
// followed by a crawler or a chat preview does nothing). The last
// MaxMessageBytes of the body are kept as the message; a body over
// MaxBodyBytes is refused (413) and changes nothing.
func Register(handle func(pattern string, h http.Handler), r *Runner) {
	const base = "/api/v1/heartbeats/{name}"
	for _, tok := range []string{"", "/{token}"} {
		handle("POST "+base+tok, r.pingHandler(Success))
		handle("POST "+base+tok+"/fail", r.pingHandler(Fail))
		handle("POST "+base+tok+"/start", r.pingHandler(Start))
	}
	handle("GET /api/v1/heartbeats", http.HandlerFunc(r.serveList))
}

func (r *Runner) pingHandler(kind Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token := req.PathValue("token")
		if token == "" {
			token = req.URL.Query().Get("token")
		}
		if token == "" {
			token = bearer(req.Header.Get("Authorization"))
		}
		msg, err := readMessage(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"status": "error", "errorType": "bad_data",
				"error": "body larger than 1 MiB: send its tail (tail -c 1024)"})
			return
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "errorType": "bad_data", "error": "read body: " + err.Error()})
			return
		}
		st, err := r.Ping(req.PathValue("name"), token, kind, msg)
		if errors.Is(err, ErrNotFound) {
			writeJSON(w, http.StatusNotFound, map[string]string{"status": "error", "errorType": "not_found", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]string{"state": string(st)}})
	})
}

// readMessage reads body to its end and returns its last MaxMessageBytes
// (the end of a log is where the error is), as valid UTF-8.
func readMessage(body io.Reader) (string, error) {
	if body == nil {
		return "", nil
	}
	var tail []byte
	buf := make([]byte, 4096)
	for {
		n, err := body.Read(buf)
		tail = append(tail, buf[:n]...)
		if len(tail) > 4*MaxMessageBytes {
			tail = append(tail[:0], tail[len(tail)-MaxMessageBytes:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(tail) > MaxMessageBytes {
		tail = tail[len(tail)-MaxMessageBytes:]
		// Drop a rune cut at the start rather than turning it into U+FFFD.
		for i := 0; i < utf8.UTFMax-1 && len(tail) > 0 && !utf8.RuneStart(tail[0]); i++ {
			tail = tail[1:]
		}
	}
	return strings.ToValidUTF8(string(tail), "\uFFFD"), nil
}

// bearer returns the credentials of "Bearer <credentials>" (scheme
// case-insensitive), else "".
func bearer(h string) string {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// jsonHeartbeat is one heartbeat of GET /api/v1/heartbeats.
type jsonHeartbeat struct {
	Name         string            `json:"name"`
	State        Status            `json:"state"`
	Period       float64           `json:"period"` // seconds
	Grace        float64           `json:"grace"`
	Labels       map[string]string `json:"labels,omitempty"`
	LastPing     *time.Time        `json:"lastPing,omitempty"`
	LastSuccess  *time.Time        `json:"lastSuccess,omitempty"`
	LastFailure  *time.Time        `json:"lastFailure,omitempty"`
	Started      *time.Time        `json:"started,omitempty"`
	LastDuration float64           `json:"lastDuration,omitempty"` // seconds
	NextDue      time.Time         `json:"nextDue"`
	Alert        Alert             `json:"alert,omitempty"`
	Message      string            `json:"message,omitempty"`
	Pings        uint64            `json:"pings"`
}

func (r *Runner) serveList(w http.ResponseWriter, _ *http.Request) {
	list := r.List()
	out := make([]jsonHeartbeat, 0, len(list))
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	for _, in := range list {
		out = append(out, jsonHeartbeat{
			Name: in.Spec.Name, State: in.Status, Period: in.Spec.Period.Seconds(), Grace: in.Spec.Grace.Seconds(),
			Labels: in.Spec.Labels, LastPing: opt(in.State.LastPing), LastSuccess: opt(in.State.LastSuccess),
			LastFailure: opt(in.State.LastFailure), Started: opt(in.State.Started),
			LastDuration: in.State.LastDuration.Seconds(), NextDue: in.NextDue, Alert: in.State.Alert,
			Message: in.State.Message, Pings: in.State.Pings,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"heartbeats": out}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
