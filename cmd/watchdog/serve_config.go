package main

import (
	_ "embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchdog-sre/watchdog/config"
	"github.com/watchdog-sre/watchdog/demo"
	"github.com/watchdog-sre/watchdog/examples"
)

//go:embed demo.yml
var demoConfig string

// configSource is where serve reads its configuration, at start and on
// every reload: the --config file, or the demo's embedded one.
type configSource struct {
	// name names the file in errors ("demo.yml" for the demo).
	name string
	load func() (*config.Config, error)
	// close stops what the source started (the demo shop) and removes
	// its temporary files.
	close func()
}

// openConfigSource returns the configuration source of o. For the demo it
// starts the built-in shop and writes the example rules to a temporary
// directory; web is the address the watchdog listens on.
func openConfigSource(o *serveOptions, demoMode bool, web string) (*configSource, error) {
	if !demoMode {
		return &configSource{name: o.configFile, close: func() {}, load: func() (*config.Config, error) {
			cfg, err := config.Load(o.configFile)
			if err == nil && o.snapshotPath != "" {
				cfg.Storage.SnapshotPath = o.snapshotPath
			}
			if err == nil && o.chunksDir != "" {
				cfg.Storage.ChunksDir = o.chunksDir
			}
			return cfg, err
		}}, nil
	}
	shopLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for demo shop: %w", err)
	}
	rulesDir, err := extractDemoRules()
	if err != nil {
		shopLn.Close()
		return nil, err
	}
	firstSpike := o.firstSpike
	if firstSpike <= 0 {
		firstSpike = -1 // ShopOptions: negative starts the first spike at once
	}
	firstOutage := o.firstOutage
	if firstOutage <= 0 {
		firstOutage = -1
	}
	shopSrv := &http.Server{Handler: demo.NewShop(demo.ShopOptions{FirstSpike: firstSpike, FirstCartOutage: firstOutage}),
		ReadHeaderTimeout: 10 * time.Second}
	go shopSrv.Serve(shopLn)
	snap := o.snapshotPath
	if snap == "" {
		snap = filepath.Join(os.TempDir(), "watchdog-demo", "snapshot.wds")
	}
	text := strings.NewReplacer("{{WEB}}", web, "{{SHOP}}", shopLn.Addr().String(),
		"{{SNAPSHOT}}", snap, "{{PAGERDB}}", filepath.Join(filepath.Dir(snap), "pager.db"),
		"{{RULES}}", rulesDir).Replace(demoConfig)
	return &configSource{
		name: "demo.yml",
		load: func() (*config.Config, error) {
			cfg, err := config.Parse([]byte(text), "demo.yml")
			if err == nil && o.chunksDir != "" {
				cfg.Storage.ChunksDir = o.chunksDir
			}
			return cfg, err
		},
		close: func() {
			shopSrv.Close()
			os.RemoveAll(rulesDir)
		},
	}, nil
}

// extractDemoRules writes the embedded example rule files (not their tests)
// to a new temporary directory and returns it.
func extractDemoRules() (string, error) {
	dir, err := os.MkdirTemp("", "watchdog-demo-rules")
	if err != nil {
		return "", fmt.Errorf("demo rules: %w", err)
	}
	entries, err := fs.ReadDir(examples.Rules, "rules")
	if err != nil {
		return "", fmt.Errorf("demo rules: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_test.yml") {
			continue
		}
		b, err := fs.ReadFile(examples.Rules, "rules/"+e.Name())
		if err != nil {
			return "", fmt.Errorf("demo rules: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return "", fmt.Errorf("demo rules: %w", err)
		}
	}
	return dir, nil
}
