package web

import (
	"net/http"

	"github.com/watchdog-sre/watchdog/pager"
)

// cluster serves GET /api/v1/pager/cluster: this replica's name, who holds
// the lease (and its fencing token) until when, and every replica that
// campaigned with when it was last seen. A pager that is not clustered
// reports itself alone ("replica": ""). A database that cannot be read is
// 503 (unavailable).
func (a *pagerAPI) cluster(*http.Request) apiResult {
	st, err := a.o.Pager.Cluster()
	if err != nil {
		return apiResult{err: &apiError{typ: errorUnavailable, code: http.StatusServiceUnavailable,
			msg: "pager cluster status: " + err.Error()}}
	}
	if st.Replicas == nil {
		st.Replicas = []pager.ReplicaStatus{}
	}
	return apiResult{data: st}
}
