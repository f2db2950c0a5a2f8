package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/image/imageconfig"
)

// applyChanges applies Dockerfile instructions (`docker import --change`,
// `docker commit --change`) to cfg, with the Dockerfile's syntax: JSON or
// shell form for CMD, ENTRYPOINT and friends, key=value pairs with quotes
// and $VARIABLE expansion for ENV and LABEL. Only the instructions that
// change the config are allowed, as with dockerd.
func applyChanges(cfg *dockerspec.DockerOCIImageConfig, changes []string) error {
	cmdSet := false
	for _, change := range changes {
		for _, line := range joinContinuations(change) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			instr, rest, _ := strings.Cut(line, " ")
			if i := strings.IndexAny(line, " \t"); i >= 0 {
				instr, rest = line[:i], strings.TrimSpace(line[i+1:])
			}
			if err := applyChange(cfg, strings.ToLower(instr), rest, &cmdSet); err != nil {
				return errdefs.InvalidParameter(err)
			}
		}
	}
	return nil
}

// joinContinuations splits a change into Dockerfile lines, joining lines
// that end in a backslash.
func joinContinuations(s string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimRight(l, " \t\r"); strings.HasSuffix(t, `\`) {
			cur.WriteString(strings.TrimSuffix(t, `\`))
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func applyChange(cfg *dockerspec.DockerOCIImageConfig, instr, rest string, cmdSet *bool) error {
	env := envMap(cfg.Env)
	switch instr {
	case "cmd":
		cfg.Cmd = commandLine(rest, cfg.Shell)
		*cmdSet = true
	case "entrypoint":
		cfg.Entrypoint = commandLine(rest, cfg.Shell)
		if rest == "" {
			cfg.Entrypoint = nil
		}
		// A new entrypoint voids an inherited CMD, unless CMD was set here.
		if !*cmdSet {
			cfg.Cmd = nil
		}
	case "env":
		pairs, err := keyValues("ENV", rest, env)
		if err != nil {
			return err
		}
		for _, kv := range pairs {
			cfg.Env = imageconfig.SetEnv(cfg.Env, kv[0], kv[1])
			env[kv[0]] = kv[1]
		}
	case "label":
		pairs, err := keyValues("LABEL", rest, env)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "expose":
		words, err := shellWords(rest, env)
		if err != nil {
			return err
		}
		if len(words) == 0 {
			return fmt.Errorf("EXPOSE requires at least one argument")
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, w := range words {
			ports, err := imageconfig.ExpandPorts(w)
			if err != nil {
				return err
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case "user":
		words, err := shellWords(rest, env)
		if err != nil || len(words) != 1 {
			return fmt.Errorf("USER requires exactly one argument")
		}
		cfg.User = words[0]
	case "workdir":
		words, err := shellWords(rest, env)
		if err != nil || len(words) != 1 {
			return fmt.Errorf("WORKDIR requires exactly one argument")
		}
		dir := words[0]
		if !path.IsAbs(dir) {
			dir = path.Join("/", cfg.WorkingDir, dir)
		}
		cfg.WorkingDir = path.Clean(dir)
	case "volume":
		vols, isJSON := jsonArray(rest)
		if !isJSON {
			var err error
			if vols, err = shellWords(rest, env); err != nil {
				return err
			}
		}
		if len(vols) == 0 {
			return fmt.Errorf("VOLUME requires at least one argument")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			if v = strings.TrimSpace(v); v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "stopsignal":
		words, err := shellWords(rest, env)
		if err != nil || len(words) != 1 {
			return fmt.Errorf("STOPSIGNAL requires exactly one argument")
		}
		cfg.StopSignal = words[0]
	case "onbuild":
		trigger, args, _ := strings.Cut(strings.TrimSpace(rest), " ")
		switch strings.ToUpper(trigger) {
		case "":
			return fmt.Errorf("ONBUILD requires at least one argument")
		case "ONBUILD":
			return fmt.Errorf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "MAINTAINER", "FROM":
			return fmt.Errorf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(trigger))
		}
		cfg.OnBuild = append(cfg.OnBuild, strings.TrimSpace(strings.ToUpper(trigger)+" "+args))
	case "healthcheck":
		return healthcheck(cfg, rest)
	default:
		return fmt.Errorf("%s is not a valid change command", instr)
	}
	return nil
}

// commandLine is a CMD or ENTRYPOINT argument: a JSON array (exec form) or
// a command for the shell.
func commandLine(rest string, shell []string) []string {
	if args, ok := jsonArray(rest); ok {
		return args
	}
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), shell...), rest)
}

func jsonArray(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, false
	}
	return out, true
}

func healthcheck(cfg *dockerspec.DockerOCIImageConfig, rest string) error {
	words := strings.Fields(rest)
	if len(words) == 0 {
		return fmt.Errorf("HEALTHCHECK requires an argument")
	}
	if strings.EqualFold(words[0], "NONE") {
		if len(words) > 1 {
			return fmt.Errorf("HEALTHCHECK NONE takes no arguments")
		}
		cfg.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
		return nil
	}
	hc := &dockerspec.HealthcheckConfig{}
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		name, val, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return fmt.Errorf("HEALTHCHECK flag --%s needs a value", name)
		}
		switch name {
		case "interval", "timeout", "start-period", "start-interval":
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("HEALTHCHECK --%s: %v", name, err)
			}
			switch name {
			case "interval":
				hc.Interval = d
			case "timeout":
				hc.Timeout = d
			case "start-period":
				hc.StartPeriod = d
			default:
				hc.StartInterval = d
			}
		case "retries":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("HEALTHCHECK --retries: invalid value %q", val)
			}
			hc.Retries = n
		default:
			return fmt.Errorf("unknown flag: --%s", name)
		}
	}
	kind, cmd, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(kind, "CMD") {
		return fmt.Errorf("unknown type for HEALTHCHECK: %q", kind)
	}
	if args, ok := jsonArray(cmd); ok {
		hc.Test = append([]string{"CMD"}, args...)
	} else {
		hc.Test = []string{"CMD-SHELL", strings.TrimSpace(cmd)}
	}
	cfg.Healthcheck = hc
	return nil
}

// keyValues parses ENV and LABEL arguments: key=value pairs, or the legacy
// "key value with spaces" form when the first word has no '='.
func keyValues(instr, rest string, env map[string]string) ([][2]string, error) {
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return nil, fmt.Errorf("%s requires at least one argument", instr)
	}
	first, after, _ := strings.Cut(rest, " ")
	if !strings.Contains(first, "=") {
		if strings.TrimSpace(after) == "" {
			return nil, fmt.Errorf("%s must have two arguments", instr)
		}
		words, err := shellWords(strings.TrimSpace(after), env)
		if err != nil {
			return nil, err
		}
		return [][2]string{{first, strings.Join(words, " ")}}, nil
	}
	words, err := shellWords(rest, env)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits s into words with the Dockerfile's quoting: single
// quotes keep everything, double quotes allow \ escapes and $expansion,
// and unquoted text allows both.
func shellWords(s string, env map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unexpected end of statement while looking for matching single-quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0:
					i++
					cur.WriteByte(s[i])
				case s[i] == '$':
					n, v := expand(s[i:], env)
					cur.WriteString(v)
					i += n - 1
				default:
					cur.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unexpected end of statement while looking for matching double-quote")
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		case c == '$':
			inWord = true
			n, v := expand(s[i:], env)
			cur.WriteString(v)
			i += n - 1
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// expand reads a $NAME or ${NAME}, ${NAME:-default}, ${NAME:+alt} at the
// start of s and returns how many bytes it used and its value.
func expand(s string, env map[string]string) (int, string) {
	if len(s) < 2 {
		return 1, "$"
	}
	if s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 1, "$"
		}
		inner := s[2:end]
		name, word := inner, ""
		op := ""
		if i := strings.Index(inner, ":"); i >= 0 && i+1 < len(inner) {
			name, op, word = inner[:i], inner[i:i+2], inner[i+2:]
		}
		v, ok := env[name]
		switch op {
		case ":-":
			if !ok || v == "" {
				v = word
			}
		case ":+":
			if ok && v != "" {
				v = word
			} else {
				v = ""
			}
		}
		return end + 1, v
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 1 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return 1, "$"
	}
	return n, env[s[1:n]]
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
