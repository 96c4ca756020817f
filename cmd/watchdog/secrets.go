package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// errSecretMode refuses a secret file that every user of the machine can
// read or write.
var errSecretMode = errors.New("is accessible by other users")

// readSecretFile returns the trimmed contents of the secret file path
// (what names it in messages: "token file"). Like ssh with private keys,
// it refuses a file other users can read or write (any of the mode bits
// 0o007): a token anyone on the machine can read is no secret. A file
// its group can read (0o070) is accepted with a WARN line, because
// container runtimes share mounted secrets with the process through its
// group (Kubernetes fsGroup); chmod 600 silences it. Windows has no such
// mode bits and is not checked.
func readSecretFile(what, path string, log *slog.Logger) (string, error) {
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
			return "", fmt.Errorf("%s %s %w (mode %#o): run chmod 600 %s", what, path, errSecretMode, perm, path)
		}
		if perm&0o070 != 0 {
			log.Warn("secret file is readable by its group; chmod 600 it unless the group is how this process reads it",
				"file", path, "what", what, "mode", fmt.Sprintf("%#o", perm))
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return s, nil
}
