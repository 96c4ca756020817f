package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/annotations"
)

// Error types of the Prometheus API envelope.
const (
	errorTimeout      = "timeout"
	errorCanceled     = "canceled"
	errorExec         = "execution"
	errorBadData      = "bad_data"
	errorInternal     = "internal"
	errorNotFound     = "not_found"
	errorUnauthorized = "unauthorized"
)

// statusClientClosedRequest is the nginx code Prometheus answers when the
// client went away before the query finished.
const statusClientClosedRequest = 499

// apiError is a failure reported in the error envelope.
type apiError struct {
	typ  string
	code int // 0 means the default code of typ
	msg  string
}

func (e *apiError) status() int {
	if e.code != 0 {
		return e.code
	}
	switch e.typ {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return statusClientClosedRequest
	case errorTimeout, errorUnavailable:
		return http.StatusServiceUnavailable
	case errorNotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func badData(err error) *apiError {
	return &apiError{typ: errorBadData, msg: err.Error()}
}

// invalidParam reports a parameter that failed to parse, in Prometheus's
// wording.
func invalidParam(name string, err error) *apiError {
	return &apiError{typ: errorBadData, msg: "invalid parameter \"" + name + "\": " + err.Error()}
}

// classify maps an error from the engine or the storage onto an error type,
// the way Prometheus does.
func classify(err error) *apiError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled):
		return &apiError{typ: errorCanceled, msg: err.Error()}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{typ: errorTimeout, msg: err.Error()}
	case errors.As(err, &storErr):
		return &apiError{typ: errorInternal, msg: err.Error()}
	case errors.Is(err, context.Canceled):
		return &apiError{typ: errorCanceled, msg: err.Error()}
	}
	return &apiError{typ: errorExec, msg: err.Error()}
}

// envelope is the outer object of every API response.
type envelope struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

// apiResult is what an API endpoint returns: data or an error, plus the
// annotations the engine or storage raised.
type apiResult struct {
	data     any
	err      *apiError
	warnings annotations.Annotations
	// query positions annotations in the query text.
	query string
}

type apiFunc func(r *http.Request) apiResult

// wrap turns an apiFunc into a handler writing the envelope.
func (h *Handler) wrap(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := f(r)
		if res.err != nil {
			h.respondError(w, res.err)
			return
		}
		h.respond(w, res)
	})
}

func (h *Handler) respond(w http.ResponseWriter, res apiResult) {
	warns, infos := res.warnings.AsStrings(res.query, 10, 10)
	h.writeJSON(w, http.StatusOK, &envelope{
		Status:   "success",
		Data:     res.data,
		Warnings: warns,
		Infos:    infos,
	})
}

func (h *Handler) respondError(w http.ResponseWriter, e *apiError) {
	h.writeJSON(w, e.status(), &envelope{
		Status:    "error",
		ErrorType: e.typ,
		Error:     e.msg,
	})
}

func (h *Handler) writeJSON(w http.ResponseWriter, code int, env *envelope) {
	b, err := json.Marshal(env)
	if err != nil {
		h.logger.Error("encode response", "err", err)
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(b); err != nil {
		h.logger.Debug("write response", "err", err)
	}
}
