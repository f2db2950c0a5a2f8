package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/image/imageconfig"
)

// job is one build in progress.
type job struct {
	b      *Builder
	opts   Options
	bc     *buildContext
	df     *dockerfile
	out    Output
	step   int
	stages map[int]*stageResult
	used   map[string]bool // build args some ARG consumed
}

type stageResult struct {
	id  string
	img dockerspec.DockerOCIImage
}

// state is a stage being built: its current image and what is in scope.
type state struct {
	id     string // "" while a scratch stage has no image yet
	img    dockerspec.DockerOCIImage
	args   map[string]string // declared ARGs that have a value
	cmdSet bool              // CMD given in this stage (ENTRYPOINT then keeps it)
}

func (j *job) run(ctx context.Context) (string, error) {
	j.used = map[string]bool{}
	for _, i := range j.df.needed {
		res, err := j.buildStage(ctx, i)
		if err != nil {
			return "", err
		}
		j.stages[i] = res
	}
	var unused []string
	for k := range j.opts.BuildArgs {
		if !j.used[k] && !proxyArgs[k] && !j.df.metaSet[k] {
			if _, meta := j.df.metaArgs[k]; !meta {
				unused = append(unused, k)
			}
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		j.out.Stream(fmt.Sprintf("[Warning] One or more build-args [%s] were not consumed\n", strings.Join(unused, " ")))
	}
	final := j.stages[j.df.target]
	if final.id == "" {
		return "", errdefs.InvalidParameterf("No image was generated. Is your Dockerfile empty?")
	}
	return final.id, nil
}

func (j *job) stepLine(text string) {
	j.step++
	j.out.Stream(fmt.Sprintf("Step %d/%d : %s\n", j.step, j.df.steps, text))
}

func (j *job) buildStage(ctx context.Context, i int) (*stageResult, error) {
	st := &j.df.stages[i]
	j.stepLine(st.SourceCode)
	s := &state{args: map[string]string{}}
	base, err := j.df.expandMeta(st.BaseName)
	if err != nil {
		return nil, err
	}
	if st.Platform != "" {
		p, err := j.df.expandMeta(st.Platform)
		if err != nil {
			return nil, err
		}
		if err := checkPlatform(p); err != nil {
			return nil, err
		}
	}
	switch ref, isStage := j.df.stageRef(base, i); {
	case strings.EqualFold(base, "scratch"):
		s.img = dockerspec.DockerOCIImage{}
		s.img.Platform = hostPlatform()
	case isStage:
		prev := j.stages[ref]
		s.id, s.img = prev.id, prev.img
		j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(s.id)))
	default:
		img, err := j.baseImage(ctx, base)
		if err != nil {
			return nil, err
		}
		s.id, s.img = img.ID, img.Config
		j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(s.id)))
	}
	// A base image's ONBUILD triggers run first, and are not inherited.
	triggers := s.img.Config.OnBuild
	s.img.Config.OnBuild = nil
	if len(triggers) > 0 {
		word := "triggers"
		if len(triggers) == 1 {
			word = "trigger"
		}
		j.out.Stream(fmt.Sprintf("# Executing %d build %s\n", len(triggers), word))
		for _, t := range triggers {
			res, err := parser.Parse(strings.NewReader(t))
			if err != nil || len(res.AST.Children) != 1 {
				return nil, errdefs.InvalidParameterf("invalid ONBUILD trigger %q", t)
			}
			cmd, err := instructions.ParseCommand(res.AST.Children[0])
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid ONBUILD trigger %q: %v", t, err)
			}
			if err := j.dispatch(ctx, s, cmd, i); err != nil {
				return nil, err
			}
		}
	}
	for _, cmd := range st.Commands {
		j.stepLine(commandText(cmd))
		if err := j.dispatch(ctx, s, cmd, i); err != nil {
			return nil, err
		}
	}
	return &stageResult{id: s.id, img: s.img}, nil
}

func commandText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

// baseImage finds FROM's image, pulling it when missing (or always with
// --pull) if a puller is wired.
func (j *job) baseImage(ctx context.Context, ref string) (Image, error) {
	if j.opts.Pull && j.b.cfg.Puller != nil {
		if err := j.b.cfg.Puller.Pull(ctx, ref, streamWriter{j.out}); err != nil && !errors.Is(err, errdefs.ErrNotImplemented) {
			return Image{}, err
		}
	}
	img, err := j.b.cfg.Images.Image(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) && j.b.cfg.Puller != nil && !j.opts.Pull {
		perr := j.b.cfg.Puller.Pull(ctx, ref, streamWriter{j.out})
		if errors.Is(perr, errdefs.ErrNotImplemented) {
			return Image{}, err // no registry access configured: the image is just missing
		}
		if perr != nil {
			return Image{}, perr
		}
		img, err = j.b.cfg.Images.Image(ctx, ref)
	}
	return img, err
}

// env is what instructions expand with: the ARGs in scope, overridden by
// the config's ENV.
func (s *state) env() mapEnv {
	m := make(mapEnv, len(s.args)+len(s.img.Config.Env))
	for k, v := range s.args {
		m[k] = v
	}
	for _, kv := range s.img.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func (s *state) shell() []string {
	if len(s.img.Config.Shell) > 0 {
		return s.img.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

func (j *job) dispatch(ctx context.Context, s *state, cmd instructions.Command, stage int) error {
	env := s.env()
	expand := func(word string) (string, error) {
		out, _, err := j.df.lex.ProcessWord(word, env)
		return out, err
	}
	if _, isRun := cmd.(*instructions.RunCommand); !isRun {
		if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			if err := e.Expand(expand); err != nil {
				return errdefs.InvalidParameterf("%s: %v", cmd.Name(), err)
			}
		}
		if e, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
			if err := e.ExpandRaw(expand); err != nil {
				return errdefs.InvalidParameterf("%s: %v", cmd.Name(), err)
			}
		}
	}
	cfg := &s.img.Config
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			cfg.Env = imageconfig.SetEnv(cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return j.commitMeta(ctx, s, "ENV "+strings.Join(parts, " "))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return j.commitMeta(ctx, s, "LABEL "+strings.Join(parts, " "))
	case *instructions.MaintainerCommand:
		s.img.Author = c.Maintainer
		return j.commitMeta(ctx, s, "MAINTAINER "+c.Maintainer)
	case *instructions.CmdCommand:
		cfg.Cmd = s.commandLine(c.ShellDependantCmdLine)
		s.cmdSet = true
		return j.commitMeta(ctx, s, fmt.Sprintf("CMD %q", cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = s.commandLine(c.ShellDependantCmdLine)
		if !s.cmdSet {
			cfg.Cmd = nil
		}
		return j.commitMeta(ctx, s, fmt.Sprintf("ENTRYPOINT %q", cfg.Entrypoint))
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var all []string
		for _, p := range c.Ports {
			w, err := expand(p)
			if err != nil {
				return errdefs.InvalidParameterf("EXPOSE: %v", err)
			}
			ports, err := imageconfig.ExpandPorts(w)
			if err != nil {
				return errdefs.InvalidParameter(err)
			}
			for _, port := range ports {
				cfg.ExposedPorts[port] = struct{}{}
			}
			all = append(all, ports...)
		}
		return j.commitMeta(ctx, s, "EXPOSE "+strings.Join(all, " "))
	case *instructions.UserCommand:
		cfg.User = c.User
		return j.commitMeta(ctx, s, "USER "+c.User)
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return errdefs.InvalidParameterf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		return j.commitMeta(ctx, s, fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
		return j.commitMeta(ctx, s, "STOPSIGNAL "+c.Signal)
	case *instructions.HealthCheckCommand:
		hc := *c.Health
		cfg.Healthcheck = &hc
		return j.commitMeta(ctx, s, fmt.Sprintf("HEALTHCHECK &%v", hc))
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
		return j.commitMeta(ctx, s, fmt.Sprintf("SHELL %v", c.Shell))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		return j.commitMeta(ctx, s, "ONBUILD "+c.Expression)
	case *instructions.ArgCommand:
		var parts []string
		for _, kv := range c.Args {
			val, set := "", false
			if v, ok := j.opts.BuildArgs[kv.Key]; ok && v != nil {
				val, set = *v, true
			} else if kv.Value != nil {
				val, set = *kv.Value, true
			} else if j.df.metaSet[kv.Key] {
				val, set = j.df.metaArgs[kv.Key], true
			}
			j.used[kv.Key] = true
			if set {
				s.args[kv.Key] = val
			} else {
				delete(s.args, kv.Key)
			}
			if kv.Value != nil {
				parts = append(parts, kv.Key+"="+*kv.Value)
			} else {
				parts = append(parts, kv.Key)
			}
		}
		// The value given on the command line is part of the key, so a new
		// one rebuilds from here.
		return j.commitMeta(ctx, s, "ARG "+strings.Join(parts, " "), s.argKey())
	case *instructions.WorkdirCommand:
		dir := c.Path
		if !path.IsAbs(dir) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			dir = path.Join(base, dir)
		}
		cfg.WorkingDir = path.Clean(dir)
		return j.workdir(ctx, s)
	case *instructions.RunCommand:
		return j.runStep(ctx, s, c)
	case *instructions.CopyCommand:
		if c.Parents || len(c.ExcludePatterns) > 0 {
			return errdefs.InvalidParameterf("COPY --parents and --exclude need BuildKit")
		}
		return j.copyStep(ctx, s, copySpec{
			text: c.String(), srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
			from: c.From, chown: c.Chown, chmod: c.Chmod, stage: stage,
		})
	case *instructions.AddCommand:
		if c.Checksum != "" || c.KeepGitDir != nil || len(c.ExcludePatterns) > 0 {
			return errdefs.InvalidParameterf("ADD --checksum, --keep-git-dir and --exclude need BuildKit")
		}
		return j.copyStep(ctx, s, copySpec{
			text: c.String(), srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
			chown: c.Chown, chmod: c.Chmod, add: true, unpack: c.Unpack == nil || *c.Unpack, stage: stage,
		})
	}
	return errdefs.InvalidParameterf("unsupported instruction %s", strings.ToUpper(cmd.Name()))
}

// commandLine is a CMD or ENTRYPOINT: the exec form as is, the shell form
// wrapped in the stage's shell.
func (s *state) commandLine(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(append([]string(nil), s.shell()...), strings.Join(c.CmdLine, " "))
}

// argKey is the ARG values in scope (proxy args aside), sorted.
func (s *state) argKey() string {
	keys := make([]string, 0, len(s.args))
	for k := range s.args {
		if !proxyArgs[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + s.args[k] + "\x00")
	}
	return b.String()
}

func configKey(img dockerspec.DockerOCIImage) string {
	data, _ := json.Marshal(struct {
		C dockerspec.DockerOCIImageConfig
		A string
	}{img.Config, img.Author})
	return string(data)
}

// cached looks a step up; a hit whose image is gone is forgotten.
func (j *job) cached(ctx context.Context, key string) (string, bool) {
	if j.opts.NoCache {
		return "", false
	}
	id, ok := j.b.cache.get(key)
	if !ok {
		return "", false
	}
	if !j.b.cfg.Images.Exists(ctx, id) {
		j.b.cache.drop(key)
		return "", false
	}
	return id, true
}

func (j *job) usingCache(s *state, id string) {
	s.id = id
	j.out.Stream(fmt.Sprintf(" ---> Using cache\n ---> %s\n", shortID(id)))
}

// commitMeta records a step that changes only the config.
func (j *job) commitMeta(ctx context.Context, s *state, text string, extra ...string) error {
	createdBy := strings.Join(s.shell(), " ") + " #(nop)  " + text
	key := cacheKey(append([]string{"meta", s.id, createdBy, configKey(s.img)}, extra...)...)
	if id, ok := j.cached(ctx, key); ok {
		j.usingCache(s, id)
		return nil
	}
	id, err := j.b.cfg.Images.Create(ctx, NewImage{Parent: s.id, Config: s.img.Config, CreatedBy: createdBy, Author: s.img.Author})
	if err != nil {
		return err
	}
	if err := j.b.cache.put(key, id); err != nil {
		return err
	}
	s.id = id
	j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(id)))
	return nil
}

// runStep runs a RUN instruction in a container and records its changes.
func (j *job) runStep(ctx context.Context, s *state, c *instructions.RunCommand) error {
	if len(c.FlagsUsed) > 0 {
		return errdefs.InvalidParameterf("the --%s option requires BuildKit", c.FlagsUsed[0])
	}
	args := append([]string(nil), c.CmdLine...)
	if len(c.Files) > 0 {
		// Heredocs, as BuildKit runs them: a lone heredoc is the script;
		// anything more is handed to the shell whole.
		if len(args) != 1 || !c.PrependShell {
			return errdefs.InvalidParameterf("parsing produced an invalid run command: %v", args)
		}
		if hd := parser.MustParseHeredoc(args[0]); hd != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			args = []string{data}
		} else {
			full := args[0]
			for _, f := range c.Files {
				full += "\n" + f.Data + f.Name
			}
			args = []string{full}
		}
	}
	argv := args
	if c.PrependShell {
		argv = append(append([]string(nil), s.shell()...), strings.Join(args, " "))
	}
	if len(argv) == 0 {
		return errdefs.InvalidParameterf("RUN requires at least one argument")
	}
	// Build args in scope reach the command's environment, and (proxy
	// args aside) its history entry, as "|N K=V … cmd".
	envKeys := map[string]bool{}
	for _, kv := range s.img.Config.Env {
		k, _, _ := strings.Cut(kv, "=")
		envKeys[k] = true
	}
	runEnv := append([]string(nil), s.img.Config.Env...)
	var argPairs []string
	keys := make([]string, 0, len(s.args))
	for k := range s.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envKeys[k] {
			runEnv = append(runEnv, k+"="+s.args[k])
		}
		if !proxyArgs[k] {
			argPairs = append(argPairs, k+"="+s.args[k])
		}
	}
	for k, v := range j.opts.BuildArgs {
		if proxyArgs[k] && v != nil && !envKeys[k] {
			if _, declared := s.args[k]; !declared {
				runEnv = append(runEnv, k+"="+*v)
			}
		}
	}
	createdBy := strings.Join(argv, " ")
	if len(argPairs) > 0 {
		createdBy = fmt.Sprintf("|%d %s %s", len(argPairs), strings.Join(argPairs, " "), createdBy)
	}
	key := cacheKey("run", s.id, createdBy, configKey(s.img))
	if id, ok := j.cached(ctx, key); ok {
		j.usingCache(s, id)
		return nil
	}
	if s.id == "" {
		return &StepError{Code: 1, Msg: fmt.Sprintf("The command '%s' returned a non-zero code: 1", strings.Join(argv, " "))}
	}
	var cid string
	id, err := j.b.cfg.Containers.Run(ctx, RunRequest{
		Image:       s.id,
		Cmd:         argv,
		Env:         runEnv,
		User:        s.img.Config.User,
		WorkingDir:  s.img.Config.WorkingDir,
		NetworkMode: j.opts.NetworkMode,
		Output:      streamWriter{j.out},
		OnStart: func(id string) {
			cid = id
			j.out.Stream(fmt.Sprintf(" ---> Running in %s\n", shortID(id)))
		},
		Commit:    s.img.Config,
		CreatedBy: createdBy,
	})
	var exit *ExitError
	if errors.As(err, &exit) {
		return &StepError{Code: exit.Code, Msg: fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(argv, " "), exit.Code)}
	}
	if err != nil {
		return err
	}
	if err := j.b.cache.put(key, id); err != nil {
		return err
	}
	s.id = id
	if cid != "" {
		j.out.Stream(fmt.Sprintf(" ---> Removed intermediate container %s\n", shortID(cid)))
	}
	j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(id)))
	return nil
}

// streamWriter turns a RUN's output into stream messages.
type streamWriter struct{ out Output }

func (w streamWriter) Write(p []byte) (int, error) {
	w.out.Stream(string(p))
	return len(p), nil
}

var _ io.Writer = streamWriter{}

func hostPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: goarch}
}
