package image

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
)

func TestImagesTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	items := []image.Summary{
		{
			ID: "sha256:" + strings.Repeat("b", 64), RepoTags: []string{"nginx:latest", "myreg:5000/nginx:v1"},
			RepoDigests: []string{"nginx@sha256:" + strings.Repeat("9", 64)}, Created: now.Add(-72 * time.Hour).Unix(),
			Size: 187654321, SharedSize: -1, Containers: -1,
		},
		{
			ID: "sha256:" + strings.Repeat("d", 64), RepoDigests: []string{"busybox@sha256:" + strings.Repeat("8", 64)},
			Created: now.Add(-50 * time.Second).Unix(), Size: 4261000, SharedSize: -1, Containers: -1,
		},
		{ID: "sha256:" + strings.Repeat("2", 64), Created: now.Add(-5 * time.Hour).Unix(), Size: 1000, SharedSize: -1, Containers: -1},
	}
	tests := []struct {
		name string
		opts ListOptions
		want string
	}{
		{
			name: "default",
			want: `REPOSITORY         TAG       IMAGE ID       CREATED          SIZE
nginx              latest    bbbbbbbbbbbb   3 days ago       188MB
myreg:5000/nginx   v1        bbbbbbbbbbbb   3 days ago       188MB
busybox            <none>    dddddddddddd   50 seconds ago   4.26MB
<none>             <none>    222222222222   5 hours ago      1kB
`,
		},
		{
			name: "digests",
			opts: ListOptions{Digests: true},
			want: `REPOSITORY         TAG       DIGEST                                                                    IMAGE ID       CREATED          SIZE
nginx              latest    sha256:9999999999999999999999999999999999999999999999999999999999999999   bbbbbbbbbbbb   3 days ago       188MB
myreg:5000/nginx   v1        <none>                                                                    bbbbbbbbbbbb   3 days ago       188MB
busybox            <none>    sha256:8888888888888888888888888888888888888888888888888888888888888888   dddddddddddd   50 seconds ago   4.26MB
<none>             <none>    <none>                                                                    222222222222   5 hours ago      1kB
`,
		},
		{
			name: "quiet lists an image once per row, as docker",
			opts: ListOptions{Quiet: true},
			want: "bbbbbbbbbbbb\nbbbbbbbbbbbb\ndddddddddddd\n222222222222\n",
		},
		{
			name: "no-trunc",
			opts: ListOptions{NoTrunc: true, Format: "{{.ID}}"},
			want: "sha256:" + strings.Repeat("b", 64) + "\nsha256:" + strings.Repeat("b", 64) + "\nsha256:" + strings.Repeat("d", 64) + "\nsha256:" + strings.Repeat("2", 64) + "\n",
		},
		{
			name: "json",
			opts: ListOptions{Format: "json"},
			want: `{"Containers":"N/A","CreatedAt":"2026-11-21 12:00:00 +0000 UTC","CreatedSince":"3 days ago","Digest":"\u003cnone\u003e","ID":"bbbbbbbbbbbb","Repository":"nginx","SharedSize":"N/A","Size":"188MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"187.7MB"}` + "\n" +
				`{"Containers":"N/A","CreatedAt":"2026-11-21 12:00:00 +0000 UTC","CreatedSince":"3 days ago","Digest":"\u003cnone\u003e","ID":"bbbbbbbbbbbb","Repository":"myreg:5000/nginx","SharedSize":"N/A","Size":"188MB","Tag":"v1","UniqueSize":"N/A","VirtualSize":"187.7MB"}` + "\n" +
				`{"Containers":"N/A","CreatedAt":"2026-11-24 11:59:10 +0000 UTC","CreatedSince":"50 seconds ago","Digest":"","ID":"dddddddddddd","Repository":"busybox","SharedSize":"N/A","Size":"4.26MB","Tag":"\u003cnone\u003e","UniqueSize":"N/A","VirtualSize":"4.261MB"}` + "\n" +
				`{"Containers":"N/A","CreatedAt":"2026-11-24 07:00:00 +0000 UTC","CreatedSince":"5 hours ago","Digest":"\u003cnone\u003e","ID":"222222222222","Repository":"\u003cnone\u003e","SharedSize":"N/A","Size":"1kB","Tag":"\u003cnone\u003e","UniqueSize":"N/A","VirtualSize":"1kB"}` + "\n",
		},
	}
	oldLocal := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = oldLocal })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteImages(&out, items, tt.opts, now); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestHistoryTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	items := []image.HistoryResponseItem{
		{ID: "sha256:" + strings.Repeat("b", 64), Created: now.Add(-72 * time.Hour).Unix(), CreatedBy: `/bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon off;"]`, Tags: []string{"nginx:latest"}},
		{ID: "<missing>", Created: now.Add(-72 * time.Hour).Unix(), CreatedBy: "RUN /bin/sh -c\tapt-get update # buildkit", Size: 54321000, Comment: "buildkit.dockerfile.v0"},
	}
	var out bytes.Buffer
	if err := WriteHistory(&out, items, HistoryOptions{Human: true}, now); err != nil {
		t.Fatal(err)
	}
	want := `IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT
bbbbbbbbbbbb   3 days ago   /bin/sh -c #(nop)  CMD ["nginx" "-g" "daemon…   0B        
<missing>      3 days ago   RUN /bin/sh -c apt-get update # buildkit        54.3MB    buildkit.dockerfile.v0
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
