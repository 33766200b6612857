package proto

import "edgemq/mqtt"

// Who ended a connection.
const (
	EndByClient   = "client"   // DISCONNECT from the client
	EndByServer   = "server"   // a protocol fault, keep alive, an expired credential
	EndByNetwork  = "network"  // the socket closed or failed without DISCONNECT
	EndByTakeover = "takeover" // another connection took the session over
	EndByKick     = "kick"     // an administrative action
	EndByDrain    = "drain"    // the server shutting down or redirecting
)

// End is how a connected client's connection ended.
type End struct {
	// Initiator is who ended it: one of the EndBy constants.
	Initiator string
	// Code is the reason code of the DISCONNECT sent or received, when
	// HasCode.
	Code    mqtt.ReasonCode
	HasCode bool
	// Err is the error that ended it, if any.
	Err error
}

// KickEnd classifies a server-side disconnection by its reason code.
func KickEnd(code mqtt.ReasonCode) End {
	e := End{Initiator: EndByServer, Code: code, HasCode: true}
	switch code {
	case mqtt.SessionTakenOver:
		e.Initiator = EndByTakeover
	case mqtt.ServerShuttingDown, mqtt.UseAnotherServer, mqtt.ServerMoved:
		e.Initiator = EndByDrain
	case mqtt.AdministrativeAction:
		e.Initiator = EndByKick
	}
	return e
}
