// Package main: dockerd 20.10's request types, restated for the differential oracle.
//
// Why this file exists: the oracle must decode bodies into structs whose Go field names, JSON tags,
// types and embedding are those of dockerd 20.10.24 (moby api/types/container, api/types/mount,
// api/types/swarm, api/types/volume, api/types/configs.go, api/types/strslice, runconfig), because encoding/json's behaviour —
// which key lands in which field, which value type is an error, what merges — follows from exactly
// those. Every field is declared, modelled or not: an unmodelled field of the wrong JSON type still
// makes dockerd refuse the body. Comments here are ours; the layout is dockerd's.
package main

import (
	"encoding/json"
	"os"
	"time"
)

// StrSlice is dockerd's strslice.StrSlice: a JSON string or an array of strings.
type StrSlice []string

// UnmarshalJSON follows strslice.StrSlice.UnmarshalJSON in dockerd 20.10: empty input keeps the
// old value, otherwise a fresh []string is decoded, falling back to a lone string.
func (e *StrSlice) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p := make([]string, 0, 1)
	if err := json.Unmarshal(b, &p); err != nil {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p = append(p, s)
	}
	*e = p
	return nil
}

// ---- go-connections/nat and go-units ----

type Port string
type PortSet map[Port]struct{}
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}
type PortMap map[Port][]PortBinding

type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// ---- api/types/blkiodev ----

type WeightDevice struct {
	Path   string
	Weight uint16
}
type ThrottleDevice struct {
	Path string
	Rate uint64
}

// ---- api/types/mount ----

type MountDriver struct {
	Name    string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
}
type BindOptions struct {
	Propagation  string `json:",omitempty"`
	NonRecursive bool   `json:",omitempty"`
}
type VolumeOptions struct {
	NoCopy       bool              `json:",omitempty"`
	Labels       map[string]string `json:",omitempty"`
	DriverConfig *MountDriver      `json:",omitempty"`
}
type TmpfsOptions struct {
	SizeBytes int64       `json:",omitempty"`
	Mode      os.FileMode `json:",omitempty"`
}
type Mount struct {
	Type          string         `json:",omitempty"`
	Source        string         `json:",omitempty"`
	Target        string         `json:",omitempty"`
	ReadOnly      bool           `json:",omitempty"`
	Consistency   string         `json:",omitempty"`
	BindOptions   *BindOptions   `json:",omitempty"`
	VolumeOptions *VolumeOptions `json:",omitempty"`
	TmpfsOptions  *TmpfsOptions  `json:",omitempty"`
}

// ---- api/types/container ----

type HealthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

// Config is container.Config (20.10: no StartInterval yet).
type Config struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    PortSet `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             StrSlice
	Healthcheck     *HealthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      StrSlice
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           StrSlice `json:",omitempty"`
}

type LogConfig struct {
	Type   string
	Config map[string]string
}
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}
type DeviceRequest struct {
	Driver       string
	Count        int
	DeviceIDs    []string
	Capabilities [][]string
	Options      map[string]string
}

// Resources is container.Resources, embedded by value in HostConfig.
type Resources struct {
	CPUShares            int64 `json:"CpuShares"`
	Memory               int64
	NanoCPUs             int64 `json:"NanoCpus"`
	CgroupParent         string
	BlkioWeight          uint16
	BlkioWeightDevice    []*WeightDevice
	BlkioDeviceReadBps   []*ThrottleDevice
	BlkioDeviceWriteBps  []*ThrottleDevice
	BlkioDeviceReadIOps  []*ThrottleDevice
	BlkioDeviceWriteIOps []*ThrottleDevice
	CPUPeriod            int64 `json:"CpuPeriod"`
	CPUQuota             int64 `json:"CpuQuota"`
	CPURealtimePeriod    int64 `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64 `json:"CpuRealtimeRuntime"`
	CpusetCpus           string
	CpusetMems           string
	Devices              []DeviceMapping
	DeviceCgroupRules    []string
	DeviceRequests       []DeviceRequest
	KernelMemory         int64
	KernelMemoryTCP      int64
	MemoryReservation    int64
	MemorySwap           int64
	MemorySwappiness     *int64
	OomKillDisable       *bool
	PidsLimit            *int64
	Ulimits              []*Ulimit
	CPUCount             int64 `json:"CpuCount"`
	CPUPercent           int64 `json:"CpuPercent"`
	IOMaximumIOps        uint64
	IOMaximumBandwidth   uint64
}

// HostConfig is container.HostConfig.
type HostConfig struct {
	Binds           []string
	ContainerIDFile string
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    PortMap
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	VolumeDriver    string
	VolumesFrom     []string
	CapAdd          StrSlice
	CapDrop         StrSlice
	CgroupnsMode    string
	DNS             []string `json:"Dns"`
	DNSOptions      []string `json:"DnsOptions"`
	DNSSearch       []string `json:"DnsSearch"`
	ExtraHosts      []string
	GroupAdd        []string
	IpcMode         string
	Cgroup          string
	Links           []string
	OomScoreAdj     int
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	StorageOpt      map[string]string `json:",omitempty"`
	Tmpfs           map[string]string `json:",omitempty"`
	UTSMode         string
	UsernsMode      string
	ShmSize         int64
	Sysctls         map[string]string `json:",omitempty"`
	Runtime         string            `json:",omitempty"`
	ConsoleSize     [2]uint
	Isolation       string
	Resources
	Mounts        []Mount `json:",omitempty"`
	MaskedPaths   []string
	ReadonlyPaths []string
	Init          *bool `json:",omitempty"`
}

// ---- api/types/network ----

type EndpointIPAMConfig struct {
	IPv4Address  string   `json:",omitempty"`
	IPv6Address  string   `json:",omitempty"`
	LinkLocalIPs []string `json:",omitempty"`
}
type EndpointSettings struct {
	IPAMConfig          *EndpointIPAMConfig
	Links               []string
	Aliases             []string
	NetworkID           string
	EndpointID          string
	Gateway             string
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	MacAddress          string
	DriverOpts          map[string]string
}
type NetworkingConfig struct {
	EndpointsConfig map[string]*EndpointSettings
}

// ---- create wrappers ----

// ConfigWrapperV20 is runconfig.ContainerConfigWrapper (unix) in dockerd 20.10: Config embedded,
// the HostConfig key, the deprecated Cpuset, and HostConfig embedded again (top-level form).
type ConfigWrapperV20 struct {
	*Config
	InnerHostConfig  *HostConfig       `json:"HostConfig,omitempty"`
	Cpuset           string            `json:",omitempty"`
	NetworkingConfig *NetworkingConfig `json:"NetworkingConfig,omitempty"`
	*HostConfig
}

// getHostConfig is the part of runconfig's getHostConfig that picks the HostConfig: the key when
// present, else the embedded top-level one (the field copies it also does touch no field we read).
func (w *ConfigWrapperV20) getHostConfig() *HostConfig {
	if w.InnerHostConfig != nil {
		return w.InnerHostConfig
	}
	return w.HostConfig
}

// ConfigWrapperV27 is the create request of dockerd 27+: no embedded HostConfig any more.
type ConfigWrapperV27 struct {
	*Config
	HostConfig       *HostConfig       `json:"HostConfig,omitempty"`
	NetworkingConfig *NetworkingConfig `json:"NetworkingConfig,omitempty"`
}

// ---- api/types/configs.go ----

// ExecConfig is types.ExecConfig in dockerd 20.10.
type ExecConfig struct {
	User         string
	Privileged   bool
	Tty          bool
	AttachStdin  bool
	AttachStderr bool
	AttachStdout bool
	Detach       bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
}

// ---- api/types/swarm ----

type Annotations struct {
	Name   string            `json:",omitempty"`
	Labels map[string]string `json:"Labels"`
}

type DNSConfig struct {
	Nameservers []string `json:",omitempty"`
	Search      []string `json:",omitempty"`
	Options     []string `json:",omitempty"`
}
type SELinuxContext struct {
	Disable bool
	User    string
	Role    string
	Type    string
	Level   string
}
type CredentialSpec struct {
	Config   string
	File     string
	Registry string
}
type Privileges struct {
	CredentialSpec *CredentialSpec
	SELinuxContext *SELinuxContext
}
type SecretReferenceFileTarget struct {
	Name string
	UID  string
	GID  string
	Mode os.FileMode
}
type SecretReference struct {
	File       *SecretReferenceFileTarget
	SecretID   string
	SecretName string
}
type ConfigReferenceFileTarget struct {
	Name string
	UID  string
	GID  string
	Mode os.FileMode
}
type ConfigReferenceRuntimeTarget struct{}
type ConfigReference struct {
	File       *ConfigReferenceFileTarget    `json:",omitempty"`
	Runtime    *ConfigReferenceRuntimeTarget `json:",omitempty"`
	ConfigID   string
	ConfigName string
}

// ContainerSpec is swarm.ContainerSpec in dockerd 20.10 (API 1.41: capabilities and ulimits).
type ContainerSpec struct {
	Image           string             `json:",omitempty"`
	Labels          map[string]string  `json:",omitempty"`
	Command         []string           `json:",omitempty"`
	Args            []string           `json:",omitempty"`
	Hostname        string             `json:",omitempty"`
	Env             []string           `json:",omitempty"`
	Dir             string             `json:",omitempty"`
	User            string             `json:",omitempty"`
	Groups          []string           `json:",omitempty"`
	Privileges      *Privileges        `json:",omitempty"`
	Init            *bool              `json:",omitempty"`
	StopSignal      string             `json:",omitempty"`
	TTY             bool               `json:",omitempty"`
	OpenStdin       bool               `json:",omitempty"`
	ReadOnly        bool               `json:",omitempty"`
	Mounts          []Mount            `json:",omitempty"`
	StopGracePeriod *time.Duration     `json:",omitempty"`
	Healthcheck     *HealthConfig      `json:",omitempty"`
	Hosts           []string           `json:",omitempty"`
	DNSConfig       *DNSConfig         `json:",omitempty"`
	Secrets         []*SecretReference `json:",omitempty"`
	Configs         []*ConfigReference `json:",omitempty"`
	Isolation       string             `json:",omitempty"`
	Sysctls         map[string]string  `json:",omitempty"`
	CapabilityAdd   []string           `json:",omitempty"`
	CapabilityDrop  []string           `json:",omitempty"`
	Ulimits         []*Ulimit          `json:",omitempty"`
}

// PluginPrivilege and PluginSpec mirror the protobuf-generated runtime.PluginSpec (lower-case tags).
type PluginPrivilege struct {
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Value       []string `json:"value,omitempty"`
}
type PluginSpec struct {
	Name       string             `json:"name,omitempty"`
	Remote     string             `json:"remote,omitempty"`
	Privileges []*PluginPrivilege `json:"privileges,omitempty"`
	Disabled   bool               `json:"disabled,omitempty"`
	Env        []string           `json:"env,omitempty"`
}

type NetworkAttachmentSpec struct {
	ContainerID string
}
type GenericResourceNamed struct {
	Kind  string `json:",omitempty"`
	Value string `json:",omitempty"`
}
type GenericResourceDiscrete struct {
	Kind  string `json:",omitempty"`
	Value int64  `json:",omitempty"`
}
type GenericResource struct {
	NamedResourceSpec    *GenericResourceNamed    `json:",omitempty"`
	DiscreteResourceSpec *GenericResourceDiscrete `json:",omitempty"`
}
type Limit struct {
	NanoCPUs    int64 `json:",omitempty"`
	MemoryBytes int64 `json:",omitempty"`
	Pids        int64 `json:",omitempty"`
}
type SwarmResources struct {
	NanoCPUs         int64             `json:",omitempty"`
	MemoryBytes      int64             `json:",omitempty"`
	GenericResources []GenericResource `json:",omitempty"`
}
type ResourceRequirements struct {
	Limits       *Limit          `json:",omitempty"`
	Reservations *SwarmResources `json:",omitempty"`
}
type SwarmRestartPolicy struct {
	Condition   string         `json:",omitempty"`
	Delay       *time.Duration `json:",omitempty"`
	MaxAttempts *uint64        `json:",omitempty"`
	Window      *time.Duration `json:",omitempty"`
}
type SpreadOver struct {
	SpreadDescriptor string
}
type PlacementPreference struct {
	Spread *SpreadOver
}
type Platform struct {
	Architecture string `json:",omitempty"`
	OS           string `json:",omitempty"`
}
type Placement struct {
	Constraints []string              `json:",omitempty"`
	Preferences []PlacementPreference `json:",omitempty"`
	MaxReplicas uint64                `json:",omitempty"`
	Platforms   []Platform            `json:",omitempty"`
}
type NetworkAttachmentConfig struct {
	Target     string            `json:",omitempty"`
	Aliases    []string          `json:",omitempty"`
	DriverOpts map[string]string `json:",omitempty"`
}
type Driver struct {
	Name    string            `json:",omitempty"`
	Options map[string]string `json:",omitempty"`
}

// TaskSpec is swarm.TaskSpec.
type TaskSpec struct {
	ContainerSpec         *ContainerSpec            `json:",omitempty"`
	PluginSpec            *PluginSpec               `json:",omitempty"`
	NetworkAttachmentSpec *NetworkAttachmentSpec    `json:",omitempty"`
	Resources             *ResourceRequirements     `json:",omitempty"`
	RestartPolicy         *SwarmRestartPolicy       `json:",omitempty"`
	Placement             *Placement                `json:",omitempty"`
	Networks              []NetworkAttachmentConfig `json:",omitempty"`
	LogDriver             *Driver                   `json:",omitempty"`
	ForceUpdate           uint64
	Runtime               string `json:",omitempty"`
}

type ReplicatedService struct {
	Replicas *uint64 `json:",omitempty"`
}
type GlobalService struct{}
type ReplicatedJob struct {
	MaxConcurrent    *uint64 `json:",omitempty"`
	TotalCompletions *uint64 `json:",omitempty"`
}
type GlobalJob struct{}
type ServiceMode struct {
	Replicated    *ReplicatedService `json:",omitempty"`
	Global        *GlobalService     `json:",omitempty"`
	ReplicatedJob *ReplicatedJob     `json:",omitempty"`
	GlobalJob     *GlobalJob         `json:",omitempty"`
}
type UpdateConfig struct {
	Parallelism     uint64
	Delay           time.Duration `json:",omitempty"`
	FailureAction   string        `json:",omitempty"`
	Monitor         time.Duration `json:",omitempty"`
	MaxFailureRatio float32
	Order           string
}
type PortConfig struct {
	Name          string `json:",omitempty"`
	Protocol      string `json:",omitempty"`
	TargetPort    uint32 `json:",omitempty"`
	PublishedPort uint32 `json:",omitempty"`
	PublishMode   string `json:",omitempty"`
}
type EndpointSpec struct {
	Mode  string       `json:",omitempty"`
	Ports []PortConfig `json:",omitempty"`
}

// ServiceSpec is swarm.ServiceSpec (the body of POST /services/create and /services/{id}/update).
type ServiceSpec struct {
	Annotations
	TaskTemplate   TaskSpec                  `json:",omitempty"`
	Mode           ServiceMode               `json:",omitempty"`
	UpdateConfig   *UpdateConfig             `json:",omitempty"`
	RollbackConfig *UpdateConfig             `json:",omitempty"`
	Networks       []NetworkAttachmentConfig `json:",omitempty"`
	EndpointSpec   *EndpointSpec             `json:",omitempty"`
}

// ---- api/types/volume ----

// VolumeCreateBody is volume.VolumeCreateBody in dockerd 20.10 (the body of POST /volumes/create;
// 23+ renames it volume.CreateOptions and adds ClusterVolumeSpec, which no rule reads).
type VolumeCreateBody struct {
	Driver     string            `json:"Driver"`
	DriverOpts map[string]string `json:"DriverOpts"`
	Labels     map[string]string `json:"Labels"`
	Name       string            `json:"Name"`
}
