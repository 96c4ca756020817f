package config

import "fmt"

// StatusPage is the `status_page:` section: the components the public
// status page (/status) shows. A component is affected by an open incident
// whose route is one of Routes, or one of whose alerts matches every
// matcher of Matchers (Alertmanager syntax, as in the pager's routes; they
// are parsed by the web console, which reports bad ones at start).
type StatusPage struct {
	// Title heads the page; "" means "Service status".
	Title      string            `yaml:"title,omitempty"`
	Components []StatusComponent `yaml:"components,omitempty"`
}

// StatusComponent is one row of the status page.
type StatusComponent struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description,omitempty"`
	Routes      []string `yaml:"routes,omitempty"`
	Matchers    []string `yaml:"matchers,omitempty"`
}

// IsZero reports whether the file has no status_page section (for omitempty).
func (s StatusPage) IsZero() bool { return s.Title == "" && len(s.Components) == 0 }

func (s *StatusPage) validate(r *report, path string) {
	seen := map[string]bool{}
	for i, c := range s.Components {
		p := fmt.Sprintf("%s.components[%d]", path, i)
		switch {
		case c.Name == "":
			r.errorf(p+".name", "a component needs a name")
		case seen[c.Name]:
			r.errorf(p+".name", "duplicate component %q", c.Name)
		}
		seen[c.Name] = true
		if len(c.Routes) == 0 && len(c.Matchers) == 0 {
			r.errorf(p, "component %q needs routes or matchers", c.Name)
		}
	}
}
