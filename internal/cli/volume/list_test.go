package volume

import (
	"bytes"
	"testing"

	"github.com/moby/moby/api/types/volume"
)

func TestWriteList(t *testing.T) {
	vols := []volume.Volume{
		{Name: "zeta", Driver: "local", Scope: "local", Labels: map[string]string{"b": "2", "a": "1"}},
		{Name: "alpha", Driver: "local", Scope: "local", UsageData: &volume.UsageData{RefCount: 2, Size: 2048}},
	}
	tests := []struct {
		name string
		opts ListOptions
		want string
	}{
		{"table", ListOptions{}, "DRIVER    VOLUME NAME\nlocal     alpha\nlocal     zeta\n"},
		{"quiet", ListOptions{Quiet: true}, "alpha\nzeta\n"},
		{"template", ListOptions{Format: "{{.Name}}|{{.Labels}}|{{.Label \"a\"}}|{{.Links}}|{{.Size}}"}, "alpha|||2|2.048kB\nzeta|a=1,b=2|1|N/A|N/A\n"},
		{"custom table", ListOptions{Format: "table {{.Name}}\t{{.Scope}}"}, "VOLUME NAME   SCOPE\nalpha         local\nzeta          local\n"},
		{"json", ListOptions{Format: "json"}, `{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"2","Mountpoint":"","Name":"alpha","Scope":"local","Size":"2.048kB","Status":"N/A"}` + "\n" +
			`{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=1,b=2","Links":"N/A","Mountpoint":"","Name":"zeta","Scope":"local","Size":"N/A","Status":"N/A"}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteList(&buf, append([]volume.Volume(nil), vols...), tc.opts); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", buf.String(), tc.want)
			}
		})
	}
}
