package jsonmessage

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	mobyjm "github.com/moby/moby/client/pkg/jsonmessage"
)

// The rendering must be byte for byte that of moby's jsonmessage, which
// the CLI used before.
func TestSameAsMoby(t *testing.T) {
	streams := map[string]string{
		"pull": `{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":1024,"total":4096},"progress":"[==>  ]","id":"aaa"}
{"status":"Downloading","progressDetail":{"current":5000,"total":4096},"id":"bbb"}
{"status":"Extracting","progressDetail":{"current":3,"total":10,"units":"files"},"id":"aaa"}
{"status":"Extracting","progressDetail":{"current":30,"total":10,"units":"files","hidecounts":true},"id":"bbb"}
{"status":"Waiting","progressDetail":{"current":70},"id":"aaa"}
{"status":"Waiting","progressDetail":{"current":7,"units":"x"},"id":"bbb"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for busybox:latest"}
`,
		"build": `{"stream":"Step 1/2 : FROM busybox\n"}
{"stream":" ---\u003e abc\n"}
{"aux":{"ID":"sha256:def"}}
{"stream":"Successfully built def\n"}
`,
		"error": `{"status":"Pulling","id":"x","progressDetail":{}}
{"errorDetail":{"code":404,"message":"not found"},"error":"not found"}
{"status":"never shown"}
`,
		"bad json": `{"status":"a"}
{"status":`,
	}
	for name, in := range streams {
		for _, isTerm := range []bool{false, true} {
			var want, got bytes.Buffer
			var wantAux, gotAux []string
			wantErr := mobyjm.DisplayJSONMessagesStream(strings.NewReader(in), &want, ^uintptr(0), isTerm, func(m jsonstream.Message) { wantAux = append(wantAux, string(*m.Aux)) })
			gotErr := DisplayJSONMessagesStream(strings.NewReader(in), &got, ^uintptr(0), isTerm, func(m jsonstream.Message) { gotAux = append(gotAux, string(*m.Aux)) })
			if got.String() != want.String() {
				t.Errorf("%s (terminal %v):\n%q\nwant:\n%q", name, isTerm, got.String(), want.String())
			}
			if errString(gotErr) != errString(wantErr) || strings.Join(gotAux, ",") != strings.Join(wantAux, ",") {
				t.Errorf("%s (terminal %v): err %v aux %q, want %v %q", name, isTerm, gotErr, gotAux, wantErr, wantAux)
			}
			var je *jsonstream.Error
			if name == "error" && (!errors.As(gotErr, &je) || je.Code != 404) {
				t.Errorf("error is %T %v", gotErr, gotErr)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestProgressBar(t *testing.T) {
	for width, want := range map[uint16]string{
		200: "[" + strings.Repeat("=", 12) + ">" + strings.Repeat(" ", 38) + "]  1.024kB/4.096kB",
		80:  " 1.024kB/4.096kB",
	} {
		if got := progressBar(jsonstream.Progress{Current: 1024, Total: 4096}, width, time.Time{}); got != want {
			t.Errorf("width %d: %q, want %q", width, got, want)
		}
		if got, want := progressBar(jsonstream.Progress{Current: 1024, Total: 4096}, width, time.Time{}),
			mobyjm.RenderTUIProgress(jsonstream.Progress{Current: 1024, Total: 4096}, width); got != want {
			t.Errorf("width %d: %q, moby %q", width, got, want)
		}
	}
}
