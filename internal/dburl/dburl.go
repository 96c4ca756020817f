// Package dburl tells PostgreSQL URLs from SQLite file names and redacts
// their passwords, for the configuration and the pager's store alike.
package dburl

import (
	"net/url"
	"strings"
)

// IsPostgres reports whether s is a postgres:// or postgresql:// URL
// rather than a file name.
func IsPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns s with the password of a PostgreSQL URL (in the user
// part or a password parameter) replaced by "xxxxx"; other strings as
// they are. A URL that does not parse is replaced whole.
func Redact(s string) string {
	if !IsPostgres(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
