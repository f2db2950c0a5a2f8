package container

import (
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
)

// weightDeviceOpt is --blkio-weight-device /dev/sda:200.
type weightDeviceOpt struct {
	values []*blkiodev.WeightDevice
}

func (o *weightDeviceOpt) Type() string   { return "list" }
func (o *weightDeviceOpt) String() string { return fmt.Sprint(o.values) }

func (o *weightDeviceOpt) Set(v string) error {
	path, w, ok := strings.Cut(v, ":")
	if !ok || !strings.HasPrefix(path, "/dev/") {
		return fmt.Errorf("bad format: %s", v)
	}
	n, err := strconv.ParseUint(w, 10, 16)
	if err != nil || (n != 0 && (n < 10 || n > 1000)) {
		return fmt.Errorf("invalid weight for device: %s", v)
	}
	o.values = append(o.values, &blkiodev.WeightDevice{Path: path, Weight: uint16(n)})
	return nil
}

// throttleDeviceOpt is --device-{read,write}-{bps,iops} /dev/sda:rate;
// bps rates take a unit (1mb), iops rates are plain numbers.
type throttleDeviceOpt struct {
	bytes  bool
	values []*blkiodev.ThrottleDevice
}

func (o *throttleDeviceOpt) Type() string   { return "list" }
func (o *throttleDeviceOpt) String() string { return fmt.Sprint(o.values) }

func (o *throttleDeviceOpt) Set(v string) error {
	path, rate, ok := strings.Cut(v, ":")
	if !ok || !strings.HasPrefix(path, "/dev/") {
		return fmt.Errorf("bad format for device path: %s", v)
	}
	var n uint64
	if o.bytes {
		b, err := units.RAMInBytes(rate)
		if err != nil || b < 0 {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb", v)
		}
		n = uint64(b)
	} else {
		r, err := strconv.ParseUint(rate, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>. Number must be a positive integer", v)
		}
		n = r
	}
	o.values = append(o.values, &blkiodev.ThrottleDevice{Path: path, Rate: n})
	return nil
}

// gpuOpt is --gpus: "all", a count, or CSV fields
// count=…,driver=…,device=…,capabilities=…,options=k=v. "gpu" is always
// one of the requested capabilities, as docker adds it.
type gpuOpt struct {
	values []container.DeviceRequest
}

func (o *gpuOpt) Type() string { return "gpu-request" }
func (o *gpuOpt) String() string {
	if len(o.values) == 0 {
		return ""
	}
	return fmt.Sprint(o.values)
}

func (o *gpuOpt) Set(v string) error {
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return err
	}
	req := container.DeviceRequest{}
	caps := []string{"gpu"}
	parseCount := func(s string) error {
		if s == "all" {
			req.Count = -1
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("invalid count (%s): value must be either \"all\" or an integer: %w", s, err)
		}
		req.Count = n
		return nil
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			if len(fields) > 1 {
				return fmt.Errorf("invalid field '%s' must be a key=value pair", f)
			}
			if err := parseCount(f); err != nil {
				return err
			}
			continue
		}
		if seen[k] && k != "options" {
			return fmt.Errorf("gpu request key '%s' can be specified only once", k)
		}
		seen[k] = true
		switch k {
		case "count":
			if err := parseCount(val); err != nil {
				return err
			}
		case "driver":
			req.Driver = val
		case "device":
			req.DeviceIDs = strings.Split(val, ",")
		case "capabilities":
			caps = append(caps, val)
		case "options":
			ok, ov, _ := strings.Cut(val, "=")
			if req.Options == nil {
				req.Options = map[string]string{}
			}
			req.Options[ok] = ov
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", k, f)
		}
	}
	if req.Count != 0 && len(req.DeviceIDs) > 0 {
		return errors.New("cannot set both Count and DeviceIDs on device request")
	}
	slices.Sort(caps)
	req.Capabilities = [][]string{slices.Compact(caps)}
	o.values = append(o.values, req)
	return nil
}
