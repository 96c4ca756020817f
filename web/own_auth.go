package web

import "net/http"

// HandleOwnAuth registers handler like Handle — request counting and the
// body limit — but without the API token check, for endpoints whose
// requests carry credentials of their own (a heartbeat's check-in token).
// The handler must authenticate every state-changing request itself.
func (h *Handler) HandleOwnAuth(pattern string, handler http.Handler) {
	h.handleOpen(pattern, handler)
}
