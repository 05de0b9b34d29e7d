// Command go-oracle decodes request bodies exactly as dockerd 20.10 (and the create form of
// dockerd 27+) decodes them, with Go's own encoding/json, and prints what dockerd would read.
//
// Why it exists: rootfs-guard re-implements Go's decoding in Rust (src/authz/gojson.rs). This program is
// the reference that tests/go_oracle.rs runs the generated bodies through; any body where the Rust
// reading is laxer than Go's is a bypass.
//
// Input (stdin), repeated: a header line "<kind> <length>\n" (kind: create, service or exec)
// followed by exactly <length> raw body bytes. Output (stdout): one JSON object per body, in order.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// result of one decode: the error as dockerd would get it from json.NewDecoder(body).Decode.
type decodeResult struct {
	Err     *string `json:"err"`
	ErrKind string  `json:"errkind,omitempty"` // syntax, type, eof, other
	// Trailing is true when non-whitespace bytes follow the first value (20.10 ignores them,
	// 23+ refuses most of them). Only meaningful when Err is nil.
	Trailing bool `json:"trailing"`
}

type hostView struct {
	decodeResult
	HC       bool              `json:"hc"`
	Readonly bool              `json:"ro"`
	Priv     bool              `json:"priv"`
	Caps     []string          `json:"caps"`
	Remount  bool              `json:"remount"`
	Labels   map[string]string `json:"labels"`
	Image    string            `json:"image"`
}

type createOut struct {
	V20 hostView `json:"v20"`
	V27 hostView `json:"v27"`
	// TopLevelErr: decoding only the top-level HostConfig fields rootfs-guard models
	// (ReadonlyRootfs, Privileged, CapAdd) already fails, so 20.10 refuses the body over one of
	// them whatever other error it reports first.
	TopLevelErr bool `json:"toperr"`
}

// topLevelProbe has just the promoted HostConfig fields that rootfs-guard models, embedded the
// way ConfigWrapperV20 embeds *HostConfig.
type topLevelProbe struct {
	*ProbeHostConfig
}

type ProbeHostConfig struct {
	CapAdd         StrSlice
	Privileged     bool
	ReadonlyRootfs bool
}

type serviceOut struct {
	decodeResult
	CS       bool              `json:"cs"`
	Readonly bool              `json:"ro"`
	Caps     []string          `json:"caps"`
	Remount  bool              `json:"remount"`
	Labels   map[string]string `json:"labels"`
	Image    string            `json:"image"`
}

type execOut struct {
	decodeResult
	Priv bool `json:"priv"`
}

// decode reads the first JSON value of body into v the way dockerd's handlers do.
func decode(body []byte, v interface{}) decodeResult {
	r := bytes.NewReader(body)
	dec := json.NewDecoder(r)
	err := dec.Decode(v)
	if err != nil {
		msg := err.Error()
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		kind := "other"
		switch {
		case errors.As(err, &syn):
			kind = "syntax"
		case errors.As(err, &typ):
			kind = "type"
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			kind = "eof"
		}
		return decodeResult{Err: &msg, ErrKind: kind}
	}
	rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), r))
	return decodeResult{Trailing: len(bytes.TrimLeft(rest, " \t\r\n")) > 0}
}

// remount is dockerd's capability normalisation (strings.ToUpper, "ALL" kept, "CAP_" prefixed)
// followed by the question that matters: is CAP_SYS_ADMIN or ALL among them?
func remount(caps []string) bool {
	for _, c := range caps {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return true
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if c == "CAP_SYS_ADMIN" {
			return true
		}
	}
	return false
}

func view(res decodeResult, cfg *Config, hc *HostConfig) hostView {
	v := hostView{decodeResult: res}
	if res.Err != nil {
		return v
	}
	if cfg != nil {
		v.Labels = cfg.Labels
		v.Image = cfg.Image
	}
	if hc != nil {
		v.HC = true
		v.Readonly = hc.ReadonlyRootfs
		v.Priv = hc.Privileged
		v.Caps = hc.CapAdd
		v.Remount = remount(hc.CapAdd)
	}
	return v
}

func doCreate(body []byte) interface{} {
	var w20 ConfigWrapperV20
	r20 := decode(body, &w20)
	var w27 ConfigWrapperV27
	r27 := decode(body, &w27)
	var probe topLevelProbe
	rp := decode(body, &probe)
	return createOut{
		V20:         view(r20, w20.Config, w20.getHostConfig()),
		V27:         view(r27, w27.Config, w27.HostConfig),
		TopLevelErr: rp.ErrKind == "type",
	}
}

func doService(body []byte) interface{} {
	var spec ServiceSpec
	out := serviceOut{decodeResult: decode(body, &spec)}
	if out.Err == nil {
		if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
			out.CS = true
			out.Readonly = cs.ReadOnly
			out.Caps = cs.CapabilityAdd
			out.Remount = remount(cs.CapabilityAdd)
			out.Labels = cs.Labels
			out.Image = cs.Image
		}
	}
	return out
}

func doExec(body []byte) interface{} {
	var ec ExecConfig
	out := execOut{decodeResult: decode(body, &ec)}
	if out.Err == nil {
		out.Priv = ec.Privileged
	}
	return out
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for n := 0; ; n++ {
		// The caller waits for the answers to a batch before it sends the next one.
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				fail("writing results: %v", err)
			}
		}
		header, err := in.ReadString('\n')
		if err == io.EOF && header == "" {
			return
		}
		if err != nil {
			fail("record %d: reading header: %v", n, err)
		}
		kind, size, ok := strings.Cut(strings.TrimSuffix(header, "\n"), " ")
		length, perr := strconv.Atoi(size)
		if !ok || perr != nil || length < 0 {
			fail("record %d: bad header %q", n, header)
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(in, body); err != nil {
			fail("record %d: reading %d body bytes: %v", n, length, err)
		}
		var res interface{}
		switch kind {
		case "create":
			res = doCreate(body)
		case "service":
			res = doService(body)
		case "exec":
			res = doExec(body)
		default:
			fail("record %d: unknown kind %q", n, kind)
		}
		if err := enc.Encode(res); err != nil {
			fail("record %d: encoding result: %v", n, err)
		}
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-oracle: "+format+"\n", args...)
	os.Exit(2)
}
