package formatter

import (
	"bytes"
	"strings"
	"testing"
)

func TestFuncs(t *testing.T) {
	data := map[string]any{
		"Name":   "hello world",
		"Labels": []string{"a", "b"},
		"Obj":    map[string]string{"k": "<v>"},
		"Long":   "abcdefghij",
	}
	tests := []struct {
		name, format, want string
	}{
		{"json object without HTML escaping", `{{json .Obj}}`, `{"k":"<v>"}`},
		{"json string", `{{json .Name}}`, `"hello world"`},
		{"join", `{{join .Labels ","}}`, `a,b`},
		{"upper", `{{upper .Name}}`, `HELLO WORLD`},
		{"lower", `{{lower "ABC"}}`, `abc`},
		{"title", `{{title .Name}}`, `Hello World`},
		{"split", `{{index (split "a:b:c" ":") 1}}`, `b`},
		{"truncate", `{{truncate .Long 3}}`, `abc`},
		{"truncate longer than string", `{{truncate .Long 30}}`, `abcdefghij`},
		{"truncate runes", `{{truncate "héllo" 2}}`, `hé`},
		{"pad", `{{pad .Long 1 2}}|`, ` abcdefghij  |`},
		{"escapes", `{{.Long}}\t{{.Long}}`, "abcdefghij\tabcdefghij"},
		{"json shorthand", `json`, `{"Labels":["a","b"],"Long":"abcdefghij","Name":"hello world","Obj":{"k":"<v>"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Execute(&buf, tt.format, data); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(buf.String(), "\n"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

type row struct {
	ID   string
	Name string
}

func TestWrite(t *testing.T) {
	items := []row{{"1", "first"}, {"22", "second-long-name"}}
	header := map[string]string{"ID": "ID", "Name": "NAME"}
	tests := []struct {
		name, format, want string
	}{
		{
			name:   "table aligns with header",
			format: "table {{.ID}}\t{{.Name}}",
			want: "ID        NAME\n" +
				"1         first\n" +
				"22        second-long-name\n",
		},
		{
			name:   "table with escaped tab",
			format: `table {{.Name}}\t{{.ID}}`,
			want: "NAME               ID\n" +
				"first              1\n" +
				"second-long-name   22\n",
		},
		{
			name:   "plain template has no header",
			format: "{{.ID}}:{{.Name}}",
			want:   "1:first\n22:second-long-name\n",
		},
		{
			name:   "json lines",
			format: "json",
			want:   `{"ID":"1","Name":"first"}` + "\n" + `{"ID":"22","Name":"second-long-name"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.format, header, items); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", buf.String(), tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, format string }{
		{"unclosed action", "{{.ID"},
		{"unknown function", "{{nosuch .ID}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.format); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestIsTable(t *testing.T) {
	tests := []struct {
		format string
		want   bool
	}{
		{"table {{.ID}}", true},
		{"  table", true},
		{"{{.ID}}", false},
		{"json", false},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := IsTable(tt.format); got != tt.want {
				t.Errorf("IsTable(%q) = %v", tt.format, got)
			}
		})
	}
}
