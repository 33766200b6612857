package proto

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"edgemq/configs"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap/zapcore"
)

// Profile is a listener's effective limits, prepared for the hot path.
type Profile struct {
	configs.Limits
	clientIDPattern *regexp.Regexp
	userProps       []mqtt.UserProperty // CONNACK User Properties
}

// NewProfile prepares the limits l of a listener: it compiles the client
// identifier pattern and converts the CONNACK User Properties.
func NewProfile(l configs.Limits) (*Profile, error) {
	p := &Profile{Limits: l, userProps: connackUserProperties(l.ConnackUserProperties)}
	if l.ClientID.Pattern != "" {
		// The whole id must match, anchored or not.
		re, err := regexp.Compile(`^(?:` + l.ClientID.Pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("compiling client_id.pattern: %w", err)
		}
		p.clientIDPattern = re
	}
	return p, nil
}

// Negotiated is what one connection agreed in CONNECT/CONNACK: the limits
// each side keeps. It is fixed once CONNACK is sent; metrics and the admin
// API read it.
type Negotiated struct {
	// ClientID is the identifier in force; AssignedClientID says the
	// server made it. (The fields are ordered so that none is padded:
	// every connection holds one.)
	ClientID         string
	Version          mqtt.Version
	AssignedClientID bool
	CleanStart       bool
	SessionPresent   bool
	// KeepAlive is the keep alive in force, in seconds (0: none).
	// ServerKeepAlive says the server changed the client's value.
	KeepAlive       uint16
	ServerKeepAlive bool
	// SessionExpiry is the Session Expiry Interval in force, in seconds;
	// SessionExpiryCapped says the server lowered the client's.
	SessionExpiryCapped bool
	SessionExpiry       uint32

	// Limits the server enforces on the client's packets.
	ServerMaxPacketSize     uint32
	ServerReceiveMaximum    uint16
	ServerTopicAliasMaximum uint16
	MaximumQoS              byte
	RetainAvailable         bool
	WildcardAvailable       bool
	SubIDsAvailable         bool
	SharedAvailable         bool
	// ProblemInfo is false when the client set Request Problem
	// Information to 0: no Reason String or User Property then
	// [MQTT-3.1.2-29].
	ProblemInfo bool

	// Limits the client asked the server to keep.
	ClientMaxPacketSize     uint32 // 0: none beyond the protocol's
	ClientReceiveMaximum    uint16
	ClientTopicAliasMaximum uint16
	// OutboundTopicAliases is how many topic aliases the server assigns
	// on PUBLISH: the client's Topic Alias Maximum capped by
	// max_outbound_topic_aliases.
	OutboundTopicAliases uint16
	// OutboundInflight is the outbound QoS 1/2 window: the client's
	// Receive Maximum capped by the server's max_inflight.
	OutboundInflight    uint16
	ResponseInformation string
}

// MarshalLogObject logs the negotiated values with typed fields.
func (n *Negotiated) MarshalLogObject(e zapcore.ObjectEncoder) error {
	e.AddString("version", n.Version.String())
	e.AddString("client_id", logsafe.Escape(n.ClientID))
	e.AddBool("assigned_client_id", n.AssignedClientID)
	e.AddBool("clean_start", n.CleanStart)
	e.AddBool("session_present", n.SessionPresent)
	e.AddUint16("keep_alive", n.KeepAlive)
	e.AddBool("server_keep_alive", n.ServerKeepAlive)
	e.AddUint32("session_expiry", n.SessionExpiry)
	e.AddUint32("server_max_packet_size", n.ServerMaxPacketSize)
	e.AddUint16("server_receive_maximum", n.ServerReceiveMaximum)
	e.AddUint16("server_topic_alias_maximum", n.ServerTopicAliasMaximum)
	e.AddUint8("maximum_qos", n.MaximumQoS)
	e.AddUint32("client_max_packet_size", n.ClientMaxPacketSize)
	e.AddUint16("client_receive_maximum", n.ClientReceiveMaximum)
	e.AddUint16("client_topic_alias_maximum", n.ClientTopicAliasMaximum)
	e.AddUint16("outbound_inflight", n.OutboundInflight)
	e.AddUint16("outbound_topic_aliases", n.OutboundTopicAliases)
	e.AddBool("problem_info", n.ProblemInfo)
	return nil
}

// ValidateConnect applies the CONNECT rules that do not depend on
// negotiation, and fills the client identifier. It returns a reason code
// error on refusal.
func ValidateConnect(c *mqtt.Connect, p *Profile, n *Negotiated) error {
	n.Version = c.Version
	n.CleanStart = c.CleanStart
	n.ClientID = c.ClientID
	if c.ClientID == "" {
		switch {
		case c.Version == mqtt.V5:
			// [MQTT-3.1.3-6, MQTT-3.2.2-16]: assign and say so in CONNACK.
		case c.Version == mqtt.V311 && c.CleanStart:
			// [MQTT-3.1.3-6]
		case c.Version == mqtt.V311:
			// [MQTT-3.1.3-8]
			return mqtt.Errorf(mqtt.ClientIdentifierNotValid, "MQTT-3.1.3-8", "zero length client id without clean session")
		default:
			// 3.1 requires 1 to 23 characters.
			return mqtt.Errorf(mqtt.ClientIdentifierNotValid, "MQTT-3.1 3.1", "zero length client id")
		}
		n.ClientID = p.ClientID.AssignedPrefix + newID()
		n.AssignedClientID = true
	} else {
		max := p.ClientID.MaxLength
		if c.Version == mqtt.V31 && p.ClientID.MaxLengthV31 > 0 {
			max = min(max, p.ClientID.MaxLengthV31)
		}
		if max > 0 && len(c.ClientID) > max {
			return mqtt.Errorf(mqtt.ClientIdentifierNotValid, "MQTT-3.1.3-5", "client id of %d bytes exceeds %d", len(c.ClientID), max)
		}
		if p.clientIDPattern != nil && !p.clientIDPattern.MatchString(c.ClientID) {
			return mqtt.Errorf(mqtt.ClientIdentifierNotValid, "MQTT-3.1.3-5", "client id %q does not match client_id.pattern", c.ClientID)
		}
	}
	if w := c.Will; w != nil && c.Version == mqtt.V5 {
		if w.QoS > p.MaximumQoS {
			// [MQTT-3.2.2-12]
			return mqtt.Errorf(mqtt.QoSNotSupported, "MQTT-3.2.2-12", "will qos %d exceeds maximum qos %d", w.QoS, p.MaximumQoS)
		}
		if p.ValidatePayloadFormat && w.Properties.Has(mqtt.PropPayloadFormatIndicator) &&
			w.Properties.PayloadFormatIndicator == 1 && !utf8.Valid(w.Payload) {
			return mqtt.Errorf(mqtt.PayloadFormatInvalid, "3.1.3.2.3", "will payload is not UTF-8 as its format indicator says")
		}
		if w.Retain && !p.RetainAvailable {
			// [MQTT-3.2.2-13]
			return mqtt.Errorf(mqtt.RetainNotSupported, "MQTT-3.2.2-13", "will retain while retain is not available")
		}
	}
	if p.Redirect.Server != "" {
		code := mqtt.UseAnotherServer
		if p.Redirect.Permanent {
			code = mqtt.ServerMoved
		}
		return mqtt.Errorf(code, "MQTT-4.11", "redirected to %s", p.Redirect.Server)
	}
	return nil
}

// Negotiate settles the limits of both sides from CONNECT and the
// profile, and fills the CONNACK properties that announce the server's.
// It refuses a 3.x keep alive outside the bounds, since 3.x has no way
// to tell the client a new value.
func Negotiate(c *mqtt.Connect, p *Profile, n *Negotiated, ack *mqtt.Properties) error {
	// Keep alive [MQTT-3.1.2-22, MQTT-3.2.2-21].
	n.KeepAlive = c.KeepAlive
	minKA, maxKA := durationSeconds16(p.KeepAlive.Min), durationSeconds16(p.KeepAlive.Max)
	ka := c.KeepAlive
	if maxKA > 0 && (ka == 0 || ka > maxKA) {
		ka = maxKA
	}
	if minKA > 0 && ka > 0 && ka < minKA {
		ka = minKA
	}
	if ka != c.KeepAlive {
		if c.Version != mqtt.V5 {
			// 3.x cannot be told a Server Keep Alive; refuse as Mosquitto
			// does, with "identifier rejected".
			return mqtt.Errorf(mqtt.ClientIdentifierNotValid, "", "keep alive %ds outside [%ds, %ds] and a %v client cannot be told another", c.KeepAlive, minKA, maxKA, c.Version)
		}
		n.KeepAlive, n.ServerKeepAlive = ka, true
	}

	// Session expiry.
	maxExpiry := uint32(math.MaxUint32)
	if s := p.MaxSessionExpiry / time.Second; s < math.MaxUint32 {
		maxExpiry = uint32(s)
	}
	switch {
	case c.Version == mqtt.V5:
		n.SessionExpiry = c.Properties.SessionExpiryInterval
	case !c.CleanStart:
		// A 3.x session without clean session lasts until the server's
		// limit.
		n.SessionExpiry = maxExpiry
	}
	if n.SessionExpiry > maxExpiry {
		n.SessionExpiry, n.SessionExpiryCapped = maxExpiry, true
	}

	// The server's limits, enforced on inbound packets.
	n.ServerMaxPacketSize = p.MaxPacketSize
	n.ServerReceiveMaximum = p.ReceiveMaximum
	n.ServerTopicAliasMaximum = p.TopicAliasMaximum
	n.MaximumQoS = p.MaximumQoS
	n.RetainAvailable = p.RetainAvailable
	n.WildcardAvailable = p.WildcardSubscriptionAvailable
	n.SubIDsAvailable = p.SubscriptionIdentifiersAvailable
	n.SharedAvailable = p.SharedSubscriptionAvailable

	// The client's limits, kept on outbound packets.
	n.ClientReceiveMaximum = 65535
	n.ProblemInfo = true
	if c.Version == mqtt.V5 {
		cp := &c.Properties
		if cp.Has(mqtt.PropReceiveMaximum) {
			n.ClientReceiveMaximum = cp.ReceiveMaximum
		}
		if cp.Has(mqtt.PropMaximumPacketSize) {
			n.ClientMaxPacketSize = cp.MaximumPacketSize
		}
		n.ClientTopicAliasMaximum = cp.TopicAliasMaximum
		if cp.Has(mqtt.PropRequestProblemInformation) {
			n.ProblemInfo = cp.RequestProblemInformation == 1
		}
		if cp.RequestResponseInformation == 1 && p.ResponseInformation != "" {
			n.ResponseInformation = p.ResponseInformation + n.ClientID
		}
	}
	n.OutboundTopicAliases = min(n.ClientTopicAliasMaximum, p.MaxOutboundTopicAliases)
	n.OutboundInflight = n.ClientReceiveMaximum
	if p.MaxInflight > 0 && p.MaxInflight < n.OutboundInflight {
		n.OutboundInflight = p.MaxInflight
	}

	if c.Version == mqtt.V5 {
		announce(n, ack)
		if len(p.userProps) > 0 && n.ProblemInfo {
			// User Property is left out without Request Problem
			// Information, like Reason String [MQTT-3.1.2-29].
			ack.UserProperties = p.userProps
		}
	}
	return nil
}

// announce fills the v5 CONNACK properties of a successful connect from
// what was negotiated: every limit the server keeps is stated.
func announce(n *Negotiated, ack *mqtt.Properties) {
	if n.SessionExpiryCapped {
		ack.SetUint32(mqtt.PropSessionExpiryInterval, n.SessionExpiry)
	}
	ack.SetUint16(mqtt.PropReceiveMaximum, n.ServerReceiveMaximum)
	if n.MaximumQoS < 2 {
		// [MQTT-3.2.2-9]
		ack.SetByte(mqtt.PropMaximumQoS, n.MaximumQoS)
	}
	ack.SetByte(mqtt.PropRetainAvailable, boolByte(n.RetainAvailable))
	if n.ServerMaxPacketSize < mqtt.MaxPacketSize {
		ack.SetUint32(mqtt.PropMaximumPacketSize, n.ServerMaxPacketSize)
	}
	if n.AssignedClientID {
		ack.SetString(mqtt.PropAssignedClientIdentifier, n.ClientID)
	}
	if n.ServerTopicAliasMaximum > 0 {
		ack.SetUint16(mqtt.PropTopicAliasMaximum, n.ServerTopicAliasMaximum)
	}
	ack.SetByte(mqtt.PropWildcardSubscriptionAvailable, boolByte(n.WildcardAvailable))
	ack.SetByte(mqtt.PropSubscriptionIdentifierAvailable, boolByte(n.SubIDsAvailable))
	ack.SetByte(mqtt.PropSharedSubscriptionAvailable, boolByte(n.SharedAvailable))
	if n.ServerKeepAlive {
		ack.SetUint16(mqtt.PropServerKeepAlive, n.KeepAlive)
	}
	if n.ResponseInformation != "" {
		ack.SetString(mqtt.PropResponseInformation, n.ResponseInformation)
	}
}

// connackUserProperties converts the configured CONNACK User Properties.
func connackUserProperties(ups []configs.UserProperty) []mqtt.UserProperty {
	out := make([]mqtt.UserProperty, len(ups))
	for i, u := range ups {
		out[i] = mqtt.UserProperty{Key: u.Key, Value: u.Value}
	}
	return out
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func durationSeconds16(d time.Duration) uint16 {
	s := d / time.Second
	if s > math.MaxUint16 {
		return math.MaxUint16
	}
	return uint16(s)
}

// newID makes a random client identifier of 0-9a-z characters only, so
// that it satisfies [MQTT-3.1.3-5] everywhere.
func newID() string {
	var b [15]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
