package stats

import "edgemq/mqtt"

// VersionLabel is the protocol_version label of a protocol version: the
// metrics' label, and the connection log's protocol field, spelled alike.
func VersionLabel(v mqtt.Version) string {
	switch v {
	case mqtt.V5:
		return "5"
	case mqtt.V311:
		return "3.1.1"
	case mqtt.V31:
		return "3.1"
	}
	return "unknown"
}
