package web

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
)

// maxProfileSeconds bounds the seconds parameter of /debug/pprof/profile
// and /debug/pprof/trace: a profile holds the connection and a trace buffers
// events for that long.
const maxProfileSeconds = 120

// pprofPath reports whether path is one of the Go runtime profiles under
// /debug/pprof/, which need the API token (or an admin's personal token):
// they expose the process's memory and code.
func pprofPath(path string) bool { return strings.HasPrefix(path, "/debug/pprof/") }

// pprofRoutes serves the Go runtime's profiles (heap, allocs, goroutine,
// CPU profile, trace...) under /debug/pprof/ behind the token.
func (h *Handler) pprofRoutes() {
	h.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	h.Handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	h.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	h.Handle("GET /debug/pprof/profile", boundSeconds(http.HandlerFunc(pprof.Profile)))
	h.Handle("GET /debug/pprof/trace", boundSeconds(http.HandlerFunc(pprof.Trace)))
}

// boundSeconds refuses a seconds parameter above maxProfileSeconds.
func boundSeconds(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.FormValue("seconds"); s != "" {
			if n, err := strconv.ParseFloat(s, 64); err != nil || !(n > 0 && n <= maxProfileSeconds) {
				http.Error(w, "seconds must be a number in (0, "+strconv.Itoa(maxProfileSeconds)+"]", http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
