package client

// The same calls through github.com/moby/moby/client (which this package
// replaces in the CLI, and which only this test links) and through this
// package must send the same requests, and return the same results and
// errors.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mobyclient "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const legacyDF = `{"LayersSize":1000,` +
	`"Images":[{"Id":"sha256:aa","Size":600,"SharedSize":100,"Containers":0},{"Id":"sha256:bb","Size":400,"SharedSize":0,"Containers":2},{"Id":"sha256:cc","Size":-1,"SharedSize":-1,"Containers":-1}],` +
	`"Containers":[{"Id":"c1","State":"running","SizeRw":10},{"Id":"c2","State":"exited","SizeRw":5}],` +
	`"Volumes":[{"Name":"v1","UsageData":{"Size":20,"RefCount":1}},{"Name":"v2","UsageData":{"Size":7,"RefCount":0}},{"Name":"v3"}],` +
	`"BuildCache":[{"ID":"b1","Size":30,"InUse":true,"Shared":false},{"ID":"b2","Size":3,"Shared":true},{"ID":"b3","Size":4}]}`

const newDF = `{"ImageUsage":{"ActiveCount":1,"TotalCount":2,"Reclaimable":3,"TotalSize":4,"Items":[{"Id":"sha256:aa"}]},` +
	`"ContainerUsage":{"ActiveCount":5,"TotalCount":6,"Reclaimable":7,"TotalSize":8,"Items":[{"Id":"c1"}]},` +
	`"VolumeUsage":{"ActiveCount":9,"TotalCount":10,"Reclaimable":11,"TotalSize":12,"Items":[{"Name":"v1"}]},` +
	`"BuildCacheUsage":{"ActiveCount":13,"TotalCount":14,"Reclaimable":15,"TotalSize":16,"Items":[{"ID":"b1"}]}}`

// wireDaemon records every request but the ping and gives canned answers.
type wireDaemon struct {
	apiVersion string
	mu         sync.Mutex
	log        []string
}

// setMembers is the JSON document js without the object members that hold
// null, false, 0, "", an array of those or an object left empty by that.
func setMembers(js []byte) []byte {
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return js
	}
	var prune func(v any) (any, bool)
	prune = func(v any) (any, bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if p, keep := prune(e); keep {
					x[k] = p
				} else {
					delete(x, k)
				}
			}
			return x, len(x) > 0
		case []any:
			// A Go array of zeros ([2]uint) is not set either.
			set := len(x) == 0
			for i, e := range x {
				p, keep := prune(e)
				x[i], set = p, set || keep
			}
			return x, set
		case nil:
			return nil, false
		case bool:
			return x, x
		case float64:
			return x, x != 0
		case string:
			return x, x != ""
		}
		return v, true
	}
	v, _ = prune(v)
	out, _ := json.Marshal(v)
	return out
}

func (d *wireDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_ping" {
		w.Header().Set("Api-Version", d.apiVersion)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var hdrs []string
	for _, k := range []string{"Content-Type", "X-Registry-Auth", "X-Registry-Config", "Accept", "Connection", "Upgrade", "User-Agent"} {
		if v, ok := r.Header[k]; ok {
			hdrs = append(hdrs, fmt.Sprintf("%s=%q", k, v))
		}
	}
	length := fmt.Sprint(r.ContentLength)
	if r.Header.Get("Content-Type") == "application/json" {
		// The client leaves out what is not set (see encodeBody, and
		// TestEncodeBodyDecodesAsMarshal for why a daemon decodes the
		// same): compared without the members that hold zero values.
		if r.ContentLength == int64(len(body)) {
			length = "all"
		}
		body = setMembers(body)
	}
	d.mu.Lock()
	d.log = append(d.log, fmt.Sprintf("%s %s host=%s len=%s te=%v %s body=%s", r.Method, r.URL.RequestURI(), r.Host, length, r.TransferEncoding, strings.Join(hdrs, " "), body))
	d.mu.Unlock()

	p := strings.TrimPrefix(r.URL.Path, "/v"+d.apiVersion)
	if strings.Contains(p, "/bad") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"No such object: bad"}`))
		return
	}
	if r.Header.Get("Upgrade") == "tcp" {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nstream output")
		_ = buf.Flush()
		_ = conn.Close()
		return
	}
	switch {
	case strings.HasSuffix(p, "/archive"):
		st := base64.StdEncoding.EncodeToString([]byte(`{"name":"f","size":3,"mode":2147484141,"linkTarget":""}`))
		w.Header().Set("X-Docker-Container-Path-Stat", st)
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte("tar data"))
		}
		return
	case p == "/system/df" && d.apiVersion < "1.52":
		_, _ = w.Write([]byte(legacyDF))
		return
	case p == "/system/df":
		_, _ = w.Write([]byte(newDF))
		return
	case strings.HasSuffix(p, "/wait"):
		_, _ = w.Write([]byte(`{"StatusCode":7}`))
		return
	case p == "/events":
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write([]byte(`{"Type":"container","Action":"start","Actor":{"ID":"c1"},"time":1}` + "\n" + `{"Type":"image","Action":"pull"}` + "\n"))
		return
	case strings.HasSuffix(p, "/json") && (strings.HasPrefix(p, "/containers/") || strings.HasPrefix(p, "/images/")) && p != "/containers/json" && p != "/images/json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Id":"abc","Name":"/web","RepoTags":["a:b"],"Config":{"Image":"busybox"}}` + "\n"))
		return
	case strings.HasPrefix(p, "/networks/") && r.Method == http.MethodGet, strings.HasPrefix(p, "/volumes/") && r.Method == http.MethodGet:
		_, _ = w.Write([]byte(`{"Name":"n","Id":"nid","Driver":"local"}`))
		return
	case p == "/version":
		_, _ = w.Write([]byte(`{"Platform":{"Name":"Berth"},"Version":"1","ApiVersion":"1.50","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64","Components":[{"Name":"Engine","Version":"1"}]}`))
		return
	case p == "/images/create" || strings.HasSuffix(p, "/push") || p == "/images/load" || p == "/build" || p == "/images/get" ||
		strings.HasSuffix(p, "/logs") || strings.HasSuffix(p, "/export") || strings.HasSuffix(p, "/stats"):
		_, _ = w.Write([]byte(`{"status":"streamed"}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("null"))
}

func (d *wireDaemon) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.log
	d.log = nil
	return l
}

// outcome turns a call's result into comparable text.
func outcome(v any, err error) string {
	var s string
	switch r := v.(type) {
	case nil:
	case io.ReadCloser:
		b, _ := io.ReadAll(r)
		_ = r.Close()
		s = string(b)
	case string:
		s = r
	default:
		b, jerr := json.Marshal(v)
		if jerr != nil {
			s = "unmarshalable: " + jerr.Error()
		} else {
			s = string(b)
		}
	}
	if err != nil {
		s += " error: " + err.Error()
	}
	return s
}

// readAll reads what a hijacked connection sends.
func readAll(r io.Reader, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(r)
	return string(b), nil
}

type wireCase struct {
	name string
	moby func(context.Context, *mobyclient.Client) (any, error)
	ours func(context.Context, *Client) (any, error)
}

func intp(i int) *int    { return &i }
func boolp(b bool) *bool { return &b }

var platform = ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}

var wireCases = []wireCase{
	{"ContainerList",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerList(ctx, mobyclient.ContainerListOptions{All: true, Size: true, Limit: 3, Filters: mobyclient.Filters{}.Add("label", "a=b")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerList(ctx, ContainerListOptions{All: true, Size: true, Limit: 3, Filters: Filters{}.Add("label", "a=b")})
		}},
	{"ContainerCreate",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerCreate(ctx, mobyclient.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}},
				HostConfig:       &container.HostConfig{CapAdd: []string{"net_admin", "CAP_SYS_ADMIN", "NET_ADMIN"}, CapDrop: []string{"all"}},
				NetworkingConfig: &network.NetworkingConfig{}, Platform: &platform, Name: "web"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerCreate(ctx, ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}},
				HostConfig:       &container.HostConfig{CapAdd: []string{"net_admin", "CAP_SYS_ADMIN", "NET_ADMIN"}, CapDrop: []string{"all"}},
				NetworkingConfig: &network.NetworkingConfig{}, Platform: &platform, Name: "web"})
		}},
	{"ContainerCreate without image",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerCreate(ctx, mobyclient.ContainerCreateOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerCreate(ctx, ContainerCreateOptions{})
		}},
	{"ContainerInspect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerInspect(ctx, "web", mobyclient.ContainerInspectOptions{Size: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerInspect(ctx, "web", ContainerInspectOptions{Size: true})
		}},
	{"ContainerInspect missing",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerInspect(ctx, "bad", mobyclient.ContainerInspectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerInspect(ctx, "bad", ContainerInspectOptions{})
		}},
	{"ContainerInspect empty",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerInspect(ctx, " ", mobyclient.ContainerInspectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerInspect(ctx, " ", ContainerInspectOptions{})
		}},
	{"ContainerStart",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerStart(ctx, "web", mobyclient.ContainerStartOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerStart(ctx, "web", ContainerStartOptions{})
		}},
	{"ContainerStop",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerStop(ctx, "web", mobyclient.ContainerStopOptions{Signal: "SIGINT", Timeout: intp(0)})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerStop(ctx, "web", ContainerStopOptions{Signal: "SIGINT", Timeout: intp(0)})
		}},
	{"ContainerRestart",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerRestart(ctx, "web", mobyclient.ContainerRestartOptions{Timeout: intp(5)})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerRestart(ctx, "web", ContainerRestartOptions{Timeout: intp(5)})
		}},
	{"ContainerKill",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerKill(ctx, "web", mobyclient.ContainerKillOptions{Signal: "KILL"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerKill(ctx, "web", ContainerKillOptions{Signal: "KILL"})
		}},
	{"ContainerPause",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerPause(ctx, "web", mobyclient.ContainerPauseOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerPause(ctx, "web", ContainerPauseOptions{})
		}},
	{"ContainerUnpause",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerUnpause(ctx, "web", mobyclient.ContainerUnpauseOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerUnpause(ctx, "web", ContainerUnpauseOptions{})
		}},
	{"ContainerRename",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerRename(ctx, "web", mobyclient.ContainerRenameOptions{NewName: " new "})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerRename(ctx, "web", ContainerRenameOptions{NewName: " new "})
		}},
	{"ContainerRename blank",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerRename(ctx, "web", mobyclient.ContainerRenameOptions{NewName: "/"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerRename(ctx, "web", ContainerRenameOptions{NewName: "/"})
		}},
	{"ContainerResize",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerResize(ctx, "web", mobyclient.ContainerResizeOptions{Height: 24, Width: 80})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerResize(ctx, "web", ContainerResizeOptions{Height: 24, Width: 80})
		}},
	{"ContainerRemove",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerRemove(ctx, "web", mobyclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true, RemoveLinks: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerRemove(ctx, "web", ContainerRemoveOptions{Force: true, RemoveVolumes: true, RemoveLinks: true})
		}},
	{"ContainerWait",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			w := c.ContainerWait(ctx, "web", mobyclient.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
			select {
			case r := <-w.Result:
				return r, nil
			case err := <-w.Error:
				return nil, err
			}
		},
		func(ctx context.Context, c *Client) (any, error) {
			w := c.ContainerWait(ctx, "web", ContainerWaitOptions{Condition: container.WaitConditionNextExit})
			select {
			case r := <-w.Result:
				return r, nil
			case err := <-w.Error:
				return nil, err
			}
		}},
	{"ContainerAttach",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ContainerAttach(ctx, "web", mobyclient.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true, DetachKeys: "ctrl-x"})
			return readAll(r.Reader, err)
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ContainerAttach(ctx, "web", ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true, DetachKeys: "ctrl-x"})
			return readAll(r.Reader, err)
		}},
	{"ContainerLogs",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerLogs(ctx, "web", mobyclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Since: "1700000000", Until: "2024-01-02T03:04:05Z", Timestamps: true, Follow: true, Tail: "5", Details: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerLogs(ctx, "web", ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Since: "1700000000", Until: "2024-01-02T03:04:05Z", Timestamps: true, Follow: true, Tail: "5", Details: true})
		}},
	{"ContainerLogs bad since",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerLogs(ctx, "web", mobyclient.ContainerLogsOptions{Since: "yesterday", Tail: "all"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerLogs(ctx, "web", ContainerLogsOptions{Since: "yesterday", Tail: "all"})
		}},
	{"ContainerTop",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerTop(ctx, "web", mobyclient.ContainerTopOptions{Arguments: []string{"-o", "pid"}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerTop(ctx, "web", ContainerTopOptions{Arguments: []string{"-o", "pid"}})
		}},
	{"ContainerDiff",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerDiff(ctx, "web", mobyclient.ContainerDiffOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerDiff(ctx, "web", ContainerDiffOptions{})
		}},
	{"ContainerExport",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerExport(ctx, "web", mobyclient.ContainerExportOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerExport(ctx, "web", ContainerExportOptions{})
		}},
	{"ContainerStats one-shot",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", mobyclient.ContainerStatsOptions{})
			return r.Body, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", ContainerStatsOptions{})
			return r.Body, err
		}},
	{"ContainerStats no-stream",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", mobyclient.ContainerStatsOptions{IncludePreviousSample: true})
			return r.Body, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", ContainerStatsOptions{IncludePreviousSample: true})
			return r.Body, err
		}},
	{"ContainerStats stream",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", mobyclient.ContainerStatsOptions{Stream: true})
			return r.Body, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ContainerStats(ctx, "web", ContainerStatsOptions{Stream: true})
			return r.Body, err
		}},
	{"ContainerUpdate",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerUpdate(ctx, "web", mobyclient.ContainerUpdateOptions{Resources: &container.Resources{Memory: 1 << 20}, RestartPolicy: &container.RestartPolicy{Name: "always"}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerUpdate(ctx, "web", ContainerUpdateOptions{Resources: &container.Resources{Memory: 1 << 20}, RestartPolicy: &container.RestartPolicy{Name: "always"}})
		}},
	{"ContainerUpdate restart only",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerUpdate(ctx, "web", mobyclient.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: "no"}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerUpdate(ctx, "web", ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: "no"}})
		}},
	{"ContainerCommit",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerCommit(ctx, "web", mobyclient.ContainerCommitOptions{Reference: "me/img", Comment: "c", Author: "a", Changes: []string{"ENV A=1", "CMD x"}, NoPause: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerCommit(ctx, "web", ContainerCommitOptions{Reference: "me/img", Comment: "c", Author: "a", Changes: []string{"ENV A=1", "CMD x"}, NoPause: true})
		}},
	{"ContainerCommit no reference",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerCommit(ctx, "web", mobyclient.ContainerCommitOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerCommit(ctx, "web", ContainerCommitOptions{})
		}},
	{"ContainerCommit bad reference",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerCommit(ctx, "web", mobyclient.ContainerCommitOptions{Reference: "Me/img"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerCommit(ctx, "web", ContainerCommitOptions{Reference: "Me/img"})
		}},
	{"ContainerPrune",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerPrune(ctx, mobyclient.ContainerPruneOptions{Filters: mobyclient.Filters{}.Add("until", "1h")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerPrune(ctx, ContainerPruneOptions{Filters: Filters{}.Add("until", "1h")})
		}},
	{"ContainerStatPath",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerStatPath(ctx, "web", mobyclient.ContainerStatPathOptions{Path: "/etc/a b"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerStatPath(ctx, "web", ContainerStatPathOptions{Path: "/etc/a b"})
		}},
	{"ContainerStatPath missing",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ContainerStatPath(ctx, "bad", mobyclient.ContainerStatPathOptions{Path: "/x"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ContainerStatPath(ctx, "bad", ContainerStatPathOptions{Path: "/x"})
		}},
	{"CopyFromContainer",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.CopyFromContainer(ctx, "web", mobyclient.CopyFromContainerOptions{SourcePath: "/etc"})
			if err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(r.Content)
			return []any{string(b), r.Stat}, nil
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.CopyFromContainer(ctx, "web", CopyFromContainerOptions{SourcePath: "/etc"})
			if err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(r.Content)
			return []any{string(b), r.Stat}, nil
		}},
	{"CopyToContainer",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.CopyToContainer(ctx, "web", mobyclient.CopyToContainerOptions{DestinationPath: "/tmp", Content: strings.NewReader("tar"), CopyUIDGID: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.CopyToContainer(ctx, "web", CopyToContainerOptions{DestinationPath: "/tmp", Content: strings.NewReader("tar"), CopyUIDGID: true})
		}},
	{"CopyToContainer streamed",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.CopyToContainer(ctx, "web", mobyclient.CopyToContainerOptions{DestinationPath: "/tmp", Content: io.MultiReader(strings.NewReader("tar"))})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.CopyToContainer(ctx, "web", CopyToContainerOptions{DestinationPath: "/tmp", Content: io.MultiReader(strings.NewReader("tar"))})
		}},
	{"ExecCreate",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ExecCreate(ctx, "web", mobyclient.ExecCreateOptions{User: "u", Privileged: true, TTY: true, ConsoleSize: mobyclient.ConsoleSize{Height: 2, Width: 3},
				AttachStdin: true, AttachStdout: true, AttachStderr: true, DetachKeys: "ctrl-a", Env: []string{"A=1"}, WorkingDir: "/w", Cmd: []string{"sh"}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ExecCreate(ctx, "web", ExecCreateOptions{User: "u", Privileged: true, TTY: true, ConsoleSize: ConsoleSize{Height: 2, Width: 3},
				AttachStdin: true, AttachStdout: true, AttachStderr: true, DetachKeys: "ctrl-a", Env: []string{"A=1"}, WorkingDir: "/w", Cmd: []string{"sh"}})
		}},
	{"ExecStart",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ExecStart(ctx, "e1", mobyclient.ExecStartOptions{Detach: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ExecStart(ctx, "e1", ExecStartOptions{Detach: true})
		}},
	{"ExecAttach",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ExecAttach(ctx, "e1", mobyclient.ExecAttachOptions{})
			return readAll(r.Reader, err)
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ExecAttach(ctx, "e1", ExecAttachOptions{})
			return readAll(r.Reader, err)
		}},
	{"ExecResize",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ExecResize(ctx, "e1", mobyclient.ExecResizeOptions{Height: 1, Width: 2})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ExecResize(ctx, "e1", ExecResizeOptions{Height: 1, Width: 2})
		}},
	{"ExecInspect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ExecInspect(ctx, "e1", mobyclient.ExecInspectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ExecInspect(ctx, "e1", ExecInspectOptions{})
		}},
	{"ImageList",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageList(ctx, mobyclient.ImageListOptions{All: true, Filters: mobyclient.Filters{}.Add("dangling", "true")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageList(ctx, ImageListOptions{All: true, Filters: Filters{}.Add("dangling", "true")})
		}},
	{"ImageInspect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			var raw bytes.Buffer
			r, err := c.ImageInspect(ctx, "busybox", mobyclient.ImageInspectWithPlatform(&platform), mobyclient.ImageInspectWithRawResponse(&raw))
			return []any{r, raw.String()}, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			var raw bytes.Buffer
			r, err := c.ImageInspect(ctx, "busybox", ImageInspectWithPlatform(&platform), ImageInspectWithRawResponse(&raw))
			return []any{r, raw.String()}, err
		}},
	{"ImageInspect empty",
		func(ctx context.Context, c *mobyclient.Client) (any, error) { return c.ImageInspect(ctx, "") },
		func(ctx context.Context, c *Client) (any, error) { return c.ImageInspect(ctx, "") }},
	{"ImageHistory",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageHistory(ctx, "busybox", mobyclient.ImageHistoryWithPlatform(platform))
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageHistory(ctx, "busybox", ImageHistoryWithPlatform(platform))
		}},
	{"ImageRemove",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageRemove(ctx, "busybox", mobyclient.ImageRemoveOptions{Force: true, Platforms: []ocispec.Platform{platform, platform}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageRemove(ctx, "busybox", ImageRemoveOptions{Force: true, Platforms: []ocispec.Platform{platform, platform}})
		}},
	{"ImageTag",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageTag(ctx, mobyclient.ImageTagOptions{Source: "busybox", Target: "localhost:5000/me/bb"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageTag(ctx, ImageTagOptions{Source: "busybox", Target: "localhost:5000/me/bb"})
		}},
	{"ImageTag bad target",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageTag(ctx, mobyclient.ImageTagOptions{Source: "busybox", Target: "UP"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageTag(ctx, ImageTagOptions{Source: "busybox", Target: "UP"})
		}},
	{"ImageTag digest target",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageTag(ctx, mobyclient.ImageTagOptions{Source: "sha256:" + strings.Repeat("a", 64), Target: "a@sha256:" + strings.Repeat("a", 64)})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageTag(ctx, ImageTagOptions{Source: "sha256:" + strings.Repeat("a", 64), Target: "a@sha256:" + strings.Repeat("a", 64)})
		}},
	{"ImageTag bad source",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageTag(ctx, mobyclient.ImageTagOptions{Source: "a::b", Target: "x"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageTag(ctx, ImageTagOptions{Source: "a::b", Target: "x"})
		}},
	{"ImagePull",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePull(ctx, "busybox", mobyclient.ImagePullOptions{RegistryAuth: "e30=", Platforms: []ocispec.Platform{platform}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImagePull(ctx, "busybox", ImagePullOptions{RegistryAuth: "e30=", Platforms: []ocispec.Platform{platform}})
		}},
	{"ImagePull all tags, digest",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r1, err := c.ImagePull(ctx, "127.0.0.1:1/a/b", mobyclient.ImagePullOptions{All: true})
			if err != nil {
				return nil, err
			}
			_ = r1.Close()
			return c.ImagePull(ctx, "ghcr.io/a/b:t@sha256:"+strings.Repeat("a", 64), mobyclient.ImagePullOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			r1, err := c.ImagePull(ctx, "127.0.0.1:1/a/b", ImagePullOptions{All: true})
			if err != nil {
				return nil, err
			}
			_ = r1.Close()
			return c.ImagePull(ctx, "ghcr.io/a/b:t@sha256:"+strings.Repeat("a", 64), ImagePullOptions{})
		}},
	{"ImagePull bad",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePull(ctx, "a b", mobyclient.ImagePullOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) { return c.ImagePull(ctx, "a b", ImagePullOptions{}) }},
	{"ImagePush",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePush(ctx, "localhost:5000/me/bb:1", mobyclient.ImagePushOptions{RegistryAuth: "e30=", Platform: &platform})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImagePush(ctx, "localhost:5000/me/bb:1", ImagePushOptions{RegistryAuth: "e30=", Platform: &platform})
		}},
	{"ImagePush all",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePush(ctx, "me/bb", mobyclient.ImagePushOptions{All: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImagePush(ctx, "me/bb", ImagePushOptions{All: true})
		}},
	{"ImagePush digest",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePush(ctx, "me/bb@sha256:"+strings.Repeat("a", 64), mobyclient.ImagePushOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImagePush(ctx, "me/bb@sha256:"+strings.Repeat("a", 64), ImagePushOptions{})
		}},
	{"ImageImport",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageImport(ctx, mobyclient.ImageImportSource{Source: strings.NewReader("rootfs"), SourceName: "-"}, "127.0.0.1:1/test/busybox:1",
				mobyclient.ImageImportOptions{Message: "m", Changes: []string{"CMD sh"}, Platform: platform})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageImport(ctx, ImageImportSource{Source: strings.NewReader("rootfs"), SourceName: "-"}, "127.0.0.1:1/test/busybox:1",
				ImageImportOptions{Message: "m", Changes: []string{"CMD sh"}, Platform: platform})
		}},
	{"ImageImport bad ref",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageImport(ctx, mobyclient.ImageImportSource{Source: strings.NewReader(""), SourceName: "-"}, "Bad", mobyclient.ImageImportOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageImport(ctx, ImageImportSource{Source: strings.NewReader(""), SourceName: "-"}, "Bad", ImageImportOptions{})
		}},
	{"ImageLoad",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageLoad(ctx, strings.NewReader("tar"), mobyclient.ImageLoadWithQuiet(true), mobyclient.ImageLoadWithPlatforms(platform))
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageLoad(ctx, strings.NewReader("tar"), ImageLoadWithQuiet(true), ImageLoadWithPlatforms(platform))
		}},
	{"ImageLoad plain",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageLoad(ctx, io.MultiReader(strings.NewReader("tar")))
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageLoad(ctx, io.MultiReader(strings.NewReader("tar")))
		}},
	{"ImageSave",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageSave(ctx, []string{"a", "b"}, mobyclient.ImageSaveWithPlatforms(platform))
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageSave(ctx, []string{"a", "b"}, ImageSaveWithPlatforms(platform))
		}},
	{"ImageSearch",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImageSearch(ctx, "bu sy", mobyclient.ImageSearchOptions{Limit: 5, Filters: mobyclient.Filters{}.Add("is-official", "true")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImageSearch(ctx, "bu sy", ImageSearchOptions{Limit: 5, Filters: Filters{}.Add("is-official", "true")})
		}},
	{"ImagePrune",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ImagePrune(ctx, mobyclient.ImagePruneOptions{Filters: mobyclient.Filters{}.Add("dangling", "false")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.ImagePrune(ctx, ImagePruneOptions{Filters: Filters{}.Add("dangling", "false")})
		}},
	{"ImageBuild",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			v := "1"
			r, err := c.ImageBuild(ctx, strings.NewReader("ctx"), mobyclient.ImageBuildOptions{Tags: []string{"a", "b"}, SuppressOutput: true, NoCache: true, Remove: true,
				ForceRemove: true, PullParent: true, NetworkMode: "host", Dockerfile: "Dockerfile.x", BuildArgs: map[string]*string{"A": &v, "B": nil},
				Labels: map[string]string{"l": "v"}, CacheFrom: []string{"c"}, Target: "t", Platforms: []ocispec.Platform{platform}, Version: "1"})
			return r.Body, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			v := "1"
			r, err := c.ImageBuild(ctx, strings.NewReader("ctx"), ImageBuildOptions{Tags: []string{"a", "b"}, SuppressOutput: true, NoCache: true, Remove: true,
				ForceRemove: true, PullParent: true, NetworkMode: "host", Dockerfile: "Dockerfile.x", BuildArgs: map[string]*string{"A": &v, "B": nil},
				Labels: map[string]string{"l": "v"}, CacheFrom: []string{"c"}, Target: "t", Platforms: []ocispec.Platform{platform}, Version: "1"})
			return r.Body, err
		}},
	{"ImageBuild defaults",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.ImageBuild(ctx, io.MultiReader(strings.NewReader("ctx")), mobyclient.ImageBuildOptions{NetworkMode: "default", BuildArgs: map[string]*string{}, Labels: map[string]string{}})
			return r.Body, err
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.ImageBuild(ctx, io.MultiReader(strings.NewReader("ctx")), ImageBuildOptions{NetworkMode: "default", BuildArgs: map[string]*string{}, Labels: map[string]string{}})
			return r.Body, err
		}},
	{"BuildCachePrune",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.BuildCachePrune(ctx, mobyclient.BuildCachePruneOptions{All: true, Filters: mobyclient.Filters{}.Add("until", "1h")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.BuildCachePrune(ctx, BuildCachePruneOptions{All: true, Filters: Filters{}.Add("until", "1h")})
		}},
	{"Info",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.Info(ctx, mobyclient.InfoOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) { return c.Info(ctx, InfoOptions{}) }},
	{"ServerVersion",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.ServerVersion(ctx, mobyclient.ServerVersionOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) { return c.ServerVersion(ctx, ServerVersionOptions{}) }},
	{"Events",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r := c.Events(ctx, mobyclient.EventsListOptions{Since: "10m", Until: "1700000000.5", Filters: mobyclient.Filters{}.Add("type", "container")})
			var got []any
			for {
				select {
				case m := <-r.Messages:
					got = append(got, m)
				case err := <-r.Err:
					return got, err
				}
			}
		},
		func(ctx context.Context, c *Client) (any, error) {
			r := c.Events(ctx, EventsListOptions{Since: "10m", Until: "1700000000.5", Filters: Filters{}.Add("type", "container")})
			var got []any
			for {
				select {
				case m := <-r.Messages:
					got = append(got, m)
				case err := <-r.Err:
					return got, err
				}
			}
		}},
	{"DiskUsage",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.DiskUsage(ctx, mobyclient.DiskUsageOptions{Containers: true, Images: true, Volumes: true, BuildCache: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.DiskUsage(ctx, DiskUsageOptions{Containers: true, Images: true, Volumes: true, BuildCache: true})
		}},
	{"DiskUsage verbose",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.DiskUsage(ctx, mobyclient.DiskUsageOptions{Images: true, Verbose: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.DiskUsage(ctx, DiskUsageOptions{Images: true, Verbose: true})
		}},
	{"RegistryLogin",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.RegistryLogin(ctx, mobyclient.RegistryLoginOptions{Username: "u", Password: "p", ServerAddress: "s", IdentityToken: "t"})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.RegistryLogin(ctx, RegistryLoginOptions{Username: "u", Password: "p", ServerAddress: "s", IdentityToken: "t"})
		}},
	{"NetworkCreate",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			r, err := c.NetworkCreate(ctx, "n", mobyclient.NetworkCreateOptions{Driver: "bridge", Scope: "local", EnableIPv4: boolp(true), EnableIPv6: boolp(false),
				IPAM: &network.IPAM{Driver: "default"}, Internal: true, Attachable: true, Ingress: true, ConfigOnly: true, ConfigFrom: "cf",
				Options: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"}})
			return r.ID, err // (Warning is not used by the CLI)
		},
		func(ctx context.Context, c *Client) (any, error) {
			r, err := c.NetworkCreate(ctx, "n", NetworkCreateOptions{Driver: "bridge", Scope: "local", EnableIPv4: boolp(true), EnableIPv6: boolp(false),
				IPAM: &network.IPAM{Driver: "default"}, Internal: true, Attachable: true, Ingress: true, ConfigOnly: true, ConfigFrom: "cf",
				Options: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"}})
			return r.ID, err
		}},
	{"NetworkList",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkList(ctx, mobyclient.NetworkListOptions{Filters: mobyclient.Filters{}.Add("name", "n")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkList(ctx, NetworkListOptions{Filters: Filters{}.Add("name", "n")})
		}},
	{"NetworkInspect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkInspect(ctx, "n", mobyclient.NetworkInspectOptions{Verbose: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkInspect(ctx, "n", NetworkInspectOptions{Verbose: true})
		}},
	{"NetworkRemove",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkRemove(ctx, "n", mobyclient.NetworkRemoveOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkRemove(ctx, "n", NetworkRemoveOptions{})
		}},
	{"NetworkConnect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkConnect(ctx, "n", mobyclient.NetworkConnectOptions{Container: "web", EndpointConfig: &network.EndpointSettings{Aliases: []string{"a"}}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkConnect(ctx, "n", NetworkConnectOptions{Container: "web", EndpointConfig: &network.EndpointSettings{Aliases: []string{"a"}}})
		}},
	{"NetworkDisconnect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkDisconnect(ctx, "n", mobyclient.NetworkDisconnectOptions{Container: "web", Force: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkDisconnect(ctx, "n", NetworkDisconnectOptions{Container: "web", Force: true})
		}},
	{"NetworkDisconnect empty container",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkDisconnect(ctx, "n", mobyclient.NetworkDisconnectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.NetworkDisconnect(ctx, "n", NetworkDisconnectOptions{})
		}},
	{"NetworkPrune",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.NetworkPrune(ctx, mobyclient.NetworkPruneOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) { return c.NetworkPrune(ctx, NetworkPruneOptions{}) }},
	{"VolumeCreate",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumeCreate(ctx, mobyclient.VolumeCreateOptions{Name: "v", Driver: "local", DriverOpts: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"}})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumeCreate(ctx, VolumeCreateOptions{Name: "v", Driver: "local", DriverOpts: map[string]string{"o": "1"}, Labels: map[string]string{"l": "2"}})
		}},
	{"VolumeList",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumeList(ctx, mobyclient.VolumeListOptions{Filters: mobyclient.Filters{}.Add("dangling", "true")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumeList(ctx, VolumeListOptions{Filters: Filters{}.Add("dangling", "true")})
		}},
	{"VolumeInspect",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumeInspect(ctx, "v", mobyclient.VolumeInspectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumeInspect(ctx, "v", VolumeInspectOptions{})
		}},
	{"VolumeInspect missing",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumeInspect(ctx, "bad", mobyclient.VolumeInspectOptions{})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumeInspect(ctx, "bad", VolumeInspectOptions{})
		}},
	{"VolumeRemove",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumeRemove(ctx, "v", mobyclient.VolumeRemoveOptions{Force: true})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumeRemove(ctx, "v", VolumeRemoveOptions{Force: true})
		}},
	{"VolumePrune all",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumePrune(ctx, mobyclient.VolumePruneOptions{All: true, Filters: mobyclient.Filters{}.Add("label", "x")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumePrune(ctx, VolumePruneOptions{All: true, Filters: Filters{}.Add("label", "x")})
		}},
	{"VolumePrune conflict",
		func(ctx context.Context, c *mobyclient.Client) (any, error) {
			return c.VolumePrune(ctx, mobyclient.VolumePruneOptions{All: true, Filters: mobyclient.Filters{}.Add("all", "1")})
		},
		func(ctx context.Context, c *Client) (any, error) {
			return c.VolumePrune(ctx, VolumePruneOptions{All: true, Filters: Filters{}.Add("all", "1")})
		}},
}

func TestSameWireAsMobyClient(t *testing.T) {
	for _, apiVersion := range []string{"1.50", "1.52"} {
		d := &wireDaemon{apiVersion: apiVersion}
		for _, host := range []string{serveUnix(t, d), serveTCP(t, d)} {
			mc, err := mobyclient.New(mobyclient.WithHost(host), mobyclient.WithUserAgent("ua"))
			if err != nil {
				t.Fatal(err)
			}
			oc := newClient(t, host, WithUserAgent("ua"))
			for _, tc := range wireCases {
				t.Run(apiVersion+"/"+host[:4]+"/"+tc.name, func(t *testing.T) {
					ctx := context.Background()
					wantOut := outcome(tc.moby(ctx, mc))
					want := d.take()
					gotOut := outcome(tc.ours(ctx, oc))
					got := d.take()
					if len(want) == 0 && !strings.Contains(wantOut, "error: ") {
						t.Fatal("moby/client sent nothing")
					}
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("requests:\n%s\nmoby/client sends:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
					if gotOut != wantOut {
						t.Errorf("result:\n%s\nmoby/client returns:\n%s", gotOut, wantOut)
					}
				})
			}
			_ = mc.Close()
		}
	}
}

// Failing to reach the daemon reads the same too.
func TestSameConnectErrorsAsMobyClient(t *testing.T) {
	dir := t.TempDir()
	dead := dir + "/dead.sock"
	l, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = tl.Close()
	tlsSrv := httptest.NewUnstartedServer(&wireDaemon{apiVersion: "1.50"})
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tlsHost := "tcp://" + strings.TrimPrefix(tlsSrv.URL, "https://")
	plainHost := serveTCP(t, &wireDaemon{apiVersion: "1.50"})
	untrusted := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, CheckRedirect: CheckRedirect}
	}

	hosts := []struct {
		name string
		host string
		hc   func() *http.Client
	}{
		{"missing socket", "unix://" + dir + "/missing.sock", nil},
		{"dead socket", "unix://" + dead, nil},
		{"refused tcp", "tcp://" + tl.Addr().String(), nil},
		{"untrusted TLS", tlsHost, untrusted},
		{"TLS to plain HTTP", plainHost, untrusted},
	}
	for _, h := range hosts {
		mopts := []mobyclient.Opt{mobyclient.WithHost(h.host)}
		oopts := []Opt{WithHost(h.host)}
		if h.hc != nil {
			mopts = append([]mobyclient.Opt{mobyclient.WithHTTPClient(h.hc())}, mopts...)
			oopts = append(oopts, WithHTTPClient(h.hc()))
		}
		mc, err := mobyclient.New(mopts...)
		if err != nil {
			t.Fatal(err)
		}
		oc := newClient(t, h.host, oopts...)
		ctx := context.Background()
		calls := []struct {
			name string
			moby func() error
			ours func() error
		}{
			{"version", func() error { _, err := mc.ServerVersion(ctx, mobyclient.ServerVersionOptions{}); return err },
				func() error { _, err := oc.ServerVersion(ctx, ServerVersionOptions{}); return err }},
			{"ps", func() error { _, err := mc.ContainerList(ctx, mobyclient.ContainerListOptions{All: true}); return err },
				func() error { _, err := oc.ContainerList(ctx, ContainerListOptions{All: true}); return err }},
			{"attach", func() error {
				_, err := mc.ContainerAttach(ctx, "x", mobyclient.ContainerAttachOptions{Stream: true})
				return err
			}, func() error { _, err := oc.ContainerAttach(ctx, "x", ContainerAttachOptions{Stream: true}); return err }},
			{"events", func() error { return <-mc.Events(ctx, mobyclient.EventsListOptions{}).Err },
				func() error { return <-oc.Events(ctx, EventsListOptions{}).Err }},
		}
		for _, call := range calls {
			want, got := fmtErr(call.moby()), fmtErr(call.ours())
			if got != want || got == "" {
				t.Errorf("%s, %s:\n%s\nmoby/client:\n%s", h.name, call.name, got, want)
			}
		}
		_ = mc.Close()
	}
}
