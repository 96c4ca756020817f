package main

import (
	"log/slog"

	"github.com/watchdog-sre/watchdog/internal/secret"
)

// errSecretMode refuses a secret file that every user of the machine can
// read or write (secret.ErrMode).
var errSecretMode = secret.ErrMode

// readSecretFile is secret.ReadFile: the one way the watchdog reads a
// secret file (mode checked, size bounded, trimmed, never empty).
func readSecretFile(what, path string, log *slog.Logger) (string, error) {
	return secret.ReadFile(what, path, log)
}
