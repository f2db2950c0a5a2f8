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
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/cli/imgref"
)

type ImageListOptions struct {
	All     bool
	Filters Filters
}

type ImageListResult struct {
	Items []image.Summary
}

func (c *Client) ImageList(ctx context.Context, o ImageListOptions) (ImageListResult, error) {
	q := url.Values{}
	o.Filters.setQuery(q)
	flag(q, "all", o.All)
	var r ImageListResult
	err := c.callJSON(ctx, http.MethodGet, "/images/json", q, nil, &r.Items)
	return r, err
}

// ImageInspectOption is an option of ImageInspect.
type ImageInspectOption func(*imageInspectOptions)

type imageInspectOptions struct {
	raw      *bytes.Buffer
	platform *ocispec.Platform
}

// ImageInspectWithRawResponse has the response body copied into raw.
func ImageInspectWithRawResponse(raw *bytes.Buffer) ImageInspectOption {
	return func(o *imageInspectOptions) { o.raw = raw }
}

// ImageInspectWithPlatform inspects the image's variant for platform.
func ImageInspectWithPlatform(platform *ocispec.Platform) ImageInspectOption {
	return func(o *imageInspectOptions) { o.platform = platform }
}

type ImageInspectResult struct {
	image.InspectResponse
}

func (c *Client) ImageInspect(ctx context.Context, ref string, opts ...ImageInspectOption) (ImageInspectResult, error) {
	if ref == "" {
		return ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("Error: No such image: ")
	}
	var o imageInspectOptions
	for _, opt := range opts {
		opt(&o)
	}
	q := url.Values{}
	if o.platform != nil {
		if err := c.requiresVersion(ctx, "1.49", "platform"); err != nil {
			return ImageInspectResult{}, err
		}
		q.Set("platform", jsonPlatforms([]ocispec.Platform{*o.platform})[0])
	}
	resp, err := c.do(ctx, http.MethodGet, "/images/"+ref+"/json", q, nil, nil)
	if err != nil {
		return ImageInspectResult{}, err
	}
	defer closeBody(resp)
	buf := o.raw
	if buf == nil {
		buf = &bytes.Buffer{}
	}
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return ImageInspectResult{}, err
	}
	var r ImageInspectResult
	err = json.Unmarshal(buf.Bytes(), &r)
	return r, err
}

// ImageHistoryOption is an option of ImageHistory.
type ImageHistoryOption func(**ocispec.Platform)

// ImageHistoryWithPlatform shows the history of the image's variant for
// platform.
func ImageHistoryWithPlatform(platform ocispec.Platform) ImageHistoryOption {
	return func(p **ocispec.Platform) { *p = &platform }
}

type ImageHistoryResult struct {
	Items []image.HistoryResponseItem
}

func (c *Client) ImageHistory(ctx context.Context, ref string, opts ...ImageHistoryOption) (ImageHistoryResult, error) {
	var platform *ocispec.Platform
	for _, opt := range opts {
		opt(&platform)
	}
	q := url.Values{}
	if platform != nil {
		if err := c.requiresVersion(ctx, "1.48", "platform"); err != nil {
			return ImageHistoryResult{}, err
		}
		q.Set("platform", jsonPlatforms([]ocispec.Platform{*platform})[0])
	}
	var r ImageHistoryResult
	err := c.callJSON(ctx, http.MethodGet, "/images/"+ref+"/history", q, nil, &r.Items)
	return r, err
}

type ImageRemoveOptions struct {
	Platforms     []ocispec.Platform
	Force         bool
	PruneChildren bool
}

type ImageRemoveResult struct {
	Items []image.DeleteResponse
}

func (c *Client) ImageRemove(ctx context.Context, ref string, o ImageRemoveOptions) (ImageRemoveResult, error) {
	q := url.Values{}
	flag(q, "force", o.Force)
	flag(q, "noprune", !o.PruneChildren)
	if len(o.Platforms) > 0 {
		q["platforms"] = jsonPlatforms(o.Platforms)
	}
	var r ImageRemoveResult
	err := c.callJSON(ctx, http.MethodDelete, "/images/"+ref, q, nil, &r.Items)
	return r, err
}

type ImageTagOptions struct {
	Source string
	Target string
}
type ImageTagResult struct{}

func (c *Client) ImageTag(ctx context.Context, o ImageTagOptions) (ImageTagResult, error) {
	if err := checkAnyReference(o.Source); err != nil {
		return ImageTagResult{}, fmt.Errorf("error parsing reference: %q is not a valid repository/tag: %w", o.Source, err)
	}
	name, tag, digest, err := parseRef(o.Target)
	if err != nil {
		return ImageTagResult{}, fmt.Errorf("error parsing reference: %q is not a valid repository/tag: %w", o.Target, err)
	}
	if digest != "" {
		return ImageTagResult{}, errors.New("refusing to create a tag with a digest reference")
	}
	q := url.Values{"repo": {name}}
	setIf(q, "tag", tag)
	return ImageTagResult{}, c.call(ctx, http.MethodPost, "/images/"+o.Source+"/tag", q, nil)
}

// authHeader carries base64url-encoded registry credentials ("" for none).
func authHeader(auth string) http.Header {
	if auth == "" {
		return nil
	}
	return http.Header{registry.AuthHeader: {auth}}
}

type ImagePullOptions struct {
	All          bool
	RegistryAuth string
	Platforms    []ocispec.Platform
}

// ImagePull pulls ref (every tag with All) and streams the JSON progress
// messages.
func (c *Client) ImagePull(ctx context.Context, ref string, o ImagePullOptions) (io.ReadCloser, error) {
	name, tag, digest, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	q := url.Values{"fromImage": {name}}
	if !o.All {
		if digest != "" {
			tag = digest
		}
		setIf(q, "tag", tag)
	}
	switch len(o.Platforms) {
	case 0:
	case 1:
		q.Set("platform", formatPlatform(o.Platforms[0]))
	default:
		return nil, cerrdefs.ErrInvalidArgument.WithMessage("specifying multiple platforms is not yet supported")
	}
	return c.stream(ctx, http.MethodPost, "/images/create", q, nil, authHeader(o.RegistryAuth))
}

type ImagePushOptions struct {
	All          bool
	RegistryAuth string
	Platform     *ocispec.Platform
}

// ImagePush pushes ref (every tag with All) and streams the JSON progress
// messages.
func (c *Client) ImagePush(ctx context.Context, ref string, o ImagePushOptions) (io.ReadCloser, error) {
	name, tag, digest, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if digest != "" {
		return nil, errors.New("cannot push a digest reference")
	}
	q := url.Values{}
	if !o.All {
		setIf(q, "tag", tag)
	}
	if o.Platform != nil {
		if err := c.requiresVersion(ctx, "1.46", "platform"); err != nil {
			return nil, err
		}
		q.Set("platform", jsonPlatforms([]ocispec.Platform{*o.Platform})[0])
	}
	return c.stream(ctx, http.MethodPost, "/images/"+name+"/push", q, http.NoBody, authHeader(o.RegistryAuth))
}

// ImageImportSource is what ImageImport reads: Source when SourceName is
// "-", else the URL or image SourceName names.
type ImageImportSource struct {
	Source     io.Reader
	SourceName string
}

type ImageImportOptions struct {
	Message  string
	Changes  []string
	Platform ocispec.Platform
}

// ImageImport creates an image from a root filesystem tarball, tagged ref
// when not empty, and streams the JSON progress messages.
func (c *Client) ImageImport(ctx context.Context, src ImageImportSource, ref string, o ImageImportOptions) (io.ReadCloser, error) {
	if ref != "" {
		if _, err := imgref.ParseNormalizedNamed(ref); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	setIf(q, "fromSrc", src.SourceName)
	setIf(q, "repo", ref)
	setIf(q, "message", o.Message)
	if o.Platform.OS != "" {
		q.Set("platform", formatPlatform(o.Platform))
	}
	q["changes"] = o.Changes
	return c.stream(ctx, http.MethodPost, "/images/create", q, src.Source, nil)
}

// ImageLoadOption is an option of ImageLoad.
type ImageLoadOption func(*imageLoadOptions)

type imageLoadOptions struct {
	quiet     bool
	platforms []ocispec.Platform
}

// ImageLoadWithQuiet asks for the short progress (no bars).
func ImageLoadWithQuiet(quiet bool) ImageLoadOption {
	return func(o *imageLoadOptions) { o.quiet = quiet }
}

// ImageLoadWithPlatforms loads only the platforms' variants.
func ImageLoadWithPlatforms(platforms ...ocispec.Platform) ImageLoadOption {
	return func(o *imageLoadOptions) { o.platforms = platforms }
}

// ImageLoad loads images from a tar archive and streams the JSON progress
// messages.
func (c *Client) ImageLoad(ctx context.Context, in io.Reader, opts ...ImageLoadOption) (io.ReadCloser, error) {
	var o imageLoadOptions
	for _, opt := range opts {
		opt(&o)
	}
	q := url.Values{"quiet": {"0"}}
	flag(q, "quiet", o.quiet)
	if len(o.platforms) > 0 {
		if err := c.requiresVersion(ctx, "1.48", "platform"); err != nil {
			return nil, err
		}
		q["platform"] = jsonPlatforms(o.platforms)
	}
	return c.stream(ctx, http.MethodPost, "/images/load", q, in, http.Header{"Content-Type": {"application/x-tar"}})
}

// ImageSaveOption is an option of ImageSave.
type ImageSaveOption func(*[]ocispec.Platform)

// ImageSaveWithPlatforms saves only the platforms' variants.
func ImageSaveWithPlatforms(platforms ...ocispec.Platform) ImageSaveOption {
	return func(p *[]ocispec.Platform) { *p = platforms }
}

// ImageSave streams the images as a tar archive.
func (c *Client) ImageSave(ctx context.Context, refs []string, opts ...ImageSaveOption) (io.ReadCloser, error) {
	var platforms []ocispec.Platform
	for _, opt := range opts {
		opt(&platforms)
	}
	q := url.Values{"names": refs}
	if len(platforms) > 0 {
		if err := c.requiresVersion(ctx, "1.48", "platform"); err != nil {
			return nil, err
		}
		q["platform"] = jsonPlatforms(platforms)
	}
	return c.stream(ctx, http.MethodGet, "/images/get", q, nil, nil)
}

type ImageSearchOptions struct {
	Filters Filters
	Limit   int
}

type ImageSearchResult struct {
	Items []registry.SearchResult
}

func (c *Client) ImageSearch(ctx context.Context, term string, o ImageSearchOptions) (ImageSearchResult, error) {
	q := url.Values{"term": {term}}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	o.Filters.setQuery(q)
	resp, err := c.do(ctx, http.MethodGet, "/images/search", q, nil, http.Header{registry.AuthHeader: {""}})
	if err != nil {
		return ImageSearchResult{}, err
	}
	defer closeBody(resp)
	var r ImageSearchResult
	err = json.NewDecoder(resp.Body).Decode(&r.Items)
	return r, err
}

type ImagePruneOptions struct {
	Filters Filters
}

type ImagePruneResult struct {
	Report image.PruneReport
}

func (c *Client) ImagePrune(ctx context.Context, o ImagePruneOptions) (ImagePruneResult, error) {
	var r ImagePruneResult
	err := c.prune(ctx, "/images/prune", o.Filters, &r.Report, "Error retrieving disk usage: %v")
	return r, err
}

type ImageBuildOptions struct {
	Tags           []string
	SuppressOutput bool
	NoCache        bool
	Remove         bool
	ForceRemove    bool
	PullParent     bool
	NetworkMode    string
	Dockerfile     string
	BuildArgs      map[string]*string
	Labels         map[string]string
	CacheFrom      []string
	Target         string
	Platforms      []ocispec.Platform
	Version        build.BuilderVersion
}

type ImageBuildResult struct {
	Body io.ReadCloser
}

// ImageBuild sends a build context (a tar archive) to the daemon's builder
// and streams the JSON progress messages.
func (c *Client) ImageBuild(ctx context.Context, buildContext io.Reader, o ImageBuildOptions) (ImageBuildResult, error) {
	q := url.Values{}
	if len(o.Tags) > 0 {
		q["t"] = o.Tags
	}
	flag(q, "q", o.SuppressOutput)
	flag(q, "nocache", o.NoCache)
	if !o.Remove {
		q.Set("rm", "0")
	}
	flag(q, "forcerm", o.ForceRemove)
	flag(q, "pull", o.PullParent)
	if o.NetworkMode != "" && o.NetworkMode != "default" {
		q.Set("networkmode", o.NetworkMode)
	}
	setIf(q, "dockerfile", o.Dockerfile)
	setIf(q, "target", o.Target)
	setJSON(q, "buildargs", len(o.BuildArgs), o.BuildArgs)
	setJSON(q, "labels", len(o.Labels), o.Labels)
	setJSON(q, "cachefrom", len(o.CacheFrom), o.CacheFrom)
	switch len(o.Platforms) {
	case 0:
	case 1:
		q.Set("platform", formatPlatform(o.Platforms[0]))
	default:
		return ImageBuildResult{}, cerrdefs.ErrInvalidArgument.WithMessage("specifying multiple platforms is not yet supported")
	}
	setIf(q, "version", string(o.Version))
	hdr := http.Header{
		// No registry credentials: JSON null.
		"X-Registry-Config": {base64.URLEncoding.EncodeToString([]byte("null"))},
		"Content-Type":      {"application/x-tar"},
	}
	body, err := c.stream(ctx, http.MethodPost, "/build", q, buildContext, hdr)
	return ImageBuildResult{Body: body}, err
}

// setJSON sets query parameter k to v in JSON when v has n > 0 elements.
func setJSON(q url.Values, k string, n int, v any) {
	if n > 0 {
		b, _ := json.Marshal(v) // maps and slices of strings always encode
		q.Set(k, string(b))
	}
}

type BuildCachePruneOptions struct {
	All     bool
	Filters Filters
}

type BuildCachePruneResult struct {
	Report build.CachePruneReport
}

func (c *Client) BuildCachePrune(ctx context.Context, o BuildCachePruneOptions) (BuildCachePruneResult, error) {
	q := url.Values{}
	flag(q, "all", o.All)
	o.Filters.setQuery(q)
	resp, err := c.do(ctx, http.MethodPost, "/build/prune", q, nil, nil)
	if err != nil {
		return BuildCachePruneResult{}, err
	}
	defer closeBody(resp)
	var r BuildCachePruneResult
	if err := json.NewDecoder(resp.Body).Decode(&r.Report); err != nil {
		return BuildCachePruneResult{}, fmt.Errorf("error retrieving disk usage: %w", err)
	}
	return r, nil
}
