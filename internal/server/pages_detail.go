package server

import "github.com/firebreak-msp/firebreak/internal/detect"

// sampleDetail is how samples are read back from an incident's detail.
type sampleDetail struct {
	Samples []detect.Sample `json:"samples"`
}
