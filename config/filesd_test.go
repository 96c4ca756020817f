package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseFileSD(t *testing.T) {
	want := []StaticConfig{
		{Targets: []string{"node-1:9100", "node-2:9100"}, Labels: map[string]string{"env": "prod", "__meta_x": "y"}},
		{Targets: []string{"[::1]:9090"}},
	}
	tests := []struct {
		file    string
		want    []StaticConfig
		wantErr []string // what follows "file:" in each error: "line: path: message" or " message"
	}{
		{file: "targets.good.json", want: want},
		{file: "targets.good.yml", want: want},
		{file: "scheme.bad.yml", wantErr: []string{
			`3: [0].targets[1]: "http://node-2:9100" must be host:port, without a scheme (set scheme on the job)`,
			`5: [0].labels[""]: "" is not a valid label name`,
			`7: [1]: unknown key "lables"`,
		}},
		{file: "syntax.bad.json", wantErr: []string{`3: invalid character '}' looking for beginning of object key string`}},
		{file: "type.bad.json", wantErr: []string{`2: targets: expected []string, got JSON string`}},
		{file: "unknown.bad.json", wantErr: []string{` unknown field "lables"`}},
		{file: "scheme.bad.json", wantErr: []string{` [0].targets[0]: "https://a:1" must be host:port, without a scheme (set scheme on the job)`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "filesd", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseFileSD(data, path)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, got %+v", got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			w := make([]string, len(tt.wantErr))
			for i, e := range tt.wantErr {
				w[i] = path + ":" + e
			}
			if err.Error() != strings.Join(w, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(w, "\n"))
			}
		})
	}
}

func TestParseFileSDEmpty(t *testing.T) {
	for _, name := range []string{"x.json", "x.yml"} {
		for _, data := range []string{"", "  \n", "[]", "null"} {
			got, err := ParseFileSD([]byte(data), name)
			if err != nil || len(got) != 0 {
				t.Errorf("ParseFileSD(%q, %s) = %v, %v; want no targets", data, name, got, err)
			}
		}
	}
}

func TestParseFileSDTrailingData(t *testing.T) {
	_, err := ParseFileSD([]byte("[]\n\n{}"), "t.json")
	if err == nil || err.Error() != "t.json:3: unexpected data after the list" {
		t.Fatalf("err = %v", err)
	}
}
