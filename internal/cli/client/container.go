package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/apiext"
)

// flag sets query parameter k to "1" when b is true.
func flag(q url.Values, k string, b bool) {
	if b {
		q.Set(k, "1")
	}
}

// setIf sets query parameter k when v is not empty.
func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

type ContainerListOptions struct {
	Size    bool
	All     bool
	Limit   int
	Filters Filters
}

type ContainerListResult struct {
	Items []container.Summary
}

func (c *Client) ContainerList(ctx context.Context, o ContainerListOptions) (ContainerListResult, error) {
	q := url.Values{}
	flag(q, "all", o.All)
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	flag(q, "size", o.Size)
	o.Filters.setQuery(q)
	var r ContainerListResult
	err := c.callJSON(ctx, http.MethodGet, "/containers/json", q, nil, &r.Items)
	return r, err
}

type ContainerCreateOptions struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
	Platform         *ocispec.Platform
	Name             string
}

type ContainerCreateResult struct {
	ID       string
	Warnings []string
}

func (c *Client) ContainerCreate(ctx context.Context, o ContainerCreateOptions) (ContainerCreateResult, error) {
	if o.Config == nil || o.Config.Image == "" {
		return ContainerCreateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("config.Image or Image is required")
	}
	q := url.Values{}
	if o.Platform != nil && o.Platform.OS != "" {
		q.Set("platform", formatPlatform(*o.Platform))
	}
	setIf(q, "name", o.Name)
	hc := o.HostConfig
	if hc != nil {
		// Capabilities go as the daemon stores them: CAP_ prefixed, upper
		// case, sorted, once each.
		n := *hc
		n.CapAdd, n.CapDrop = normalizeCaps(hc.CapAdd), normalizeCaps(hc.CapDrop)
		hc = &n
	}
	var resp container.CreateResponse
	err := c.callJSON(ctx, http.MethodPost, "/containers/create", q, container.CreateRequest{
		Config: o.Config, HostConfig: hc, NetworkingConfig: o.NetworkingConfig,
	}, &resp)
	return ContainerCreateResult{ID: resp.ID, Warnings: resp.Warnings}, err
}

func normalizeCaps(caps []string) []string {
	out := slices.Clone(caps)
	for i, c := range out {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// formatPlatform is the os[/arch[/variant]] form of a platform.
func formatPlatform(p ocispec.Platform) string {
	return path.Join(p.OS, p.Architecture, p.Variant)
}

// jsonPlatforms encodes platforms as JSON objects, each once.
func jsonPlatforms(ps []ocispec.Platform) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		b, _ := json.Marshal(p)
		if !slices.Contains(out, string(b)) {
			out = append(out, string(b))
		}
	}
	return out
}

type ContainerInspectOptions struct {
	Size bool
}

type ContainerInspectResult struct {
	Container container.InspectResponse
	Raw       json.RawMessage
}

func (c *Client) ContainerInspect(ctx context.Context, id string, o ContainerInspectOptions) (ContainerInspectResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerInspectResult{}, err
	}
	q := url.Values{}
	flag(q, "size", o.Size)
	var r ContainerInspectResult
	r.Raw, err = c.getRaw(ctx, "/containers/"+id+"/json", q, &r.Container)
	return r, err
}

type ContainerStartOptions struct{}
type ContainerStartResult struct{}

func (c *Client) ContainerStart(ctx context.Context, id string, _ ContainerStartOptions) (ContainerStartResult, error) {
	return ContainerStartResult{}, c.postContainer(ctx, id, "/start", nil)
}

// postContainer POSTs to /containers/<id><action> and discards the answer.
func (c *Client) postContainer(ctx context.Context, id, action string, q url.Values) error {
	id, err := trimID("container", id)
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodPost, "/containers/"+id+action, q, nil)
}

// stopQuery is the query of stop and restart.
func stopQuery(signal string, timeout *int) url.Values {
	q := url.Values{}
	if timeout != nil {
		q.Set("t", strconv.Itoa(*timeout))
	}
	setIf(q, "signal", signal)
	return q
}

type ContainerStopOptions struct {
	Signal  string
	Timeout *int
}
type ContainerStopResult struct{}

func (c *Client) ContainerStop(ctx context.Context, id string, o ContainerStopOptions) (ContainerStopResult, error) {
	return ContainerStopResult{}, c.postContainer(ctx, id, "/stop", stopQuery(o.Signal, o.Timeout))
}

type ContainerRestartOptions struct {
	Signal  string
	Timeout *int
}
type ContainerRestartResult struct{}

func (c *Client) ContainerRestart(ctx context.Context, id string, o ContainerRestartOptions) (ContainerRestartResult, error) {
	return ContainerRestartResult{}, c.postContainer(ctx, id, "/restart", stopQuery(o.Signal, o.Timeout))
}

type ContainerKillOptions struct {
	Signal string
}
type ContainerKillResult struct{}

func (c *Client) ContainerKill(ctx context.Context, id string, o ContainerKillOptions) (ContainerKillResult, error) {
	q := url.Values{}
	setIf(q, "signal", o.Signal)
	return ContainerKillResult{}, c.postContainer(ctx, id, "/kill", q)
}

type ContainerPauseOptions struct{}
type ContainerPauseResult struct{}

func (c *Client) ContainerPause(ctx context.Context, id string, _ ContainerPauseOptions) (ContainerPauseResult, error) {
	return ContainerPauseResult{}, c.postContainer(ctx, id, "/pause", nil)
}

type ContainerUnpauseOptions struct{}
type ContainerUnpauseResult struct{}

func (c *Client) ContainerUnpause(ctx context.Context, id string, _ ContainerUnpauseOptions) (ContainerUnpauseResult, error) {
	return ContainerUnpauseResult{}, c.postContainer(ctx, id, "/unpause", nil)
}

type ContainerRenameOptions struct {
	NewName string
}
type ContainerRenameResult struct{}

func (c *Client) ContainerRename(ctx context.Context, id string, o ContainerRenameOptions) (ContainerRenameResult, error) {
	name := strings.TrimSpace(o.NewName)
	if strings.TrimPrefix(name, "/") == "" {
		return ContainerRenameResult{}, cerrdefs.ErrInvalidArgument.WithMessage("new name cannot be blank")
	}
	return ContainerRenameResult{}, c.postContainer(ctx, id, "/rename", url.Values{"name": {name}})
}

type ContainerResizeOptions struct {
	Height uint
	Width  uint
}
type ContainerResizeResult struct{}

func (c *Client) ContainerResize(ctx context.Context, id string, o ContainerResizeOptions) (ContainerResizeResult, error) {
	return ContainerResizeResult{}, c.postContainer(ctx, id, "/resize", sizeQuery(o.Height, o.Width))
}

func sizeQuery(h, w uint) url.Values {
	return url.Values{"h": {strconv.FormatUint(uint64(h), 10)}, "w": {strconv.FormatUint(uint64(w), 10)}}
}

type ContainerRemoveOptions struct {
	RemoveVolumes bool
	RemoveLinks   bool
	Force         bool
}
type ContainerRemoveResult struct{}

func (c *Client) ContainerRemove(ctx context.Context, id string, o ContainerRemoveOptions) (ContainerRemoveResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerRemoveResult{}, err
	}
	q := url.Values{}
	flag(q, "v", o.RemoveVolumes)
	flag(q, "link", o.RemoveLinks)
	flag(q, "force", o.Force)
	return ContainerRemoveResult{}, c.call(ctx, http.MethodDelete, "/containers/"+id, q, nil)
}

type ContainerWaitOptions struct {
	Condition container.WaitCondition
}

// ContainerWaitResult delivers the container's exit on Result, or an error
// on Error.
type ContainerWaitResult struct {
	Result <-chan container.WaitResponse
	Error  <-chan error
}

// waitErrMax bounds the non-JSON answer shown as the wait's error.
const waitErrMax = 2 << 10

// ContainerWait returns once the daemon has registered the wait (so the
// container can then be started without missing its exit); the exit comes
// on the channels.
func (c *Client) ContainerWait(ctx context.Context, id string, o ContainerWaitOptions) ContainerWaitResult {
	results := make(chan container.WaitResponse, 1)
	errs := make(chan error, 1)
	res := ContainerWaitResult{Result: results, Error: errs}
	id, err := trimID("container", id)
	if err != nil {
		errs <- err
		return res
	}
	q := url.Values{}
	setIf(q, "condition", string(o.Condition))
	resp, err := c.do(ctx, http.MethodPost, "/containers/"+id+"/wait", q, nil, nil)
	if err != nil {
		errs <- err
		return res
	}
	go func() {
		defer closeBody(resp)
		var seen bytes.Buffer
		body := io.TeeReader(resp.Body, &seen)
		var w container.WaitResponse
		if err := json.NewDecoder(body).Decode(&w); err != nil {
			if errors.As(err, new(*json.SyntaxError)) {
				// Not JSON: the text is the daemon's error.
				_, _ = io.Copy(io.Discard, io.LimitReader(body, waitErrMax))
				err = errors.New(seen.String())
			}
			errs <- err
			return
		}
		results <- w
	}()
	return res
}

type ContainerAttachOptions struct {
	Stream     bool
	Stdin      bool
	Stdout     bool
	Stderr     bool
	DetachKeys string
}

type ContainerAttachResult struct {
	HijackedResponse
}

func (c *Client) ContainerAttach(ctx context.Context, id string, o ContainerAttachOptions) (ContainerAttachResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerAttachResult{}, err
	}
	q := url.Values{}
	flag(q, "stream", o.Stream)
	flag(q, "stdin", o.Stdin)
	flag(q, "stdout", o.Stdout)
	flag(q, "stderr", o.Stderr)
	setIf(q, "detachKeys", o.DetachKeys)
	hr, err := c.postHijacked(ctx, "/containers/"+id+"/attach", q, nil, http.Header{"Content-Type": {"text/plain"}})
	return ContainerAttachResult{HijackedResponse: hr}, err
}

type ContainerLogsOptions struct {
	ShowStdout bool
	ShowStderr bool
	Since      string
	Until      string
	Timestamps bool
	Follow     bool
	Tail       string
	Details    bool
}

// ContainerLogs streams the log: stdcopy frames, raw for a TTY container.
func (c *Client) ContainerLogs(ctx context.Context, id string, o ContainerLogsOptions) (io.ReadCloser, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	flag(q, "stdout", o.ShowStdout)
	flag(q, "stderr", o.ShowStderr)
	if name, err := setTimes(q, o.Since, o.Until, time.Now()); err != nil {
		return nil, fmt.Errorf("invalid value for %q: %w", name, err)
	}
	flag(q, "timestamps", o.Timestamps)
	flag(q, "details", o.Details)
	flag(q, "follow", o.Follow)
	if o.Tail != "" && o.Tail != "all" {
		q.Set("tail", o.Tail)
	}
	return c.stream(ctx, http.MethodGet, "/containers/"+id+"/logs", q, nil, nil)
}

type ContainerTopOptions struct {
	Arguments []string
}

type ContainerTopResult struct {
	Processes [][]string
	Titles    []string
}

func (c *Client) ContainerTop(ctx context.Context, id string, o ContainerTopOptions) (ContainerTopResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerTopResult{}, err
	}
	q := url.Values{}
	setIf(q, "ps_args", strings.Join(o.Arguments, " "))
	var r container.TopResponse
	err = c.callJSON(ctx, http.MethodGet, "/containers/"+id+"/top", q, nil, &r)
	return ContainerTopResult{Processes: r.Processes, Titles: r.Titles}, err
}

type ContainerDiffOptions struct{}

type ContainerDiffResult struct {
	Changes []container.FilesystemChange
}

func (c *Client) ContainerDiff(ctx context.Context, id string, _ ContainerDiffOptions) (ContainerDiffResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerDiffResult{}, err
	}
	var r ContainerDiffResult
	if err := c.callJSON(ctx, http.MethodGet, "/containers/"+id+"/changes", nil, nil, &r.Changes); err != nil {
		return ContainerDiffResult{}, err
	}
	return r, nil
}

type ContainerExportOptions struct{}

// ContainerExport streams the container's filesystem as a tar archive.
func (c *Client) ContainerExport(ctx context.Context, id string, _ ContainerExportOptions) (io.ReadCloser, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, http.MethodGet, "/containers/"+id+"/export", nil, nil, nil)
}

type ContainerStatsOptions struct {
	Stream                bool
	IncludePreviousSample bool
}

type ContainerStatsResult struct {
	Body io.ReadCloser
}

func (c *Client) ContainerStats(ctx context.Context, id string, o ContainerStatsOptions) (ContainerStatsResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerStatsResult{}, err
	}
	q := url.Values{"stream": {strconv.FormatBool(o.Stream)}}
	if !o.Stream && !o.IncludePreviousSample {
		q.Set("one-shot", "true")
	}
	body, err := c.stream(ctx, http.MethodGet, "/containers/"+id+"/stats", q, nil, nil)
	return ContainerStatsResult{Body: body}, err
}

type ContainerUpdateOptions struct {
	Resources     *container.Resources
	RestartPolicy *container.RestartPolicy
}

type ContainerUpdateResult struct {
	Warnings []string
}

func (c *Client) ContainerUpdate(ctx context.Context, id string, o ContainerUpdateOptions) (ContainerUpdateResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerUpdateResult{}, err
	}
	var u container.UpdateConfig
	if o.Resources != nil {
		u.Resources = *o.Resources
	}
	if o.RestartPolicy != nil {
		u.RestartPolicy = *o.RestartPolicy
	}
	var r container.UpdateResponse
	err = c.callJSON(ctx, http.MethodPost, "/containers/"+id+"/update", nil, u, &r)
	return ContainerUpdateResult{Warnings: r.Warnings}, err
}

type ContainerCommitOptions struct {
	Reference string
	Comment   string
	Author    string
	Changes   []string
	NoPause   bool
}

type ContainerCommitResult struct {
	ID string
}

func (c *Client) ContainerCommit(ctx context.Context, id string, o ContainerCommitOptions) (ContainerCommitResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerCommitResult{}, err
	}
	q := url.Values{"container": {id}}
	if o.Reference != "" {
		name, tag, digest, err := parseRef(o.Reference)
		if err != nil {
			return ContainerCommitResult{}, err
		}
		if digest != "" {
			return ContainerCommitResult{}, errors.New("refusing to create a tag with a digest reference")
		}
		q.Set("repo", name)
		setIf(q, "tag", tag)
	}
	setIf(q, "comment", o.Comment)
	setIf(q, "author", o.Author)
	q["changes"] = o.Changes
	if o.NoPause {
		q.Set("pause", "0")
	}
	var r container.CommitResponse
	err = c.callJSON(ctx, http.MethodPost, "/commit", q, nil, &r)
	return ContainerCommitResult{ID: r.ID}, err
}

type ContainerPruneOptions struct {
	Filters Filters
}

type ContainerPruneResult struct {
	Report container.PruneReport
}

func (c *Client) ContainerPrune(ctx context.Context, o ContainerPruneOptions) (ContainerPruneResult, error) {
	var r ContainerPruneResult
	err := c.prune(ctx, "/containers/prune", o.Filters, &r.Report, "Error retrieving disk usage: %v")
	return r, err
}

// prune POSTs a prune request and decodes its report, wording a bad report
// with format.
func (c *Client) prune(ctx context.Context, p string, f Filters, report any, format string) error {
	q := url.Values{}
	f.setQuery(q)
	resp, err := c.do(ctx, http.MethodPost, p, q, nil, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if err := json.NewDecoder(resp.Body).Decode(report); err != nil {
		return fmt.Errorf(format, err)
	}
	return nil
}

type ContainerStatPathOptions struct {
	Path string
}

type ContainerStatPathResult struct {
	Stat container.PathStat
}

// ContainerStatPath describes a path in the container (errdefs.IsNotFound
// when it does not exist).
func (c *Client) ContainerStatPath(ctx context.Context, id string, o ContainerStatPathOptions) (ContainerStatPathResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerStatPathResult{}, err
	}
	resp, err := c.do(ctx, http.MethodHead, "/containers/"+id+"/archive", url.Values{"path": {filepath.ToSlash(o.Path)}}, nil, nil)
	if err != nil {
		return ContainerStatPathResult{}, err
	}
	closeBody(resp)
	st, err := pathStat(resp.Header)
	return ContainerStatPathResult{Stat: st}, err
}

// pathStat decodes the base64 JSON stat the daemon sends in a header.
func pathStat(h http.Header) (container.PathStat, error) {
	var st container.PathStat
	dec := base64.NewDecoder(base64.StdEncoding, strings.NewReader(h.Get("X-Docker-Container-Path-Stat")))
	if err := json.NewDecoder(dec).Decode(&st); err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %s", err)
	}
	return st, nil
}

type CopyFromContainerOptions struct {
	SourcePath string
}

type CopyFromContainerResult struct {
	Content io.ReadCloser
	Stat    container.PathStat
}

// CopyFromContainer streams a tar archive of a path in the container.
func (c *Client) CopyFromContainer(ctx context.Context, id string, o CopyFromContainerOptions) (CopyFromContainerResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return CopyFromContainerResult{}, err
	}
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+id+"/archive", url.Values{"path": {filepath.ToSlash(o.SourcePath)}}, nil, nil)
	if err != nil {
		return CopyFromContainerResult{}, err
	}
	st, err := pathStat(resp.Header)
	if err != nil {
		closeBody(resp)
		return CopyFromContainerResult{Stat: st}, fmt.Errorf("unable to get resource stat from response: %s", err)
	}
	return CopyFromContainerResult{Content: resp.Body, Stat: st}, nil
}

type CopyToContainerOptions struct {
	DestinationPath string
	Content         io.Reader
	CopyUIDGID      bool
}
type CopyToContainerResult struct{}

// CopyToContainer extracts a tar archive into a directory of the container.
func (c *Client) CopyToContainer(ctx context.Context, id string, o CopyToContainerOptions) (CopyToContainerResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return CopyToContainerResult{}, err
	}
	q := url.Values{"path": {filepath.ToSlash(o.DestinationPath)}, "noOverwriteDirNonDir": {"true"}}
	if o.CopyUIDGID {
		q.Set("copyUIDGID", "true")
	}
	content := o.Content
	if content == nil {
		content = http.NoBody
	}
	resp, err := c.do(ctx, http.MethodPut, "/containers/"+id+"/archive", q, content, nil)
	closeBody(resp)
	return CopyToContainerResult{}, err
}

// ConsoleSize is a terminal's size in characters.
type ConsoleSize struct {
	Height, Width uint
}

// consoleSize is the [height, width] of an exec's terminal, nil when unset.
func consoleSize(tty bool, s ConsoleSize) (*[2]uint, error) {
	if s.Height == 0 && s.Width == 0 {
		return nil, nil
	}
	if !tty {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage("console size is only supported when TTY is enabled")
	}
	return &[2]uint{s.Height, s.Width}, nil
}

type ExecCreateOptions struct {
	User         string
	Privileged   bool
	TTY          bool
	ConsoleSize  ConsoleSize
	AttachStdin  bool
	AttachStderr bool
	AttachStdout bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
}

type ExecCreateResult struct {
	ID string
}

func (c *Client) ExecCreate(ctx context.Context, id string, o ExecCreateOptions) (ExecCreateResult, error) {
	id, body, err := execCreateBody(id, o)
	if err != nil {
		return ExecCreateResult{}, err
	}
	var r container.ExecCreateResponse
	err = c.callJSON(ctx, http.MethodPost, "/containers/"+id+"/exec", nil, body, &r)
	return ExecCreateResult{ID: r.ID}, err
}

func execCreateBody(id string, o ExecCreateOptions) (string, container.ExecCreateRequest, error) {
	id, err := trimID("container", id)
	if err != nil {
		return "", container.ExecCreateRequest{}, err
	}
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return "", container.ExecCreateRequest{}, err
	}
	return id, container.ExecCreateRequest{
		User: o.User, Privileged: o.Privileged, Tty: o.TTY, ConsoleSize: size,
		AttachStdin: o.AttachStdin, AttachStderr: o.AttachStderr, AttachStdout: o.AttachStdout,
		DetachKeys: o.DetachKeys, Env: o.Env, WorkingDir: o.WorkingDir, Cmd: o.Cmd,
	}, nil
}

// ExecCreateAttachResult is an exec created and, by a daemon that offers
// it (berthd), started and attached in the same exchange.
type ExecCreateAttachResult struct {
	ID string
	// Attached says the exec runs and HijackedResponse is its stream;
	// otherwise the caller starts it with ExecAttach.
	Attached bool
	HijackedResponse
	// ExitFramed says the (multiplexed) stream ends with the exit code
	// (see package apiext).
	ExitFramed bool
}

// ExecCreateAttach creates an exec, asking the daemon to start it on the
// same connection (package apiext); a daemon that does not offer that
// answers as ExecCreate.
func (c *Client) ExecCreateAttach(ctx context.Context, id string, o ExecCreateOptions) (ExecCreateAttachResult, error) {
	id, body, err := execCreateBody(id, o)
	if err != nil {
		return ExecCreateAttachResult{}, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/containers/"+id+"/exec", nil, body, http.Header{apiext.ExecAttachHeader: {"1"}})
	if err != nil {
		return ExecCreateAttachResult{}, err
	}
	hr, resp, err := c.upgrade(ctx, req)
	if err != nil {
		return ExecCreateAttachResult{}, err
	}
	if execID := resp.Header.Get(apiext.ExecIDHeader); resp.StatusCode == http.StatusSwitchingProtocols && execID != "" {
		return ExecCreateAttachResult{
			ID: execID, Attached: true, HijackedResponse: hr,
			ExitFramed: resp.Header.Get(apiext.ExitFrameHeader) == "1",
		}, nil
	}
	defer hr.Close()
	if err := checkResponse(resp); err != nil {
		return ExecCreateAttachResult{}, err
	}
	var r container.ExecCreateResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return ExecCreateAttachResult{}, err
	}
	return ExecCreateAttachResult{ID: r.ID}, nil
}

type ExecStartOptions struct {
	Detach      bool
	TTY         bool
	ConsoleSize ConsoleSize
}
type ExecStartResult struct{}

// ExecStart starts an exec without attaching to it.
func (c *Client) ExecStart(ctx context.Context, execID string, o ExecStartOptions) (ExecStartResult, error) {
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecStartResult{}, err
	}
	return ExecStartResult{}, c.call(ctx, http.MethodPost, "/exec/"+execID+"/start", nil,
		container.ExecStartRequest{Detach: o.Detach, Tty: o.TTY, ConsoleSize: size})
}

type ExecAttachOptions struct {
	TTY         bool
	ConsoleSize ConsoleSize
}

type ExecAttachResult struct {
	HijackedResponse
}

// ExecAttach starts an exec and returns its streams.
func (c *Client) ExecAttach(ctx context.Context, execID string, o ExecAttachOptions) (ExecAttachResult, error) {
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecAttachResult{}, err
	}
	hr, err := c.postHijacked(ctx, "/exec/"+execID+"/start", nil, container.ExecStartRequest{Tty: o.TTY, ConsoleSize: size}, nil)
	return ExecAttachResult{HijackedResponse: hr}, err
}

type ExecResizeOptions ContainerResizeOptions
type ExecResizeResult struct{}

func (c *Client) ExecResize(ctx context.Context, execID string, o ExecResizeOptions) (ExecResizeResult, error) {
	execID, err := trimID("exec", execID)
	if err != nil {
		return ExecResizeResult{}, err
	}
	return ExecResizeResult{}, c.call(ctx, http.MethodPost, "/exec/"+execID+"/resize", sizeQuery(o.Height, o.Width), nil)
}

type ExecInspectOptions struct{}

type ExecInspectResult struct {
	ID          string
	ContainerID string
	Running     bool
	ExitCode    int
	PID         int
}

func (c *Client) ExecInspect(ctx context.Context, execID string, _ ExecInspectOptions) (ExecInspectResult, error) {
	var r container.ExecInspectResponse
	if err := c.callJSON(ctx, http.MethodGet, "/exec/"+execID+"/json", nil, nil, &r); err != nil {
		return ExecInspectResult{}, err
	}
	res := ExecInspectResult{ID: r.ID, ContainerID: r.ContainerID, Running: r.Running, PID: r.Pid}
	if r.ExitCode != nil {
		res.ExitCode = *r.ExitCode
	}
	return res, nil
}
