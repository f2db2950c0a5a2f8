package build

import (
	"bytes"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-engine/berth/internal/errdefs"
)

// proxyArgs may be given with --build-arg without an ARG in the
// Dockerfile; they reach RUN steps but stay out of history and the cache.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// dockerfile is a parsed Dockerfile and the plan to build it.
type dockerfile struct {
	lex      *shell.Lex
	stages   []instructions.Stage
	metaArgs map[string]string // ARGs before the first FROM, resolved
	metaSet  map[string]bool   // which of them have a value
	target   int
	needed   []int // stages to build, in order
	steps    int   // instructions in the needed stages, FROM included
}

// parseDockerfile parses data and plans the build: which stages the
// target needs (others are skipped) and how many steps that makes.
func parseDockerfile(data []byte, opts Options) (*dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, parseError(err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, &linter.Linter{})
	if err != nil {
		return nil, parseError(err)
	}
	if len(stages) == 0 {
		return nil, errdefs.InvalidParameterf("dockerfile parse error: no build stage in current context")
	}
	df := &dockerfile{lex: shell.NewLex(res.EscapeToken), stages: stages, metaArgs: map[string]string{}, metaSet: map[string]bool{}}

	// The platform ARGs BuildKit predefines, so that FROM
	// --platform=$BUILDPLATFORM and ARG TARGETARCH work: this daemon
	// builds for its own platform only.
	for k, v := range platformArgs() {
		df.metaArgs[k], df.metaSet[k] = v, true
	}
	// Meta ARGs: --build-arg overrides the default; later ones may use
	// earlier ones.
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			val, set := "", false
			if v, ok := opts.BuildArgs[kv.Key]; ok && v != nil {
				val, set = *v, true
			} else if kv.Value != nil {
				exp, _, err := df.lex.ProcessWord(*kv.Value, mapEnv(df.metaArgs))
				if err != nil {
					return nil, errdefs.InvalidParameterf("dockerfile parse error: %v", err)
				}
				val, set = exp, true
			}
			df.metaArgs[kv.Key] = val
			df.metaSet[kv.Key] = set
		}
	}

	df.target = len(stages) - 1
	if opts.Target != "" {
		i, ok := instructions.HasStage(stages, opts.Target)
		if !ok {
			return nil, errdefs.InvalidParameterf("failed to reach build target %s in Dockerfile", opts.Target)
		}
		df.target = i
	}
	// --label adds a LABEL step at the end of the target stage.
	if len(opts.Labels) > 0 {
		keys := make([]string, 0, len(opts.Labels))
		for k := range opts.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			df.stages[df.target].AddCommand(instructions.NewLabelCommand(k, opts.Labels[k], true))
		}
	}

	// The target's dependencies: a base that is another stage, COPY --from.
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		st := &df.stages[i]
		base, err := df.expandMeta(st.BaseName)
		if err != nil {
			return err
		}
		if j, ok := df.stageRef(base, i); ok {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, cmd := range st.Commands {
			c, ok := cmd.(*instructions.CopyCommand)
			if !ok || c.From == "" {
				continue
			}
			from, err := df.expandMeta(c.From)
			if err != nil {
				return err
			}
			if j, ok := df.stageRef(from, i); ok {
				if err := visit(j); err != nil {
					return err
				}
			} else if n, err := strconv.Atoi(from); err == nil && n >= 0 {
				return errdefs.InvalidParameterf("invalid from flag value %s: refers to current or future build stage", from)
			}
		}
		return nil
	}
	if err := visit(df.target); err != nil {
		return nil, err
	}
	for i := range df.stages {
		if need[i] {
			df.needed = append(df.needed, i)
			df.steps += 1 + len(df.stages[i].Commands)
		}
	}
	return df, nil
}

func platformArgs() map[string]string {
	p := "linux/" + goarch
	return map[string]string{
		"BUILDPLATFORM": p, "BUILDOS": "linux", "BUILDARCH": goarch,
		"TARGETPLATFORM": p, "TARGETOS": "linux", "TARGETARCH": goarch,
	}
}

// stageRef resolves a stage name or index used in stage cur (only earlier
// stages count, as in docker).
func (df *dockerfile) stageRef(name string, cur int) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 0 && n < cur {
			return n, true
		}
		return 0, false
	}
	for i := 0; i < cur; i++ {
		if df.stages[i].Name != "" && strings.EqualFold(df.stages[i].Name, name) {
			return i, true
		}
	}
	return 0, false
}

// expandMeta expands a word with the meta ARGs only (FROM, --from).
func (df *dockerfile) expandMeta(word string) (string, error) {
	env := map[string]string{}
	for k, v := range df.metaArgs {
		if df.metaSet[k] {
			env[k] = v
		}
	}
	out, _, err := df.lex.ProcessWord(word, mapEnv(env))
	if err != nil {
		return "", errdefs.InvalidParameterf("%v", err)
	}
	return out, nil
}

// parseError words a parser error as docker does: "dockerfile parse error
// on line N: …".
func parseError(err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "dockerfile parse error") {
		return errdefs.InvalidParameter(err)
	}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return errdefs.InvalidParameterf("dockerfile parse error on line %d: %s", le.Locations[0][0].Start.Line, msg)
	}
	return errdefs.InvalidParameterf("dockerfile parse error: %s", msg)
}

// mapEnv is a shell.EnvGetter over a map.
type mapEnv map[string]string

func (m mapEnv) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func (m mapEnv) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
