//go:build race

package gateway

// retainedFloodN is the number of retained messages TestRetainedFlood
// stores: fewer under the race detector, which slows each one tenfold.
const retainedFloodN = 20000
