// Package secret reads secrets from files the one way the watchdog does:
// refused when other users of the machine can read or write them, bounded
// in size, trimmed, and never empty.
package secret

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// ErrMode refuses a secret file that every user of the machine can read
// or write.
var ErrMode = errors.New("is accessible by other users")

// ErrLineBreak refuses a credential that would break an HTTP header.
var ErrLineBreak = errors.New("contains a line break")

// maxSize bounds what is read of a secret file.
const maxSize = 64 << 10

// ReadFile returns the trimmed contents of the secret file path (what
// names it in messages: "token file"). Like ssh with private keys, it
// refuses a file other users can read or write (any of the mode bits
// 0o007): a token anyone on the machine can read is no secret. A file its
// group can read (0o070) is accepted with a WARN line on log (nil: none),
// because container runtimes share mounted secrets with the process
// through its group (Kubernetes fsGroup); chmod 600 silences it. Windows
// has no such mode bits and is not checked.
func ReadFile(what, path string, log *slog.Logger) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" {
		if perm&0o007 != 0 {
			return "", fmt.Errorf("%s %s %w (mode %#o): run chmod 600 %s", what, path, ErrMode, perm, path)
		}
		if perm&0o070 != 0 && log != nil {
			log.Warn("secret file is readable by its group; chmod 600 it unless the group is how this process reads it",
				"file", path, "what", what, "mode", fmt.Sprintf("%#o", perm))
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSize))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return s, nil
}

// Header returns the Authorization header value "<typ> <credentials of
// file>", read with ReadFile; credentials with a line break are refused.
func Header(typ, file string, log *slog.Logger) (string, error) {
	cred, err := ReadFile("credentials file", file, log)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(cred, "\r\n") {
		return "", fmt.Errorf("credentials file %s %w", file, ErrLineBreak)
	}
	if typ == "" {
		typ = "Bearer"
	}
	return typ + " " + cred, nil
}
