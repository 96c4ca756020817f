package heartbeat

import (
	"net/http"
	"net/url"
	"strings"
)

// DefaultOpsgenieURL is the base URL of Opsgenie's API (use
// https://api.eu.opsgenie.com for the EU instance).
const DefaultOpsgenieURL = "https://api.opsgenie.com"

// Opsgenie returns the endpoint of Opsgenie's heartbeat ping API for the
// heartbeat called name: GET <base>/v2/heartbeats/<name>/ping with
// "Authorization: GenieKey <apiKey>". base "" means DefaultOpsgenieURL;
// method "" means GET (the API also takes POST and HEAD).
func Opsgenie(base, name, apiKey, method string) Endpoint {
	if base == "" {
		base = DefaultOpsgenieURL
	}
	h := http.Header{}
	h.Set("Authorization", "GenieKey "+apiKey)
	return Endpoint{
		URL:    strings.TrimSuffix(base, "/") + "/v2/heartbeats/" + url.PathEscape(name) + "/ping",
		Method: method,
		Header: h,
	}
}
