package server

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/berth-engine/berth/internal/server/httputils"
)

// Route is one API endpoint. Path variables are written {name} (one
// segment) or {name:.*} (the rest, slashes included, as image names need).
type Route struct {
	Method  string
	Path    string
	Handler httputils.APIFunc
}

// Router is a group of routes for one resource.
type Router interface {
	Routes() []Route
}

type compiledRoute struct {
	Route
	re    *regexp.Regexp
	names []string
}

var varPattern = regexp.MustCompile(`\{([a-zA-Z]+)(:[^}]*)?\}`)

func compile(r Route) compiledRoute {
	var names []string
	expr := "^"
	rest := r.Path
	for {
		loc := varPattern.FindStringSubmatchIndex(rest)
		if loc == nil {
			expr += regexp.QuoteMeta(rest)
			break
		}
		expr += regexp.QuoteMeta(rest[:loc[0]])
		names = append(names, rest[loc[2]:loc[3]])
		if loc[4] >= 0 {
			expr += "(" + strings.TrimPrefix(rest[loc[4]:loc[5]], ":") + ")"
		} else {
			expr += "([^/]+)"
		}
		rest = rest[loc[1]:]
	}
	expr += "$"
	return compiledRoute{Route: r, re: regexp.MustCompile(expr), names: names}
}

// match finds the route for method and path. When there is none, it
// reports whether the path exists under another method, to tell 405 from 404.
func match(routes []compiledRoute, method, path string) (route *compiledRoute, vars map[string]string, pathExists bool) {
	for _, want := range []string{method, fallbackMethod(method)} {
		if want == "" {
			continue
		}
		for i := range routes {
			cr := &routes[i]
			m := cr.re.FindStringSubmatch(path)
			if m == nil {
				continue
			}
			if cr.Method != want {
				pathExists = true
				continue
			}
			vars = make(map[string]string, len(cr.names))
			for j, n := range cr.names {
				vars[n] = m[j+1]
			}
			return cr, vars, false
		}
	}
	return nil, nil, pathExists
}

// HEAD is answered by the GET route when there is no HEAD route of its own;
// net/http drops the body.
func fallbackMethod(method string) string {
	if method == http.MethodHead {
		return http.MethodGet
	}
	return ""
}
