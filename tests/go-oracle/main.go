// Command go-oracle decodes request bodies exactly as dockerd 20.10 (and the create form of
// dockerd 27+) decodes them, with Go's own encoding/json, and prints what dockerd would read.
//
// Why it exists: rootfs-guard re-implements Go's decoding in Rust (src/authz/gojson.rs). This program is
// the reference that tests/go_oracle.rs runs the generated bodies through; any body where the Rust
// reading is laxer than Go's is a bypass.
//
// Input (stdin), repeated: a header line "<kind> <length>\n" (kind: create, service, exec or volume)
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
	Paths    []hostPath        `json:"paths"`
}

type createOut struct {
	V20 hostView `json:"v20"`
	V27 hostView `json:"v27"`
	// TopLevelErr: decoding only the top-level HostConfig fields rootfs-guard models
	// (ReadonlyRootfs, Privileged, CapAdd, Binds, Mounts) already fails, so 20.10 refuses the body over one of
	// them whatever other error it reports first.
	TopLevelErr bool `json:"toperr"`
}

// topLevelProbe has just the promoted HostConfig fields that rootfs-guard models, embedded the
// way ConfigWrapperV20 embeds *HostConfig.
type topLevelProbe struct {
	*ProbeHostConfig
}

type ProbeHostConfig struct {
	Binds          []string
	CapAdd         StrSlice
	Privileged     bool
	ReadonlyRootfs bool
	Mounts         []ProbeMount
}

// ProbeMount is the part of mount.Mount that rootfs-guard models.
type ProbeMount struct {
	Type          string
	Source        string
	ReadOnly      bool
	VolumeOptions *struct {
		DriverConfig *struct {
			Name    string
			Options map[string]string
		}
	}
}

type serviceOut struct {
	decodeResult
	CS       bool              `json:"cs"`
	Readonly bool              `json:"ro"`
	Caps     []string          `json:"caps"`
	Remount  bool              `json:"remount"`
	Labels   map[string]string `json:"labels"`
	Image    string            `json:"image"`
	Paths    []hostPath        `json:"paths"`
	// What the TaskTemplate says about the task being something other than a container.
	Runtime string `json:"runtime"`
	Plugin  bool   `json:"plugin"`
	NetAtt  bool   `json:"netatt"`
	// NonContainer: rootfs-guard's service-runtime verdict, derived here from Go's reading.
	NonContainer bool `json:"noncontainer"`
}

type volumeOut struct {
	decodeResult
	Name   string            `json:"name"`
	Driver string            `json:"driver"`
	Opts   map[string]string `json:"opts"`
	Paths  []hostPath        `json:"paths"`
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

// hostPath is one host path a container would mount, derived from Go's decoded structs the way
// src/authz/model/mount.rs derives it from Rust's (bind_host_path, mount_host_paths,
// local_volume_host_paths): the same string operations, so any difference is a decoding one.
type hostPath struct {
	Source   string `json:"s"`
	Writable bool   `json:"w"`
	Via      string `json:"via"` // bind, volume-options
}

// bindHostPath splits one Binds entry as dockerd's Linux parser does (src:dst[:mode]); only an
// absolute src is a host path, writable unless the mode list has "ro".
func bindHostPath(spec string) (hostPath, bool) {
	parts := strings.Split(spec, ":")
	var source, mode string
	switch len(parts) {
	case 2:
		source = parts[0]
	case 3:
		source, mode = parts[0], parts[2]
	default:
		return hostPath{}, false
	}
	if !strings.HasPrefix(source, "/") {
		return hostPath{}, false
	}
	writable := true
	for _, m := range strings.Split(mode, ",") {
		if m == "ro" {
			writable = false
		}
	}
	return hostPath{Source: source, Writable: writable, Via: "bind"}, true
}

func mountHostPaths(m *Mount, out []hostPath) []hostPath {
	switch m.Type {
	case "bind":
		out = append(out, hostPath{Source: m.Source, Writable: !m.ReadOnly, Via: "bind"})
	case "volume":
		if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil &&
			m.VolumeOptions.DriverConfig.Options != nil {
			dc := m.VolumeOptions.DriverConfig
			out = localVolumeHostPaths(dc.Name, dc.Options, out)
		}
	}
	return out
}

// localVolumeHostPaths: the host paths a local-driver volume with these options mounts.
func localVolumeHostPaths(driver string, opts map[string]string, out []hostPath) []hostPath {
	if !(driver == "" || driver == "local") {
		return out
	}
	o := opts["o"]
	binds := opts["type"] == "none"
	for _, x := range strings.Split(o, ",") {
		if x == "bind" || x == "rbind" {
			binds = true
		}
	}
	push := func(p string) {
		out = append(out, hostPath{Source: p, Writable: true, Via: "volume-options"})
	}
	if device, ok := opts["device"]; ok && (binds || strings.HasPrefix(device, "/")) {
		push(device)
	}
	for _, opt := range strings.Split(o, ",") {
		if _, value, ok := strings.Cut(opt, "="); ok {
			for _, p := range strings.Split(value, ":") {
				if strings.HasPrefix(p, "/") {
					push(p)
				}
			}
		}
	}
	return out
}

func hostConfigPaths(hc *HostConfig) []hostPath {
	out := []hostPath{}
	if hc == nil {
		return out
	}
	for _, b := range hc.Binds {
		if p, ok := bindHostPath(b); ok {
			out = append(out, p)
		}
	}
	for i := range hc.Mounts {
		out = mountHostPaths(&hc.Mounts[i], out)
	}
	return out
}

func view(res decodeResult, cfg *Config, hc *HostConfig) hostView {
	v := hostView{decodeResult: res, Paths: []hostPath{}}
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
	v.Paths = hostConfigPaths(hc)
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
	out := serviceOut{decodeResult: decode(body, &spec), Paths: []hostPath{}}
	if out.Err == nil {
		task := &spec.TaskTemplate
		out.Runtime = task.Runtime
		out.Plugin = task.PluginSpec != nil
		out.NetAtt = task.NetworkAttachmentSpec != nil
		out.NonContainer = !(task.Runtime == "" || task.Runtime == "container") ||
			task.PluginSpec != nil || task.NetworkAttachmentSpec != nil
		if cs := task.ContainerSpec; cs != nil {
			for i := range cs.Mounts {
				out.Paths = mountHostPaths(&cs.Mounts[i], out.Paths)
			}
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

func doVolume(body []byte) interface{} {
	var vc VolumeCreateBody
	out := volumeOut{decodeResult: decode(body, &vc), Paths: []hostPath{}}
	if out.Err == nil {
		out.Name = vc.Name
		out.Driver = vc.Driver
		out.Opts = vc.DriverOpts
		if vc.DriverOpts != nil {
			out.Paths = localVolumeHostPaths(vc.Driver, vc.DriverOpts, out.Paths)
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
		case "volume":
			res = doVolume(body)
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
