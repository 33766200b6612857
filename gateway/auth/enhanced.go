package auth

// Method is an MQTT 5 enhanced authentication method (MQTT 5.0 section
// 4.12), such as SCRAM-SHA-256 (gateway/auth/scram). The channel runs its
// exchanges: the AUTH packets of a CONNECT with an Authentication Method,
// and of a re-authentication. Start is called concurrently, once per
// exchange.
type Method interface {
	// Start begins one exchange.
	Start() Exchange
}

// Exchange is one run of a Method, a step per client message. It is used
// by one goroutine at a time (the channel's), never after it is done.
type Exchange interface {
	// Step takes the client's Authentication Data and returns the
	// server's. done says the exchange is over: with err nil the client
	// is authenticated and out is the final server data; err carries the
	// refusal's reason code. Not done: out goes in AUTH 0x18 Continue
	// authentication. Step does not block on the network.
	Step(data []byte) (out []byte, done bool, err error)
	// Username is the identity authenticated (valid once done).
	Username() string
}
