// Package layering holds no code: its test checks the module's import
// graph (go list) against the layers the README's Layout section documents,
// and that the watchdog binary links no cloud SDK, Kubernetes client or
// Prometheus server package.
package layering
